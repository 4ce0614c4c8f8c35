"""Cubic one-element outsiders of the *test* part, any seed range: how many each model gives a class.

Run: ``.venv/bin/python benchmarks/bulk_cubic.py --start 500 --count 1000 MODEL [MODEL ...]`` (a bundled model's name
or a model file; about 3 minutes for 1000 crystals and three models on 2 cores).

Which data is which: :func:`~aiida_crystalface.core.bulkset.cubic_elemental_crystal` of the test part (elements no
training or calibration crystal had), seeds ``start`` .. ``start + count - 1``. ``benchmarks/bulk_accuracy.py``
uses seeds 0..499; a range that starts above them is a population no decision was made on (docs/bulk.md, "The
disorder rescue"). Right is ``unknown`` (or ``amorphous``); the row says how many got a class, and which.
"""

from __future__ import annotations

import argparse
import collections
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> int:
    from bulk_accuracy import fingerprints, top

    from aiida_crystalface.core.bulkset import cubic_elemental_crystal
    from aiida_crystalface.core.diffraction import FingerprintSettings
    from aiida_crystalface.ml.classifier import Classifier

    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('models', nargs='+', help='bundled model names or model files')
    parser.add_argument('--start', type=int, default=500, help='first seed (default 500: after bulk_accuracy.py)')
    parser.add_argument('--count', type=int, default=1000)
    parser.add_argument('--seed', type=int, default=0, help='the split seed of the parts')
    parser.add_argument('--cache', type=Path, help='folder for the fingerprints (reused when present)')
    args = parser.parse_args()
    started = time.perf_counter()
    crystals = [cubic_elemental_crystal(seed, 'test', args.seed) for seed in range(args.start, args.start + args.count)]
    print(f'# test part, cubic one-element crystals, seeds {args.start}..{args.start + args.count - 1}')
    print(f'{"model":<28} {"given a class":>16} | answers (count)')
    for name in args.models:
        model = Classifier.load(name) if Path(name).is_file() else Classifier.pretrained(name)
        settings = FingerprintSettings.from_dict(model.settings)
        tag = f'cubic-{args.start}-{args.count}-{settings.hash[:8]}'
        images, ok, lattices = fingerprints(crystals, settings, args.cache, tag)
        labels = [answer['label'] for answer in model.decide(images, lattices)] if len(ok) else []
        given = collections.Counter(label for label in labels if label not in ('unknown', 'amorphous'))
        n = sum(given.values())
        label = Path(name).parent.name if Path(name).is_file() else name
        text = ', '.join(f'{answer} {count}' for answer, count in top(given, 8))
        print(f'{label:<28} {f"{n} of {len(ok)} ({100 * n / max(len(ok), 1):.1f} %)":>16} | {text}')
    print(f'\n# {time.perf_counter() - started:.0f} s')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
