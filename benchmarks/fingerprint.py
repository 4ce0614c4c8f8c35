"""Fingerprints per second for 128-atom clusters: Numba kernels against the NumPy float64 reference, same run.

Run: ``.venv/bin/python benchmarks/fingerprint.py [--n 512]``. Prints one table; timings on a shared machine are
noisy, so each figure is the best of three repeats. The "any lattice" rows use ``orientation='standard'`` and
``channels=3`` (docs/fingerprint.md, "Any lattice"): six patterns per structure. ``fingerprints()`` builds the
clusters of one chunk while a second thread computes the images of the previous one; the row "not pipelined" is the
same call with the batch as one chunk (every cluster first, then every image), the baseline in the same run.
"""

from __future__ import annotations

import argparse
import time

import numba
import numpy as np
from ase.build import bulk

from aiida_crystalface.core import diffraction
from aiida_crystalface.core.cluster import build_cluster
from aiida_crystalface.core.diffraction import FingerprintSettings, fingerprint_clusters, fingerprints
from aiida_crystalface.core.ordering import arrangement_z
from aiida_crystalface.core.orientation import periodic_nn_distance
from aiida_crystalface.core.reference import reference_fingerprint
from aiida_crystalface.core.structures import to_atomic_structure

PROTOTYPES = [('fcc', 'Cu', 3.61), ('diamond', 'Si', 5.43), ('bcc', 'Fe', 2.87), ('sc', 'Po', 3.35)]
#: The setting of "any lattice" (docs/fingerprint.md): standard orientation, three channels.
ANY_LATTICE = FingerprintSettings(orientation='standard', channels=3)


def cells_of_128_atoms() -> list:
    """128-atom periodic cells of four cubic and four non-cubic crystals (the inputs of the any-lattice rows)."""
    from ase.build import make_supercell

    made = [
        (bulk('Cu', 'fcc', a=3.61, cubic=True), (2, 4, 4)),
        (bulk('Si', 'diamond', a=5.43, cubic=True), (2, 2, 4)),
        (bulk('Fe', 'bcc', a=2.87, cubic=True), (4, 4, 4)),
        (bulk('Po', 'sc', a=3.35), (4, 4, 8)),
        (bulk('Mg'), (4, 4, 4)),
        (bulk('Zn'), (4, 4, 4)),
        (bulk('In', 'bct', a=3.25, c=4.95), (4, 4, 8)),
        (bulk('Sn', 'bct', a=5.83, c=3.18), (4, 4, 4)),
    ]
    out = [
        to_atomic_structure(make_supercell(atoms, np.diag(reps)), label=atoms.get_chemical_formula())
        for atoms, reps in made
    ]
    assert all(len(s) == 128 for s in out), [len(s) for s in out]
    return out


def compound_cells_of_128_atoms() -> list:
    """128-atom periodic cells of six compounds (cubic, hexagonal and tetragonal): their lattice records carry the
    order test (``species_order_z``, :func:`aiida_crystalface.core.ordering.arrangement_z`), which crystals of one
    element skip."""
    from ase.build import make_supercell
    from ase.spacegroup import crystal

    made = [
        (bulk('NaCl', 'rocksalt', a=5.64, cubic=True), (2, 2, 4)),
        (bulk('CsCl', 'cesiumchloride', a=4.12), (4, 4, 4)),
        (bulk('GaAs', 'zincblende', a=5.65, cubic=True), (2, 2, 4)),
        (bulk('ZnO', 'wurtzite', a=3.25, c=5.21), (4, 4, 2)),
        (
            crystal(['Au', 'Cu'], [(0, 0, 0), (0, 0.5, 0.5)], spacegroup=221, cellpar=[3.75, 3.75, 3.75, 90, 90, 90]),
            (4, 4, 2),
        ),
        (
            crystal(['Cu', 'Au'], [(0, 0, 0), (0.5, 0.5, 0.5)], spacegroup=123, cellpar=[2.8, 2.8, 3.7, 90, 90, 90]),
            (4, 4, 4),
        ),
    ]
    out = [
        to_atomic_structure(make_supercell(atoms, np.diag(reps)), label=atoms.get_chemical_formula())
        for atoms, reps in made
    ]
    assert all(len(s) == 128 for s in out), [len(s) for s in out]
    return out


def not_pipelined(structures: list, settings: FingerprintSettings) -> None:
    """``fingerprints()`` with every cluster built before the first image (the batch as one chunk): the baseline of the
    pipeline, in which the image kernel of one chunk runs while the next chunk's clusters are built."""
    chunk = diffraction.PIPELINE_CHUNK
    diffraction.PIPELINE_CHUNK = len(structures)
    try:
        fingerprints(structures, settings)
    finally:
        diffraction.PIPELINE_CHUNK = chunk


