"""Accuracy of the ConvNet beside the nearest-template baseline, per defect variant of the paper, in one run.

Run: ``.venv/bin/python benchmarks/accuracy.py [--species Li Al ...] [--targets 64 128] [--epochs 48] [--seed 0]``.
Without AiiDA: builds the pristine set (``core.datasets``), trains on it (``ml.train_classifier``, random 75/25 split),
builds the defective set from the same pristine items (13 variants), and classifies every defective item with the
ConvNet and with the baseline (cosine similarity to the fingerprints of the four prototypes of ``--template-species``;
``aiida_crystalface.reproduce.baseline``). Prints one table: items, ConvNet and baseline accuracy per variant, and
the time of each step. The defaults are the quick mode of ``aiida-crystalface reproduce``; ``--species all`` with
``--targets`` omitted and ``--epochs 2`` is the paper's protocol (hours on 2 cores).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from aiida_crystalface.core import datasets
from aiida_crystalface.core.diffraction import FingerprintSettings
from aiida_crystalface.ml.training import train_classifier
from aiida_crystalface.reproduce.baseline import NearestTemplateClassifier
from aiida_crystalface.reproduce.config import MODES
from aiida_crystalface.reproduce.prototype_templates import template_images

QUICK = MODES['quick']


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--species', nargs='+', default=list(QUICK.species), help="symbols, or 'all'")
    parser.add_argument('--targets', nargs='+', type=int, default=list(QUICK.targets))
    parser.add_argument('--epochs', type=int, default=QUICK.epochs)
    parser.add_argument('--seed', type=int, default=0, help='data, split and training seed')
    parser.add_argument('--template-species', default=QUICK.template_species)
    return parser.parse_args()


def _scores(classifier, baseline, path: Path, indices=None) -> dict[str, tuple[int, float, float]]:
    """{variant: (items, ConvNet accuracy, baseline accuracy)} and an 'all' row."""
    with datasets.open_dataset(path) as data:
        indices = np.arange(len(data)) if indices is None else np.asarray(indices)
        images = data.get_images(indices)
        to_model = np.array([classifier.classes.index(c) for c in data.classes])
        labels = to_model[data.labels[indices]]
        kinds = data.metadata['defect_kind'][indices].astype(str)
        levels = data.metadata['defect_level'][indices]
    convnet = classifier.predict(images).argmax(axis=1) == labels
    nearest = baseline.predict_indices(images) == labels
    keys = np.array([k if k == 'pristine' else f'{k}={v:g}' for k, v in zip(kinds, levels, strict=True)])
    rows = {
        key: (int((keys == key).sum()), convnet[keys == key].mean(), nearest[keys == key].mean())
        for key in dict.fromkeys(keys)
    }
    rows['all'] = (len(keys), convnet.mean(), nearest.mean())
    return rows


def main() -> None:
    args = _arguments()
    species = None if args.species == ['all'] else args.species
    options = {'targets': args.targets} if args.targets else {}
    timings = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        start = time.perf_counter()
        datasets.build_pristine_dataset(
            folder / 'pristine.h5', seed=args.seed, species=species, progress=False, **options
        )
        timings['pristine set'] = time.perf_counter() - start
        start = time.perf_counter()
        result = train_classifier(folder / 'pristine.h5', folder / 'model', epochs=args.epochs, seed=args.seed)
        timings['training'] = time.perf_counter() - start
        start = time.perf_counter()
        datasets.build_defective_dataset(
            None, folder / 'defective.h5', seed=args.seed, species=species, pristine_options=options, progress=False
        )
        timings['defective set'] = time.perf_counter() - start
        classes, templates = template_images(FingerprintSettings(), args.template_species)
        baseline = NearestTemplateClassifier(
            templates[[classes.index(c) for c in result.classifier.classes]], result.classifier.classes
        )
        start = time.perf_counter()
        test = json_test_indices(folder / 'model' / 'metrics.json')
        rows = {
            'pristine test (random split)': _scores(result.classifier, baseline, folder / 'pristine.h5', test)['all']
        }
        rows.update(_scores(result.classifier, baseline, folder / 'defective.h5'))
        timings['classification'] = time.perf_counter() - start
    print(f'{"test set":32s} {"items":>7s} {"ConvNet":>8s} {"baseline":>9s}  remark')
    for name, (n, convnet, nearest) in rows.items():
        remark = 'ConvNet below baseline' if convnet < nearest else ''
        print(f'{name:32s} {n:7d} {100 * convnet:7.1f}% {100 * nearest:8.1f}%  {remark}')
    print('\n' + '  '.join(f'{name}: {seconds:.1f} s' for name, seconds in timings.items()))


def json_test_indices(path: Path) -> list[int]:
    import json

    return json.loads(path.read_text())['test_indices']


if __name__ == '__main__':
    main()
