"""ConvNet speed: training time of the paper's protocol and inference throughput, with baselines from the same run.

Run: ``.venv/bin/python benchmarks/ml.py --dataset pristine.h5`` (the pristine set of
``build_pristine_dataset(path, seed=0)``). Without ``--dataset`` a synthetic set of 6,000 random images stands in
(timings do not depend on the image content). ``--inference-only`` skips the training rows. Prints one table.

The bulk model's rows (:mod:`aiida_crystalface.ml.bulk`: three-channel input, the widened layers, 60 outputs) use
``--bulk-model PATH`` when given, else a seeded random-weight network of that architecture (the cost does not depend
on the weights), on random three-channel images. The paper: 30 minutes of training on a quad-core i7,
about 70 ms per predicted image. Goals here: under 2 minutes of training, at least 500 images/s, on 2 cores.

Baselines (same run): a plain PyTorch loop in NCHW float32 for training (what the layers give without the
channels_last layout), and one image at a time in NCHW float32 for inference (the paper's per-image use).
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F  # noqa: N812

from aiida_crystalface.core.datasets import DatasetWriter, open_dataset
from aiida_crystalface.ml.classifier import Classifier
from aiida_crystalface.ml.convnet import ConvNet
from aiida_crystalface.ml.training import train_classifier

CLASSES = ['fcc', 'diamond', 'bcc', 'sc']


def synthetic_dataset(path: Path, n: int = 6000) -> Path:
    rng = np.random.default_rng(0)
    with DatasetWriter(path, CLASSES, None) as writer:
        writer.append(rng.random((n, 64, 64), dtype=np.float32), np.arange(n) % 4, {'species': np.arange(n) % 50})
    return path


def plain_training_seconds(images: np.ndarray, labels: np.ndarray, epochs: int = 2, batch: int = 32) -> float:
    """The paper's protocol as a bare NCHW float32 PyTorch loop (no Lightning, no channels_last)."""
    torch.manual_seed(0)
    net = ConvNet(4)
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    x, y = torch.from_numpy(images).unsqueeze(1), torch.from_numpy(labels)
    start = time.perf_counter()
    for _ in range(epochs):
        for index in torch.randperm(len(x)).split(batch):
            loss = F.cross_entropy(net(x[index]), y[index])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return time.perf_counter() - start


def per_image_rate(classifier: Classifier, images: np.ndarray) -> float:
    net = classifier.net.to(memory_format=torch.contiguous_format)
    start = time.perf_counter()
    with torch.inference_mode():
        for image in images:
            net(torch.from_numpy(image)[None, None]).softmax(1)
    rate = len(images) / (time.perf_counter() - start)
    classifier.net.to(memory_format=torch.channels_last)
    return rate


