"""The cluster rule: standard cell, replication to the target, centring, scaling by the nn distance."""

import numpy as np
import pytest

from aiida_crystalface.core.cluster import (
    build_cluster,
    lattice_aligned,
    mean_nearest_neighbour_distance,
    replicate,
    standard_cell,
)
from aiida_crystalface.core.structures import AtomicStructure, StructureError

from .conftest import prototype


@pytest.mark.parametrize(
    ('kind', 'number', 'atoms'), [('fcc', 225, 4), ('bcc', 229, 2), ('sc', 221, 1), ('diamond', 227, 8)]
)
def test_standard_cell_is_cubic_and_aligned(kind, number, atoms):
    cell, spacegroup = standard_cell(prototype(kind))
    assert spacegroup == number
    assert len(cell) == atoms
    assert np.allclose(cell.cell, 3.6 * np.eye(3))


def test_non_cubic_cell_is_kept_and_aligned():
    rng = np.random.default_rng(0)
    cell = np.array([[3.0, 0.4, 0.2], [0.3, 4.0, 0.1], [0.2, -0.5, 5.0]])
    structure = AtomicStructure(cell, rng.random((3, 3)) @ cell, [6, 8, 26])
    result, spacegroup = standard_cell(structure)
    assert spacegroup is None
    assert abs(result.cell[0, 1]) < 1e-12 and abs(result.cell[0, 2]) < 1e-12 and abs(result.cell[1, 2]) < 1e-12
    assert np.allclose(result.cell @ result.cell.T, cell @ cell.T)  # same metric: a rotation
    assert np.linalg.det(result.cell) == pytest.approx(np.linalg.det(cell))  # proper: never a mirror
    assert np.allclose(result.scaled_positions, structure.scaled_positions)


def test_lattice_aligned_left_handed_cell_stays_left_handed():
    cell = np.array([[0.0, 3.0, 0.0], [3.0, 0.0, 0.0], [0.0, 0.0, 3.0]])
    aligned = lattice_aligned(AtomicStructure(cell, [[0.5, 1.0, 1.5]], [29]))
    assert np.linalg.det(aligned.cell) == pytest.approx(-27.0)
    assert np.allclose(np.abs(aligned.cell), 3.0 * np.eye(3))


@pytest.mark.parametrize(('kind', 'repeats'), [('fcc', (2, 4, 4)), ('bcc', (4, 4, 4)), ('diamond', (2, 2, 4))])
def test_replicate_hits_target(kind, repeats):
    cell, _ = standard_cell(prototype(kind))
    block = replicate(cell, 128)
    assert len(block) == 128
    assert block.info['repeats'] == repeats


def test_replicate_closest_and_isotropic():
    cell, _ = standard_cell(prototype('fcc'))
    assert replicate(cell, 108).info['repeats'] == (3, 3, 3)
    assert len(replicate(cell, 30)) == 32  # 8 repeats (32) is closer to 30 than 6 (24)


@pytest.mark.parametrize('orientation', ['lattice', 'spglib'])
def test_cluster_is_centred_and_scaled(orientation):
    cluster = build_cluster(prototype('fcc', a=3.6), orientation=orientation)
    assert len(cluster) == 128
    assert np.allclose(cluster.positions.mean(axis=0), 0.0, atol=1e-12)
    assert cluster.nn_distance == pytest.approx(3.6 / np.sqrt(2))
    assert mean_nearest_neighbour_distance(cluster.positions) == pytest.approx(1.0)
    if orientation == 'spglib':
        assert cluster.spacegroup == 225
    else:
        assert cluster.lattice.found and cluster.lattice.score == pytest.approx(1.0)


def test_scaling_makes_elements_alike():
    copper = build_cluster(prototype('fcc', 'Cu', 3.61))
    aluminium = build_cluster(prototype('fcc', 'Al', 4.05))
    assert np.allclose(np.sort(copper.positions, axis=0), np.sort(aluminium.positions, axis=0))


def test_defective_structure_keeps_cell():
    cubic = prototype('fcc', cubic=True)
    supercell = replicate(cubic, 32)
    keep = np.ones(len(supercell), bool)
    keep[[0, 5, 17]] = False
    defective = supercell.replace(positions=supercell.positions[keep], numbers=supercell.numbers[keep])
    cluster = build_cluster(defective, orientation='spglib')
    assert cluster.spacegroup is None
    assert len(cluster) == 29 * 4  # 29 atoms x (4 repeats nearest to 128)
    # The lattice rule cuts the block of the pristine crystal's 128 sites from the periodic defective structure.
    block = build_cluster(defective)
    assert block.lattice.found and block.lattice.sites == 1
    assert len(block) == 128 * 29 // 32


def test_single_atom_cluster_is_refused():
    with pytest.raises(StructureError, match='one atom'):
        build_cluster(prototype('sc'), target_atoms=1)


def test_block_members_kernel_matches_numpy():
    from aiida_crystalface.core import _kernels

    rng = np.random.default_rng(2)
    base = rng.uniform(-1.5, 3.5, size=(200, 3))
    steps = rng.integers(-2, 3, size=(27, 3)).astype(float)
    repeats = np.array([2.0, 1.0, 3.0])
    pairs = _kernels.block_members(base, steps, repeats)
    inside = (steps[:, None, :] + base[None, :, :]).reshape(-1, 3)
    keep = np.flatnonzero(np.all((inside >= 0) & (inside < repeats), axis=1))
    np.testing.assert_array_equal(pairs[:, 0] * len(base) + pairs[:, 1], keep)  # same members, same order
