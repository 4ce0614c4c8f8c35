"""The local lattice (core.local): found around any atom of a damaged, rotated crystal; not found in a liquid.

Structures are built with ASE here, rotated at random, damaged with seeded vacancies and Gaussian displacements.
"""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk
from scipy.spatial.transform import Rotation

from aiida_crystalface.core import local
from aiida_crystalface.core.neighbours import neighbourhood, overlapping_pair, periodic_images, vacuum_axes
from aiida_crystalface.core.structures import to_atomic_structure

CRYSTALS = [('Cu', 'fcc', 3.61), ('Fe', 'bcc', 2.87), ('Si', 'diamond', 5.43), ('Po', 'sc', 3.35)]


def damaged(symbol, structure, a, vacancies, sigma, *, seed):
    rng = np.random.default_rng(seed)
    atoms = bulk(symbol, structure, a=a, cubic=True) * (7, 7, 7)
    rotation = Rotation.random(random_state=seed).as_matrix()
    atoms.set_cell(atoms.cell @ rotation.T, scale_atoms=True)
    atoms = atoms[rng.random(len(atoms)) > vacancies]
    atoms.positions += rng.normal(0.0, sigma, atoms.positions.shape)
    return to_atomic_structure(atoms), rotation


@pytest.mark.parametrize(('symbol', 'structure', 'a'), CRYSTALS)
@pytest.mark.parametrize('vacancies', [0.25, 0.5])
def test_the_cube_is_found_around_every_atom(symbol, structure, a, vacancies):
    crystal, rotation = damaged(symbol, structure, a, vacancies, 0.15, seed=7)
    hood = neighbourhood(crystal, 15.0)
    centres = np.random.default_rng(1).choice(len(crystal), 20, replace=False)
    for centre in centres:
        lattice = local.local_lattice(hood, hood.points[centre])
        assert lattice.found, lattice.reason
        # the conventional cell is the cube, along the rotated cube's axes (up to their order and signs)
        assert np.allclose(np.sort(np.linalg.norm(lattice.conventional, axis=1)), a, rtol=0.05)
        axes = lattice.conventional / np.linalg.norm(lattice.conventional, axis=1)[:, None]
        assert np.allclose(np.sort(np.abs(axes @ rotation), axis=1)[:, -1], 1.0, atol=0.02)
        assert lattice.sites == (2 if structure == 'diamond' else 1)


def test_no_lattice_in_a_random_packing():
    rng = np.random.default_rng(0)
    box, points = 18.0, []
    while len(points) < 300:
        trial = rng.random(3) * box
        if all(np.linalg.norm((trial - p + box / 2) % box - box / 2) > 2.2 for p in points):
            points.append(trial)
    liquid = to_atomic_structure(Atoms('Cu300', positions=points, cell=[box] * 3, pbc=True))
    hood = neighbourhood(liquid, 15.0)
    found = [local.local_lattice(hood, hood.points[i]).found for i in range(0, 300, 15)]
    assert not any(found)


def test_no_repeated_pair_vector_is_no_lattice_and_no_warning(monkeypatch):
    """Where no candidate vector of the first owners repeats, the window has no lattice (before: a median of no
    populations, NumPy's 'Mean of empty slice' warning, then no lattice)."""
    import warnings

    crystal, _ = damaged('Cu', 'fcc', 3.61, 0.0, 0.0, seed=0)
    hood = neighbourhood(crystal, 15.0)
    monkeypatch.setattr(local, '_modes', lambda *_args, **_kw: (np.zeros((0, 3)), np.zeros(0, dtype=np.int64)))
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        lattice = local.local_lattice(hood, hood.points[0])
    assert not lattice.found and lattice.reason == 'no repeated pair vectors'


def test_periodic_images_complete_every_ball():
    cell = np.array([[4.0, 0.0, 0.0], [1.5, 3.5, 0.0], [0.3, 0.4, 5.0]])  # triclinic
    positions = np.random.default_rng(2).random((10, 3)) @ cell
    points, index = periodic_images(cell, positions, (True, True, True), 6.0)
    # brute force: every image within 6 A of an atom of the cell is among the points
    shifts = np.array([[i, j, k] for i in range(-3, 4) for j in range(-3, 4) for k in range(-3, 4)]) @ cell
    frac = np.linalg.solve(cell.T, positions.T).T
    wrapped = (frac - np.floor(frac)) @ cell
    everything = (wrapped[None, :, :] + shifts[:, None, :]).reshape(-1, 3)
    for atom in wrapped:
        near = everything[np.linalg.norm(everything - atom, axis=1) < 6.0]
        got = points[np.linalg.norm(points - atom, axis=1) < 6.0]
        assert len(near) == len(got)
    assert np.all(np.bincount(index) >= 1)


def test_overlaps_are_found_across_the_cell_and_vacuum_is_found():
    slab = to_atomic_structure(
        Atoms('Cu2', positions=[[0.02, 1, 1], [3.97, 1, 1]], cell=[4.0, 10.0, 10.0], pbc=True), label='pair'
    )
    distance, i, j = overlapping_pair(slab, 0.1)
    assert (i, j) == (0, 1) and distance == pytest.approx(0.05)
    assert vacuum_axes(slab).tolist() == [False, True, True]


@pytest.mark.parametrize('seed', range(6))
def test_overlapping_pair_small_cell_kernel_agrees_with_the_tree(seed, monkeypatch):
    """The all-pairs minimum-image kernel of small cells gives the k-d tree's pair, in skewed cells and with
    atoms exactly on top of each other."""
    from aiida_crystalface.core import neighbours

    rng = np.random.default_rng(seed)
    cell = np.eye(3) * rng.uniform(4, 7, 3) + rng.uniform(-1.5, 1.5, (3, 3))
    frac = rng.random((int(rng.integers(20, 120)), 3))
    if seed % 2:
        frac[5] = frac[3] + [0, 0, 1]  # the same atom one cell over: distance 0
    frac[7] = frac[11] + rng.normal(0, 0.004, 3)  # a near pair, possibly across a face
    structure = to_atomic_structure({'cell': cell, 'positions': frac @ cell, 'numbers': [29] * len(frac)})
    for distance in (0.01, 0.1, 0.5):
        small = overlapping_pair(structure, distance)
        monkeypatch.setattr(neighbours, 'SMALL_CELL', 0)
        tree = overlapping_pair(structure, distance)
        monkeypatch.setattr(neighbours, 'SMALL_CELL', 512)
        assert (small is None) == (tree is None), (small, tree)
        if small is not None:
            assert small[1:] == tree[1:] and small[0] == pytest.approx(tree[0], abs=1e-9)
