"""Defective structures in any cell and orientation: accuracy of the bundled model, the cost of the orientation step.

Run: ``.venv/bin/python benchmarks/orientation.py [--species-step 4] [--samples 2] [--seed 0]``.

For every fourth species of the pristine grid (``--species-step``), in its class (fcc, diamond, bcc or sc), one
defective periodic structure per sample and defect level (10 % and 50 % vacancies; 0.15 angstrom Gaussian
displacements) is built on a conventional supercell of at least 108 sites, and presented as

- (a) that conventional supercell,
- (b) the same crystal in a supercell of the primitive cell (2n primitive vectors; sc: n),
- (c) (a) and (b), each rigidly rotated at random (cell and positions).

Each presentation is fingerprinted with the default settings (orientation ``'lattice'``) and classified by the
bundled model (a structure in which no lattice is found gets no class, and counts as wrong); the table gives the
accuracy per level and presentation, beside the same with the fallback rule of before this step
(``orientation='spglib'``: spglib's standard cell when it finds a cubic group, otherwise the cell as given) as the
baseline. A second table gives the cost per structure of the orientation step alone (``lattice_of`` on validated
input) beside the rest of the fingerprint (validation, cluster, image), for the (a) and (b) presentations of the
10 %-vacancy set, and the cost of the whole fingerprint with spglib's standardisation on the same structures.
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import numpy as np

from aiida_crystalface.core.cluster import build_cluster
from aiida_crystalface.core.defects import displacements, vacancies
from aiida_crystalface.core.diffraction import FingerprintSettings, fingerprint_batch, fingerprint_clusters
from aiida_crystalface.core.orientation import lattice_of
from aiida_crystalface.core.prototypes import CLASSES, default_species, prototype
from aiida_crystalface.core.structures import supercell
from aiida_crystalface.ml import Classifier

LEVELS = (('vacancies 10 %', 0.1, 0.0), ('vacancies 50 %', 0.5, 0.0), ('displacements 0.15 A', 0.0, 0.15))
REPEATS = {'fcc': 3, 'diamond': 3, 'bcc': 4, 'sc': 5}  # conventional supercell: 108, 216, 128, 125 sites


def rotation(rng: np.random.Generator) -> np.ndarray:
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return q


def presentations(species: str, label: str, vacancy: float, sigma: float, seed: int) -> dict:
    n = REPEATS[label]
    structure = supercell(prototype(species, label), n)
    if vacancy:
        structure = vacancies(structure, vacancy, seed=seed)
    if sigma:
        structure = displacements(structure, sigma, seed=seed)
    primitive = prototype(species, label, representation='primitive').cell
    factor = n if label == 'sc' else 2 * n
    matrix = np.round((factor * primitive) @ np.linalg.inv(structure.cell)).astype(int)
    in_primitive = supercell(structure, matrix)
    rng = np.random.default_rng(seed)
    turn = [rotation(rng) for _ in range(2)]
    return {
        '(a) conventional': structure,
        '(b) primitive': in_primitive,
        '(c) rotated': [
            s.replace(cell=s.cell @ q.T, positions=s.positions @ q.T)
            for s, q in zip((structure, in_primitive), turn, strict=True)
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--species-step', type=int, default=4, help='every n-th species of the pristine grid')
    parser.add_argument('--samples', type=int, default=2, help='defect draws per species, class and level')
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args()

    classifier = Classifier.pretrained()
    settings = FingerprintSettings.from_dict(classifier.settings)
    baseline = dataclasses.replace(settings, orientation='spglib')
    species = default_species()[:: args.species_step]
    print(f'bundled model {classifier.settings_hash}; {len(species)} species x 4 classes x {args.samples} samples')

    rows, timing_sets = [], {'(a) conventional': [], '(b) primitive': []}
    start = time.perf_counter()
    for name, vacancy, sigma in LEVELS:
        sets: dict[str, list] = {}
        labels: dict[str, list] = {}
        for s_index, symbol in enumerate(species):
            for c_index, label in enumerate(CLASSES):
                for sample in range(args.samples):
                    seed = args.seed + 1000 * s_index + 100 * c_index + sample
                    for key, value in presentations(symbol, label, vacancy, sigma, seed).items():
                        items = value if isinstance(value, list) else [value]
                        sets.setdefault(key, []).extend(items)
                        labels.setdefault(key, []).extend([label] * len(items))
                        if vacancy == 0.1 and key in timing_sets:
                            timing_sets[key].extend(items)
        for key, structures in sets.items():
            cells = []
            for rule in (settings, baseline):
                result = fingerprint_batch(structures, rule)
                predicted = np.array(classifier.classes)[classifier.predict(result.images).argmax(axis=1)]
                # A structure in which no lattice is found gets no class (never a confident one): it counts as wrong.
                refused = [lattice is not None and not lattice['lattice_found'] for lattice in result.lattices]
                predicted = np.where(refused, 'no lattice', predicted)
                truth = np.array(labels[key])[result.ok]
                cells.append(f'{np.mean(predicted == truth) * 100:6.1f} %')
                if rule is settings:
                    found = np.mean([lattice['lattice_found'] for lattice in result.lattices]) * 100
                    score = np.mean([lattice['lattice_score'] for lattice in result.lattices])
            rows.append((name, key, len(structures), *cells, f'{found:5.1f} %', f'{score:.2f}'))
    print(f'(built, fingerprinted and classified in {time.perf_counter() - start:.0f} s)\n')
    header = ('defect', 'presentation', 'items', "accuracy 'lattice'", "baseline 'spglib'", 'lattice found', 'score')
    widths = [22, 18, 6, 19, 18, 14, 6]
    print(' | '.join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    print('-+-'.join('-' * w for w in widths))
    for row in rows:
        print(' | '.join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)))

    print('\ncost per structure (ms), 10 % vacancies, best of 3 passes')
    print(f'{"presentation":18} | {"atoms":>6} | {"lattice_of":>12} | {"rest of image":>13} | {"spglib path":>11}')
    for key, structures in timing_sets.items():
        atoms = np.mean([len(s) for s in structures])

        def best(function, structures=structures):
            times = []
            for _ in range(3):
                t0 = time.perf_counter()
                function(structures)
                times.append(time.perf_counter() - t0)
            return min(times) / len(structures) * 1e3

        validated = [s.validate() for s in structures]
        t_lattice = best(lambda ss: [lattice_of(s) for s in ss], validated)  # the step alone, input validated
        t_all = best(lambda ss: fingerprint_clusters([build_cluster(s) for s in ss], settings))
        t_spglib = best(lambda ss: fingerprint_clusters([build_cluster(s, orientation='spglib') for s in ss], baseline))
        print(f'{key:18} | {atoms:6.0f} | {t_lattice:12.2f} | {t_all - t_lattice:13.2f} | {t_spglib:11.2f}')


if __name__ == '__main__':
    main()
