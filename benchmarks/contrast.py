"""How far an ordered compound's fingerprint lies from its species-blind parent's, against the species' contrast.

Run: ``.venv/bin/python benchmarks/contrast.py [--per-class 40] [--seed 0]``. This is the measurement behind
:data:`aiida_crystalface.core.bulkset.MIN_RELATIVE_CONTRAST` (docs/bulk.md, "Species that scatter alike").

For the binary classes whose species-blind parent is another class (CsCl / bcc, rocksalt / sc, zincblende /
diamond, wurtzite / lonsdaleite, L1_2 / fcc), species tuples of the **calibration** part only (the elements of
:func:`aiida_crystalface.core.openset.open_set_split`'s calibration part, none of the test part; every contrast,
before the filter), pristine conventional supercells. Each tuple gives three figures on the standard three-channel
fingerprint (``FingerprintSettings(orientation='standard', channels=3)``), each a relative L2 distance:

- ``signal``: the compound against the same crystal with every atom given the first species (its parent);
- ``signal 25 %``: the same with 25 % vacancies on both (the superlattice reflections survive damage);
- ``noise``: the parent with 25 % vacancies against the pristine parent (what damage alone changes).

Rows are bins of the relative contrast ``|Z_A - Z_B| / (Z_A + Z_B)`` (superlattice reflections scale with
``(f_A - f_B)^2`` against ``(f_A + f_B)^2``). The rule read off the table: the smallest contrast bin from which the
mean signal is at least half the mean noise.
"""

from __future__ import annotations

import argparse

import numpy as np

from aiida_crystalface.core.bulkset import bulk_member
from aiida_crystalface.core.classes import species_choices
from aiida_crystalface.core.diffraction import FingerprintSettings, fingerprints
from aiida_crystalface.core.openset import open_set_split
from aiida_crystalface.core.structures import atomic_number

PAIRS = {'cscl': 'bcc', 'rocksalt': 'sc', 'zincblende': 'diamond', 'wurtzite': 'lonsdaleite', 'l1_2': 'fcc'}
BIN = 0.05


def relative_contrast(species) -> float:
    a, b = sorted(atomic_number(s) for s in species)
    return (b - a) / (b + a)


def blind(structure):
    return structure.replace(numbers=np.full(len(structure.numbers), structure.numbers[0]))


def distance(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.astype(np.float64), b.astype(np.float64)
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--per-class', type=int, default=40, help='calibration species tuples drawn per class')
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args()
    split = open_set_split(args.seed)
    calibration, test = set(split['calibration']['species']), set(split['test']['species'])
    settings = FingerprintSettings(orientation='standard', channels=3)
    rng = np.random.default_rng(args.seed)
    rows = []
    for name in PAIRS:
        combos = [c for c in species_choices(name) if set(c) & calibration and not set(c) & test]
        pick = [combos[i] for i in rng.choice(len(combos), min(args.per_class, len(combos)), replace=False)]
        structures = []
        for species in pick:
            pristine = bulk_member(name, species, 'pristine', 'conventional', args.seed)
            damaged = bulk_member(name, species, 'vacancies 25 %', 'conventional', args.seed)
            structures += [pristine, blind(pristine), damaged, blind(damaged)]
        f = fingerprints(structures, settings)
        for k, species in enumerate(pick):
            p, pb, d, db = f[4 * k : 4 * k + 4]
            rows.append((relative_contrast(species), distance(p, pb), distance(d, db), distance(db, pb)))
    rows = np.array(rows)
    bins = np.floor(rows[:, 0] / BIN).astype(int)
    print(f'{len(rows)} calibration species tuples of {", ".join(PAIRS)} (seed {args.seed})')
    print(f'{"relative contrast":>18} {"n":>4} {"signal":>8} {"signal 25 %":>12} {"noise":>8} {"signal/noise":>13}')
    chosen = None
    for b in sorted(set(bins)):
        sel = rows[bins == b]
        signal, damaged, noise = sel[:, 1].mean(), sel[:, 2].mean(), sel[:, 3].mean()
        ratio = signal / noise
        low = f'{b * BIN:>8.2f} - {(b + 1) * BIN:<7.2f}'
        print(f'{low} {len(sel):>4} {signal:>8.3f} {damaged:>12.3f} {noise:>8.3f} {ratio:>13.2f}')
        if chosen is None and ratio >= 0.5:
            chosen = b * BIN
        elif chosen is not None and ratio < 0.5:
            chosen = None  # the rule wants every bin above the chosen one to pass too
    rule = 'no bin passes' if chosen is None else f'{chosen:.2f}'
    print(f'smallest contrast from which every bin has signal >= noise / 2: {rule}')


if __name__ == '__main__':
    main()