def best_of(function, repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--n', type=int, default=512, help='structures per batch')
    args = parser.parse_args()
    settings = FingerprintSettings()
    rng = np.random.default_rng(0)
    cells = [to_atomic_structure(bulk(e, k, a=a), label=f'{e}-{k}') for k, e, a in PROTOTYPES]
    structures = [cells[i % 4] for i in range(args.n)]
    # Conventional cubic cells (orthogonal edges): the cluster step needs no spglib call (core/cluster.py).
    cubic = [to_atomic_structure(bulk(e, k, a=a, cubic=True), label=f'{e}-{k}') for k, e, a in PROTOTYPES]
    cubic_structures = [cubic[i % 4] for i in range(args.n)]
    clusters = [build_cluster(s) for s in cells]
    # Distinct clusters (small random displacements) so that nothing can be cached between structures.
    batch = [
        c.__class__(c.positions + rng.normal(0, 0.02, c.positions.shape), c.numbers, 1.0, None, (1, 1, 1))
        for c in (clusters[i % 4] for i in range(args.n))
    ]
    fingerprint_clusters(batch[:4], settings)  # compile / load the cache

    rows = []
    t = best_of(lambda: fingerprint_clusters(batch, settings))
    rows.append(('Numba kernel alone (fingerprint_clusters)', args.n / t, t / args.n * 1e3))
    spglib = FingerprintSettings(orientation='spglib')
    fast = FingerprintSettings(orientation='none')
    t = best_of(lambda: [build_cluster(s) for s in structures[:128]]) * args.n / 128
    rows.append(("cluster step alone, primitive cells ('lattice')", args.n / t, t / args.n * 1e3))
    t = best_of(lambda: [build_cluster(s, orientation='spglib') for s in structures[:128]]) * args.n / 128
    rows.append(("cluster step alone, primitive cells ('spglib')", args.n / t, t / args.n * 1e3))
    t = best_of(lambda: [build_cluster(s, orientation='none') for s in structures[:128]]) * args.n / 128
    rows.append(("cluster step alone ('none')", args.n / t, t / args.n * 1e3))
    large = cells_of_128_atoms()
    large_structures = [large[i % len(large)] for i in range(args.n)]
    mixed = [*cells, to_atomic_structure(bulk('Mg')), to_atomic_structure(bulk('In', 'bct', a=3.25, c=4.95))]
    any_clusters = [build_cluster(s, orientation='standard') for s in mixed]
    any_batch = [
        c.__class__(c.positions + rng.normal(0, 0.02, c.positions.shape), c.numbers, 1.0, None, (1, 1, 1))
        for c in (any_clusters[i % len(any_clusters)] for i in range(args.n))
    ]
    fingerprint_clusters(any_batch[:4], ANY_LATTICE)
    compounds = compound_cells_of_128_atoms()
    compound_structures = [compounds[i % len(compounds)] for i in range(args.n)]
    nn = {id(c): periodic_nn_distance(c) for c in compounds}

    def order_tests(items):
        for item in items:
            arrangement_z(item, nn[id(item)])

    order_tests(compounds)  # compile / load the cache
    timed = (  # (row, what is timed): every one makes args.n fingerprints
        ("fingerprints(): primitive cells ('lattice')", lambda: fingerprints(structures, settings)),
        ("fingerprints(): primitive cells ('spglib')", lambda: fingerprints(structures, spglib)),
        ("fingerprints(): conventional cells ('lattice')", lambda: fingerprints(cubic_structures, settings)),
        ("fingerprints(): conventional cells ('none')", lambda: fingerprints(cubic_structures, fast)),
        ("fingerprints(): 128-atom cells ('lattice')", lambda: fingerprints(large_structures, settings)),
        ('Numba kernel alone, any lattice (3 channels)', lambda: fingerprint_clusters(any_batch, ANY_LATTICE)),
        ('fingerprints(): primitive cells (any lattice)', lambda: fingerprints(structures, ANY_LATTICE)),
        ('fingerprints(): 128-atom cells (any lattice)', lambda: fingerprints(large_structures, ANY_LATTICE)),
        ('  the same, not pipelined (one chunk)', lambda: not_pipelined(large_structures, ANY_LATTICE)),
        ('fingerprints(): 128-atom compounds (any lattice)', lambda: fingerprints(compound_structures, ANY_LATTICE)),
        ('  of which the order test alone (arrangement_z)', lambda: order_tests(compound_structures)),
    )
    for row, run in timed:
        t = best_of(run)
        rows.append((row, args.n / t, t / args.n * 1e3))
    n_ref = 8
    t = best_of(lambda: [reference_fingerprint(c.positions, c.numbers, settings) for c in batch[:n_ref]], 2)
    reference_rate = n_ref / t
    rows.append(('NumPy float64 reference (reference.py)', reference_rate, t / n_ref * 1e3))

    errors = [
        np.abs(
            fingerprint_clusters([c], settings)[0] - (r := reference_fingerprint(c.positions, c.numbers, settings))
        ).max()
        / r.max()
        for c in batch[:n_ref]
    ]
    print(f'128-atom clusters, 64 x 64 detector, {numba.get_num_threads()} Numba threads, batch of {args.n}')
    print(f'{"what":<48} {"per second":>11} {"ms each":>9} {"vs NumPy":>9}')
    for name, rate, ms in rows:
        print(f'{name:<48} {rate:>11.1f} {ms:>9.3f} {rate / reference_rate:>8.1f}x')
    print("any lattice: orientation='standard', channels=3 (six patterns per structure; cubic, hcp and bct inputs)")
    print('compounds: rocksalt, CsCl, zincblende, wurtzite, L1_2, L1_0 (the order test runs on several elements only)')
    print(f'max |D - D_ref| / max D_ref over {n_ref} clusters: {max(errors):.2e}')


if __name__ == '__main__':
    main()
