"""The Numba kernels of the local lattice search give what the numpy and scipy code they replace gave."""

from __future__ import annotations

import itertools

import numpy as np
from scipy.spatial import cKDTree

from aiida_crystalface.core import _kernels, local


def _modes_numpy(vectors, owners, radius, seeds=8):
    """The numpy / k-d tree version of :func:`local._modes` that the kernel replaced."""
    tree = cKDTree(vectors)
    candidates = vectors[owners < seeds]
    counts = tree.query_ball_point(candidates, radius, return_length=True)
    order = np.argsort(-counts, kind='stable')
    keep = _kernels.greedy_modes(np.ascontiguousarray(candidates[order]), 0.5)
    modes = candidates[order][keep]
    members = tree.query_ball_point(modes, radius)
    sizes = np.array([len(m) for m in members], dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    sums = np.add.reduceat(vectors[np.concatenate(members).astype(np.int64)], starts, axis=0)
    centres = (sums / sizes[:, None]).reshape(-1, 3)
    populations = tree.query_ball_point(centres, radius, return_length=True)
    order = np.argsort(-populations, kind='stable')
    centres, populations = centres[order], populations[order]
    distinct = _kernels.greedy_modes(np.ascontiguousarray(centres), 0.5)
    return centres[distinct], populations[distinct]


def test_pair_modes_match_the_k_d_tree_version():
    rng = np.random.default_rng(3)
    lattice = np.array([[0.0, 0.5, 0.5], [0.5, 0.0, 0.5], [0.5, 0.5, 0.0]]) * np.sqrt(2)
    translations = np.array([[i, j, k] for i in range(-2, 3) for j in range(-2, 3) for k in range(-2, 3)]) @ lattice
    translations = translations[
        (np.linalg.norm(translations, axis=1) > 0.5) & (np.linalg.norm(translations, axis=1) < 1.9)
    ]
    for noise in (0.0, 0.05, 0.15, 0.6):  # a crystal's piles, noisier ones, a liquid-like cloud
        owners = np.repeat(np.arange(40), len(translations))
        vectors = np.tile(translations, (40, 1)) + rng.normal(0.0, noise, (len(owners), 3))
        drop = rng.random(len(owners)) < 0.2  # vacancies
        vectors, owners = vectors[~drop], owners[~drop]
        expected = _modes_numpy(vectors, owners, local.MODE_RADIUS)
        got = local._modes(vectors, owners, local.MODE_RADIUS)
        np.testing.assert_array_equal(got[1], expected[1])
        np.testing.assert_allclose(got[0], expected[0], rtol=0, atol=1e-12)


def _smallest_cell_numpy(short):
    """The numpy version of the triple search of :func:`local._candidate_cell` that the kernel replaced."""
    i, j, k = np.array(list(itertools.combinations(range(len(short)), 3)), dtype=np.int64).reshape(-1, 3).T
    volumes = np.abs(np.einsum('ij,ij->i', short[i], np.cross(short[j], short[k])))
    norms = np.linalg.norm(short, axis=1)
    usable = volumes > 0.3 * norms[i] * norms[j] * norms[k]
    if not usable.any():
        return (-1, -1, -1)
    best = np.flatnonzero(usable)[np.argmin(volumes[usable])]
    return (int(i[best]), int(j[best]), int(k[best]))


def test_smallest_cell_matches_the_numpy_version():
    rng = np.random.default_rng(4)
    lattice = np.array([[0.0, 1.8, 1.8], [1.8, 0.0, 1.8], [1.8, 1.8, 0.0]])
    translations = np.array([[i, j, k] for i in range(-1, 2) for j in range(-1, 2) for k in range(-1, 2)]) @ lattice
    translations = translations[np.argsort(np.linalg.norm(translations, axis=1), kind='stable')][1:25]
    for noise in (0.0, 0.02, 0.2, 1.0):
        short = translations + rng.normal(0.0, noise, translations.shape)
        assert _kernels.smallest_cell(np.ascontiguousarray(short)) == _smallest_cell_numpy(short)
    flat = rng.normal(size=(10, 3)) * np.array([1.0, 1.0, 0.0])
    assert _kernels.smallest_cell(flat) == _smallest_cell_numpy(flat) == (-1, -1, -1)


def test_average_sites_match_the_orientation_step():
    from aiida_crystalface.core.orientation import _average_sites

    rng = np.random.default_rng(5)
    primitive = np.array([[0.0, 1.8, 1.8], [1.8, 0.0, 1.8], [1.8, 1.8, 0.0]])
    basis = np.array([[0.0, 0.0, 0.0], [0.25, 0.25, 0.25]])  # diamond's two sites
    cells = rng.integers(-3, 4, size=(64, 3)).astype(np.float64)
    for noise in (0.0, 0.03, 0.1, 0.4):
        frac = cells + basis[rng.integers(0, 2, 64)] + rng.normal(0.0, noise, (64, 3))
        expected = _average_sites(frac, primitive, 0.5 * 2.55)
        got = _kernels.average_sites(np.ascontiguousarray(frac), primitive, 0.5 * 2.55, 64)
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)


def test_conventional_cell_matches_the_orientation_step():
    from scipy.spatial.transform import Rotation

    from aiida_crystalface.core import orientation as o

    crystals = {  # primitive cell (rows) and sites (fractional)
        'fcc': (np.array([[0.0, 0.5, 0.5], [0.5, 0.0, 0.5], [0.5, 0.5, 0.0]]) * 3.61, [[0, 0, 0]]),
        'bcc': (np.array([[-0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0.5, 0.5, -0.5]]) * 2.87, [[0, 0, 0]]),
        'diamond': (np.array([[0.0, 0.5, 0.5], [0.5, 0.0, 0.5], [0.5, 0.5, 0.0]]) * 5.43, [[0, 0, 0], [0.25] * 3]),
        'hcp': (
            np.array([[3.21, 0.0, 0.0], [-1.605, 2.78, 0.0], [0.0, 0.0, 5.21]]),
            [[0, 0, 0], [1 / 3, 2 / 3, 0.5]],
        ),
    }
    rng = np.random.default_rng(6)
    for primitive, sites in crystals.values():
        for _ in range(4):
            turned = primitive @ Rotation.random(random_state=rng).as_matrix().T
            reduced = _kernels.reduce_basis(np.ascontiguousarray(turned))
            frac = np.asarray(sites, dtype=np.float64) @ turned @ np.linalg.inv(reduced)
            frac = frac + rng.normal(0.0, 0.002, frac.shape)
            nn = o._site_nn_distance(frac, reduced)
            expected = o._canonical_handedness(o._most_cubic_triple(reduced), frac @ reduced, reduced, nn)
            got_nn, got = _kernels.conventional_cell(frac, reduced, o._COEFFICIENTS, o._SHIFTS, o.SHORT_VECTORS)
            assert abs(got_nn - nn) < 1e-12
            np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