def best_rate(function, n: int, repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return n / min(times)


def fingerprint_rate(n: int = 64) -> float:
    from ase.build import bulk

    from aiida_crystalface.core.diffraction import fingerprints

    cells = [bulk('Cu', 'fcc', a=3.61), bulk('Si', 'diamond', a=5.43), bulk('Fe', 'bcc', a=2.87)]
    structures = [cells[i % 3] for i in range(n)]
    fingerprints(structures[:3])  # compile / load the Numba cache
    return best_rate(lambda: fingerprints(structures), n, repeats=2)


def bulk_classifier(path: Path | None) -> tuple[Classifier, str]:
    """The bulk model from ``path``, else a seeded random-weight network of its architecture."""
    if path is not None:
        return Classifier.load(path), path.parent.name
    from aiida_crystalface.core.classes import BULK_CLASSES
    from aiida_crystalface.core.diffraction import FingerprintSettings
    from aiida_crystalface.ml.bulk import BULK_DENSE, BULK_FILTERS, BULK_SETTINGS

    torch.manual_seed(0)
    net = ConvNet(len(BULK_CLASSES) + 1, in_channels=3, filters=BULK_FILTERS, dense=BULK_DENSE)
    classes = [*BULK_CLASSES, 'extra']  # the 60th output, as 'other' is in the trained model
    return Classifier(net, classes, FingerprintSettings(**BULK_SETTINGS)), 'random weights, its architecture'


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--dataset', type=Path, default=None, help='the pristine dataset file')
    parser.add_argument('--precisions', nargs='+', default=['32-true', 'bf16-mixed'], help='Lightning precisions')
    parser.add_argument(
        '--baseline-fraction',
        type=float,
        default=1.0,
        help='time the plain loop on this fraction of the training set and scale up (0: skip it)',
    )
    parser.add_argument('--inference-only', action='store_true', help='skip the training rows')
    parser.add_argument('--bulk-model', type=Path, default=None, help='a bulk model file (default: random weights)')
    args = parser.parse_args()
    if args.inference_only:
        args.precisions, args.baseline_fraction = args.precisions[:1], 0.0
    logging.getLogger('pytorch_lightning').setLevel(logging.WARNING)
    work = Path(tempfile.mkdtemp(prefix='crystalface-bench-'))
    dataset = args.dataset or synthetic_dataset(work / 'synthetic.h5')
    with open_dataset(dataset) as data:
        images, labels, n_items = data.get_images(), data.labels, len(data)
    n_train = n_items - round(0.25 * n_items)
    rows = []
    for precision in args.precisions:
        start = time.perf_counter()
        result = train_classifier(
            dataset, work / precision, precision=precision, seed=0, max_steps=1 if args.inference_only else -1
        )
        seconds = time.perf_counter() - start
        if args.inference_only:
            continue
        accuracy = f'test acc {result.metrics["test_accuracy"]:.4f}'
        rows.append((f'train_classifier, paper protocol, {precision}', f'{seconds:.1f} s', accuracy))
    if args.baseline_fraction > 0:
        n_base = round(args.baseline_fraction * n_train)
        order = np.random.default_rng(0).permutation(n_items)[:n_base]
        seconds = plain_training_seconds(images[order], labels[order]) * n_train / n_base
        note = 'training only' + (f', timed on {n_base} images and scaled' if n_base < n_train else '')
        rows.append(('baseline: plain NCHW float32 loop, same protocol', f'{seconds:.1f} s', note))
    classifier = Classifier.load(work / args.precisions[0] / 'model.safetensors')
    sample = images[:2048]
    rate = best_rate(lambda: classifier.predict(sample), len(sample))
    rows.append(('Classifier.predict, float32, batch 512', f'{rate:.0f} img/s', f'{1e3 / rate:.2f} ms/img'))
    bf16 = best_rate(lambda: classifier.predict(sample, precision='bfloat16'), len(sample))
    agree = (classifier.predict(sample).argmax(1) == classifier.predict(sample, precision='bfloat16').argmax(1)).mean()
    rows.append(('Classifier.predict, bfloat16 autocast', f'{bf16:.0f} img/s', f'labels agree {agree:.4f}'))
    single = per_image_rate(classifier, images[:200])
    rows.append(('baseline: one image at a time, NCHW float32', f'{single:.0f} img/s', f'{1e3 / single:.2f} ms/img'))
    bulk, bulk_name = bulk_classifier(args.bulk_model)
    sample3 = np.random.default_rng(1).random((2048, 3, 64, 64), dtype=np.float32)
    rate3 = best_rate(lambda: bulk.predict(sample3), len(sample3))
    note3 = f'{1e3 / rate3:.2f} ms/img; {bulk_name}'
    rows.append(('bulk ConvNet (3 channels, 60 outputs), float32', f'{rate3:.0f} img/s', note3))
    bf3 = best_rate(lambda: bulk.predict(sample3, precision='bfloat16'), len(sample3))
    agree3 = (bulk.predict(sample3).argmax(1) == bulk.predict(sample3, precision='bfloat16').argmax(1)).mean()
    rows.append(('bulk ConvNet, bfloat16 autocast', f'{bf3:.0f} img/s', f'labels agree {agree3:.4f}'))
    fp_rate = fingerprint_rate()
    rows.append(
        ('fingerprints() of bulk cells (for comparison)', f'{fp_rate:.0f} img/s', f'{1e3 / fp_rate:.2f} ms/img')
    )
    print(f'{n_items} images ({n_train} for training, 2 epochs, batch 32); torch threads: {torch.get_num_threads()}')
    print(f'{"what":<52} {"result":>12}   note')
    for name, value, note in rows:
        print(f'{name:<52} {value:>12}   {note}')


if __name__ == '__main__':
    main()
