"""Per-atom classification on polycrystals, interfaces and nanoparticles: the bundled model beside OVITO's PTM.

Run: ``python benchmarks/local.py [--quick] [--out DIR] [--seed 0]`` (needs the ``benchmarks`` extra for PTM).

Structures (:mod:`aiida_crystalface.core.microstructures`, every one seeded):

- (a) a periodic Voronoi polycrystal of fcc Cu, 6 grains, 40 angstrom box, 0.1 and 0.2 angstrom Gaussian noise;
- (b) the same with 25 % vacancies and 0.1 angstrom noise;
- (c) a two-phase polycrystal, fcc Cu and bcc Fe grains alternating (0.1 angstrom);
- (d) a free fcc Cu sphere of radius 15 angstrom (0.1 angstrom);
- (e) a solid-liquid box, fcc Cu below an amorphous packing at the crystal's density (0.1 angstrom);
- (f) an hcp Mg polycrystal (0.1 angstrom): the model is run on it only if it has an 'hcp' class.

Methods: ``PTM`` (:mod:`_ptm`: OVITO's polyhedral template matching, default RMSD cutoff, FCC/HCP/BCC/SC/diamond
templates) and ``crystalface`` (``Classifier.pretrained().classify_atoms(atoms)``, where the installed package has
it). Scores count the interior atoms only, those more than 4 angstrom from every grain boundary, interface and free
surface (the generators' ``depth``), where the truth is not in doubt.

A second table times both methods and the whole-structure fingerprint on noisy fcc crystals of 10^4, 10^5 and 10^6
atoms (``--quick``: 10^4 and 10^5), each call in a fresh spawned process (after a warm-up call on a small crystal
there, so Numba's compilation and the model's loading are not counted), with the peak resident memory of the call
above the process's resident memory before it (Linux: the peak ``VmHWM`` is reset through ``/proc/self/clear_refs``
just before the call and read after it; elsewhere ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` after minus before,
which reads 0 for a call that stays below the process's earlier peak).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import importlib.util
import multiprocessing
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from aiida_crystalface.core import microstructures as ms

CU, FE, MG = ('Cu', 'fcc', 3.61), ('Fe', 'bcc', 2.87), ('Mg', 'hcp', 3.21)
NOT_A_CLASS = ('unknown', 'amorphous')
MIN_DEPTH = 4.0


def cases(seed: int) -> dict[str, Callable[[], ms.Microstructure]]:
    return {
        'a fcc poly 0.1A': lambda: ms.polycrystal(40.0, 6, (CU,), noise=0.1, seed=seed),
        'a fcc poly 0.2A': lambda: ms.polycrystal(40.0, 6, (CU,), noise=0.2, seed=seed),
        'b fcc poly vac25%': lambda: ms.polycrystal(40.0, 6, (CU,), noise=0.1, vacancies=0.25, seed=seed),
        'c fcc+bcc poly': lambda: ms.polycrystal(40.0, 6, (CU, FE), noise=0.1, seed=seed),
        'd Cu sphere r15': lambda: ms.nanoparticle('Cu', 'fcc', 3.61, radius=15.0, noise=0.1, seed=seed),
        'e solid-liquid': lambda: ms.solid_liquid((40.0, 40.0, 40.0), 'Cu', 'fcc', 3.61, noise=0.1, seed=seed),
        'f hcp Mg poly': lambda: ms.polycrystal(40.0, 6, (MG,), noise=0.1, seed=seed),
    }


def scores(truth: np.ndarray, predicted: np.ndarray) -> tuple[float, float, float]:
    """% right, % given a wrong class, % unknown (of the atoms given).

    A wrong class is a class label that is not the truth: 'unknown' and 'amorphous' are not one for a crystalline
    truth; for an amorphous truth, any crystal class is wrong.
    """
    right = predicted == truth
    wrong = ~right & ~np.isin(predicted, NOT_A_CLASS)
    unknown = predicted == 'unknown'
    return 100 * right.mean(), 100 * wrong.mean(), 100 * unknown.mean()


def _row(case: str, method: str, count: str, percents, rate: float | None) -> str:
    right, wrong, unknown = percents
    rate = f'{rate:9.0f}' if rate is not None else ''
    return f'{case:<18} | {method:<11} | {count:>10} | {right:7.1f} | {wrong:7.1f} | {unknown:7.1f} | {rate:>9}'


def crystalface_classifier():
    from aiida_crystalface.ml import Classifier

    return Classifier.pretrained()


def run_crystalface(classifier, atoms, precision: str = 'float32') -> tuple[np.ndarray, float]:
    started = time.perf_counter()
    result = classifier.classify_atoms(atoms, precision=precision)
    seconds = time.perf_counter() - started
    return np.asarray(result['labels'], dtype=str), len(atoms) / seconds


def run_ptm(atoms) -> tuple[np.ndarray, float]:
    from _ptm import ptm_labels

    labels, timing = ptm_labels(atoms)
    return np.asarray(labels, dtype=str), timing['atoms_per_s']


def write_slices(out: Path, key: str, structure: ms.Microstructure, predictions: dict[str, np.ndarray]) -> None:
    from aiida_crystalface.core.local_plots import plot_slice

    name = key.replace(' ', '_').replace('%', 'pc').replace('+', '_')
    positions = structure.atoms.get_positions()
    # the slab (normal x, 4 angstrom) where the true labels are most mixed: both phases of a two-phase structure
    x = positions[:, 0]
    centres = np.linspace(x.min() + 2, x.max() - 2, 9)

    def mixing(centre: float) -> float:
        _, counts = np.unique(structure.labels[np.abs(x - centre) <= 2.0], return_counts=True)
        return counts.min() * (len(counts) > 1)

    centre = float(max(centres, key=mixing))
    for method, labels in {'truth': structure.labels, **predictions}.items():
        if method == 'cf bf16':  # the same picture as crystalface's, to the atom on every case measured
            continue
        plot_slice(positions, labels, out / f'{name}_{method}.png', axis=0, centre=centre, title=f'{key}: {method}')


def accuracy_table(args) -> None:
    have_ptm = importlib.util.find_spec('ovito') is not None
    classifier = crystalface_classifier()
    columns = [
        ('case', 18, 'the structure (see the module docstring)'),
        ('method', 11, 'PTM (OVITO) or crystalface (Classifier.classify_atoms)'),
        ('interior', 10, f'atoms deeper than {MIN_DEPTH:g} angstrom below every boundary / surface (of all atoms)'),
        ('% right', 7, 'interior atoms given their true label'),
        ('% wrong', 7, "interior atoms given a class that is not theirs ('unknown'/'amorphous' are not classes)"),
        ('% unkn.', 7, "interior atoms labelled 'unknown'"),
        ('atoms/s', 9, 'all atoms of the structure per second of the method (wall clock, conversion excluded)'),
    ]
    print('Per-atom classification, interior atoms only. Methods: PTM (OVITO), crystalface (the bundled model,')
    print('Classifier.classify_atoms, default stride chosen on seed 1 by benchmarks/local_stride.py), cf bf16 (the')
    print('same with the network in bfloat16). Columns:')
    for name, _, meaning in columns:
        print(f'  {name:9} {meaning}')
    print()
    header = ' | '.join(
        f'{name:>{width}}' if i > 1 else f'{name:<{width}}' for i, (name, width, _) in enumerate(columns)
    )
    print(header)
    print('-' * len(header))
    out = Path(args.out) if args.out else None
    if out:
        out.mkdir(parents=True, exist_ok=True)
    notes = []
    # Compile the Numba kernels and warm the network up outside the timings (both precisions).
    from aiida_crystalface.core import microstructures as _warm

    for precision in ('float32', 'bfloat16'):
        run_crystalface(classifier, _warm.noisy_crystal(500, seed=args.seed).atoms, precision)
    for key, build in cases(args.seed).items():
        started = time.perf_counter()
        structure = build()
        built = time.perf_counter() - started
        interior = structure.interior(MIN_DEPTH)
        truth = structure.labels[interior]
        predictions = {}
        rows = []
        if have_ptm:
            labels, rate = run_ptm(structure.atoms)
            predictions['PTM'] = labels
            rows.append(('PTM', *scores(truth, labels[interior]), rate))
        else:
            rows.append(('PTM', 'ovito not installed'))
        if 'hcp' in set(structure.labels) and 'hcp' not in classifier.classes:
            rows.append(('crystalface', 'no hcp class in the model'))
        else:
            labels, rate = run_crystalface(classifier, structure.atoms)
            predictions['crystalface'] = labels
            rows.append(('crystalface', *scores(truth, labels[interior]), rate))
            labels, rate = run_crystalface(classifier, structure.atoms, 'bfloat16')
            predictions['cf bf16'] = labels
            rows.append(('cf bf16', *scores(truth, labels[interior]), rate))
        count = f'{int(interior.sum())}/{len(structure)}'
        kinds = sorted(set(truth))
        for row in rows:
            if len(row) == 2:
                print(f'{key:<18} | {row[0]:<11} | {count:>10} | {row[1]}')
                continue
            print(_row(key, row[0], count, row[1:4], row[4]))
            if len(kinds) > 1:  # each true class of a mixed structure on its own
                for kind in kinds:
                    mask = truth == kind
                    part = predictions[row[0]][interior][mask]
                    print(_row(f'  {kind}', row[0], str(int(mask.sum())), scores(truth[mask], part), None))
        notes.append(f'{key}: {len(structure)} atoms generated in {built:.2f} s')
        if out:
            write_slices(out, key, structure, predictions)
    print()
    print("PTM has no 'amorphous' answer: on amorphous truth (e) its 'unknown' is the right call, see % unkn.")
    print('The interior column is "interior/all"; every method sees the whole structure, the scores count the')
    print('interior. Indented rows: the interior atoms of one true class of a mixed structure.')
    for note in notes:
        print('  ' + note)
    if out:
        print(f'slices (truth and each method): {out}/*.png')


# -- scaling -----------------------------------------------------------------------------------------------------------


def _measure(method: str, n_atoms: int, seed: int) -> tuple[int, float, float]:
    """In a fresh process: warm up on a small crystal, then time ``method`` on ``n_atoms`` and its peak-RSS rise."""
    import resource

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from aiida_crystalface.core import microstructures

    def call(atoms):
        if method == 'fingerprint':
            from aiida_crystalface.core.diffraction import fingerprint

            fingerprint(atoms)
        elif method == 'PTM':
            run_ptm(atoms)
        else:
            run_crystalface(classifier, atoms)

    classifier = crystalface_classifier() if method == 'crystalface' else None
    call(microstructures.noisy_crystal(500, seed=seed).atoms)
    atoms = microstructures.noisy_crystal(n_atoms, seed=seed).atoms
    try:  # Linux: reset the peak (VmHWM) to the current RSS, so the peak after the call is the call's own
        Path('/proc/self/clear_refs').write_text('5')
        before = _status_kib('VmRSS')
        peak = lambda: _status_kib('VmHWM')  # noqa: E731
    except OSError:  # elsewhere: the process's peak so far (the call's rise above it; 0 if below)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        peak = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # noqa: E731
    started = time.perf_counter()
    call(atoms)
    seconds = time.perf_counter() - started
    return len(atoms), seconds, (peak() - before) / 1024


def _status_kib(field: str) -> int:
    for line in Path('/proc/self/status').read_text().splitlines():
        if line.startswith(field + ':'):
            return int(line.split()[1])
    raise OSError(f'no {field} in /proc/self/status')


def scaling_table(args) -> None:
    sizes = (10**4, 10**5) if args.quick else (10**4, 10**5, 10**6)
    methods = ['fingerprint']
    if importlib.util.find_spec('ovito') is not None:
        methods.append('PTM')
    methods.append('crystalface')
    print()
    print('Scaling on noisy fcc Cu crystals (0.1 angstrom). Columns: method; atoms; seconds of one call (wall clock,')
    print('after a warm-up call in the same fresh process); atoms/s; peak RSS of the call above the RSS before it,')
    print('in MiB (Linux VmHWM reset by /proc/self/clear_refs; a fresh spawned process per call).')
    print("'fingerprint' is core.diffraction.fingerprint(atoms): one image of the whole structure; PTM's seconds")
    print("include the conversion of the ase.Atoms to OVITO's data (the first table's atoms/s exclude it).")
    print()
    print(f'{"method":<12} | {"atoms":>8} | {"seconds":>8} | {"atoms/s":>9} | {"peak MiB":>8}')
    print('-' * 57)
    context = multiprocessing.get_context('spawn')
    for method in methods:
        for n in sizes:
            with concurrent.futures.ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
                future = pool.submit(_measure, method, n, args.seed)
                try:
                    atoms, seconds, peak = future.result(timeout=args.timeout)
                except concurrent.futures.TimeoutError:
                    print(f'{method:<12} | {n:>8} | over {args.timeout:.0f} s, stopped')
                    for process in pool._processes.values():  # the worker is ours; stop it by its handle
                        process.terminate()
                    continue
            print(f'{method:<12} | {atoms:>8} | {seconds:8.2f} | {atoms / seconds:9.0f} | {peak:8.0f}')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--quick', action='store_true', help='scaling up to 10^5 atoms only')
    parser.add_argument('--out', default=None, help='folder for the slice PNGs (none written without it)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--timeout', type=float, default=900.0, help='seconds allowed per scaling call')
    parser.add_argument('--no-scaling', action='store_true', help='the accuracy table only')
    args = parser.parse_args()
    accuracy_table(args)
    if not args.no_scaling:
        scaling_table(args)


if __name__ == '__main__':
    main()
