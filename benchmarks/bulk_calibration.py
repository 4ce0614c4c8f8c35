"""Bulk-model candidates side by side on the *calibration* part: the figures a candidate is chosen on.

Run: ``.venv/bin/python benchmarks/bulk_calibration.py --cache PARTS MODEL [MODEL ...]`` (``PARTS``: the folder a
training run or ``python -m aiida_crystalface.ml.bulk --items ITEMS --items-only --cache PARTS`` wrote; the rules of
the models should have been fitted on it, by ``--recalibrate`` or ``--ensemble`` with the same ``--cache``).

Which data is which: every figure is from the calibration part, the part the decision rules are fitted on and the
part a new model is chosen on, with a criterion written before its training (docs/bulk.md). No test figure is
printed here; ``benchmarks/bulk_accuracy.py`` gives those, for a model once it is chosen. Columns:

- the outsider bound of the fitted rule and its calibration member and outsider errors (from the model file);
- cubic calibration crystals given a class: ``--cubic N`` (default 1000) one-element crystals in cubic space groups
  (:func:`~aiida_crystalface.core.bulkset.cubic_elemental_crystal`, seeds 0..N-1 of the calibration part, a
  population the rule is not fitted on); right is ``unknown``;
- one-site members right: calibration members of fcc, bcc and sc (one atom per lattice point, where damage and
  vacancy-ordered outsiders meet) that the model gives their class.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

ONE_SITE = ('fcc', 'bcc', 'sc')


def main(argv=None) -> int:
    from bulk_accuracy import fingerprints

    from aiida_crystalface.core.diffraction import FingerprintSettings
    from aiida_crystalface.ml.bulk import _load_part
    from aiida_crystalface.ml.classifier import Classifier

    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('models', nargs='+', help='model files (model.safetensors)')
    parser.add_argument('--cache', required=True, help='the folder with calibration.npz and calibration.json')
    parser.add_argument('--cubic', type=int, default=1000, help='cubic one-element calibration crystals')
    parser.add_argument('--seed', type=int, default=0, help='the split seed of the parts')
    args = parser.parse_args(argv)
    started = time.perf_counter()
    cache = Path(args.cache)
    images, targets, lattices = _load_part(cache, 'calibration')
    models = [Classifier.load(path) for path in args.models]
    names = models[0].classes
    cubic_images = cubic_lattices = None
    if args.cubic:
        from aiida_crystalface.core.bulkset import cubic_elemental_crystal

        settings = FingerprintSettings.from_dict(models[0].settings)
        cubic = [cubic_elemental_crystal(seed, 'calibration', args.seed) for seed in range(args.cubic)]
        cubic_images, _, cubic_lattices = fingerprints(cubic, settings, cache, f'cubic-calibration-{args.cubic}')
    one_site = np.isin(targets, [names.index(n) for n in ONE_SITE])
    print(
        f'calibration part of {cache}: {int((targets < len(names)).sum())} members, '
        f'{int((targets == len(names)).sum())} outsiders; {int(one_site.sum())} one-site members (fcc, bcc, sc)'
    )
    header = (
        f'{"model":<28} {"bound":>6} {"members wrong":>14} {"outsiders wrong":>16} | '
        f'{"cubic given a class":>20} | {"one-site right":>15}'
    )
    print(header)
    for path, model in zip(args.models, models, strict=True):
        if model.classes != names:
            raise SystemExit(f'{path}: its classes are not those of {args.models[0]}')
        record = model.open_set
        cubic_text = '-'
        if cubic_images is not None:
            answers = [a['label'] for a in model.decide(cubic_images, cubic_lattices)]
            wrong = sum(answer not in ('unknown', 'amorphous') for answer in answers)
            cubic_text = f'{wrong} of {len(answers)}'
        picked = np.flatnonzero(one_site)
        answers = model.decide(images[picked], [lattices[i] for i in picked])
        right = sum(a['label'] == names[targets[i]] for a, i in zip(answers, picked, strict=True))
        label = Path(path).parent.name or str(path)
        members, outsiders = record['calibration_member_error'], record['calibration_outsider_error']
        print(
            f'{label:<28} {100 * float(record.get("outsider_target") or 0):>5.1f}% '
            f'{100 * members:>13.2f}% {100 * outsiders:>15.2f}% | '
            f'{cubic_text:>20} | {f"{right} of {len(picked)}":>15}'
        )
    print(f'\n# {time.perf_counter() - started:.0f} s')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
