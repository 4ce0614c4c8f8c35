"""How the default stride of the per-atom windows was chosen: accuracy and speed against the stride.

Run on seed 1 of the generators (``core.microstructures``); ``benchmarks/local.py`` reports on seed 0, which this
choice never saw. Prints, for each stride (in nearest-neighbour distances), the share of interior atoms (more than
4 A from a boundary) right and given a wrong class, and atoms per second, per case.

    python benchmarks/local_stride.py [--strides 2 2.5 3 3.5 4] [--seed 1]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from aiida_crystalface.core import microstructures as ms
from aiida_crystalface.ml import Classifier


def cases(seed: int):
    cu, fe = ('Cu', 'fcc', 3.61), ('Fe', 'bcc', 2.87)
    return {
        'fcc poly 0.1A': ms.polycrystal(noise=0.1, seed=seed),
        'fcc poly 0.2A': ms.polycrystal(noise=0.2, seed=seed),
        'fcc poly vac25%': ms.polycrystal(noise=0.1, vacancies=0.25, seed=seed),
        'fcc+bcc poly': ms.polycrystal(phases=(cu, fe), noise=0.1, seed=seed),
        'solid-liquid': ms.solid_liquid(noise=0.1, seed=seed),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--strides', type=float, nargs='+', default=[2.0, 2.5, 3.0, 3.5, 4.0])
    parser.add_argument('--seed', type=int, default=1)
    parser.add_argument('--candidates', type=int, default=None, help='windows an atom may join (core.local)')
    args = parser.parse_args()
    if args.candidates is not None:
        from aiida_crystalface.core import local

        local.CANDIDATES = args.candidates
    classifier = Classifier.pretrained()
    structures = cases(args.seed)
    classifier.classify_atoms(structures['fcc poly 0.1A'].atoms)  # compile the kernels outside the timings
    from aiida_crystalface.core import local

    print(f'candidates {local.CANDIDATES}; seed {args.seed}; per case: % of interior atoms right / % given a wrong')
    print('class; atoms/s over all cases')
    print(f'{"stride":>6} | ' + ' | '.join(f'{name:>15}' for name in structures) + ' |   atoms/s')
    for stride in args.strides:
        cells, atoms, seconds = [], 0, 0.0
        for structure in structures.values():
            started = time.perf_counter()
            labels = np.array(classifier.classify_atoms(structure.atoms, stride=stride)['labels'])
            seconds += time.perf_counter() - started
            atoms += len(labels)
            inner = structure.depth > 4.0
            truth, got = structure.labels[inner], labels[inner]
            crystal = np.isin(got, classifier.classes)
            wrong = (crystal & (got != truth)) | ((truth == 'amorphous') & crystal)
            cells.append(f'{100 * np.mean(got == truth):6.1f} / {100 * np.mean(wrong):4.1f}')
        print(f'{stride:6.2f} | ' + ' | '.join(f'{cell:>15}' for cell in cells) + f' | {atoms / seconds:9.0f}')


if __name__ == '__main__':
    main()
