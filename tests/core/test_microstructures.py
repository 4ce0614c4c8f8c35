"""The test structures of per-atom classification: counts, spacing, depth, seeds, labels; the slice pictures."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial import cKDTree

from aiida_crystalface.core import microstructures as ms
from aiida_crystalface.core.local_plots import plot_fractions, plot_slice

CU = ('Cu', 'fcc', 3.61)
FE = ('Fe', 'bcc', 2.87)
MG = ('Mg', 'hcp', 3.21)
PNG = b'\x89PNG\r\n\x1a\n'


def _min_distance(atoms) -> float:
    positions = atoms.get_positions()
    if np.all(atoms.pbc):
        tree = cKDTree(np.mod(positions, atoms.cell.lengths()), boxsize=atoms.cell.lengths())
    else:
        tree = cKDTree(positions)
    distance, _ = tree.query(positions, k=2)
    return float(distance[:, 1].min())


@pytest.mark.parametrize('phase', [CU, FE, MG])
def test_polycrystal_count_and_spacing(phase):
    """Atom count near density x volume (the boundary cleaning takes a few %); no pair closer than 0.7 nn."""
    box = 30.0
    structure = ms.polycrystal(box=box, grains=4, phases=(phase,), noise=0.0, seed=1)
    expected = ms.density(*phase[1:]) * box**3
    before_cleaning = len(structure) + structure.info['removed_at_boundaries']
    assert abs(before_cleaning / expected - 1) < 0.03
    assert 0.85 < len(structure) / expected < 1.0
    nn = ms.nearest_neighbour_distance(*phase[1:])
    assert _min_distance(structure.atoms) > 0.7 * nn
    assert np.all(structure.atoms.pbc)
    assert set(structure.labels) == {phase[1]}
    assert set(np.unique(structure.grain)) == set(range(4))


def test_polycrystal_depth():
    """Depth positive, near 0 at the boundaries (the close pairs), and grains of the expected size deep inside."""
    structure = ms.polycrystal(box=30.0, grains=3, noise=0.0, seed=2)
    depth = structure.depth
    assert np.all(depth > 0)
    assert depth.min() < 0.5
    assert 3.0 < depth.max() < 15.0
    # atoms of different grains closer than the nn distance sit at a boundary: both are shallow
    positions = structure.atoms.get_positions()
    pairs = cKDTree(positions, boxsize=30.0).query_pairs(0.95 * 3.61 / np.sqrt(2), output_type='ndarray')
    across = pairs[structure.grain[pairs[:, 0]] != structure.grain[pairs[:, 1]]]
    assert len(across) > 0
    assert np.all(depth[across] < 2.5)
    # far from every boundary, an atom's neighbours are all of its own grain
    deep = np.flatnonzero(depth > 4.0)
    neighbours = cKDTree(positions, boxsize=30.0).query_ball_point(positions[deep], 3.0)
    assert all(np.all(structure.grain[n] == structure.grain[i]) for i, n in zip(deep, neighbours, strict=True))


def test_polycrystal_seed():
    first = ms.polycrystal(box=25.0, grains=3, seed=5)
    again = ms.polycrystal(box=25.0, grains=3, seed=5)
    other = ms.polycrystal(box=25.0, grains=3, seed=6)
    assert len(first) == len(again)
    np.testing.assert_array_equal(first.atoms.get_positions(), again.atoms.get_positions())
    np.testing.assert_array_equal(first.depth, again.depth)
    assert len(first) != len(other) or not np.allclose(first.atoms.get_positions(), other.atoms.get_positions())


def test_polycrystal_vacancies_and_two_phases():
    clean = ms.polycrystal(box=30.0, grains=4, phases=(CU, FE), noise=0.0, seed=3)
    assert set(clean.labels) == {'fcc', 'bcc'}
    symbols = np.array(clean.atoms.get_chemical_symbols())
    assert set(symbols[clean.labels == 'fcc']) == {'Cu'}
    assert set(symbols[clean.labels == 'bcc']) == {'Fe'}
    assert set(clean.labels[clean.grain % 2 == 0]) == {'fcc'}
    holes = ms.polycrystal(box=30.0, grains=4, phases=(CU, FE), noise=0.0, vacancies=0.25, seed=3)
    assert len(holes) == pytest.approx(0.75 * len(clean), abs=1)


def test_polycrystal_noise():
    """The noise is Gaussian of the given width per component (compare with the noiseless structure)."""
    clean = ms.polycrystal(box=25.0, grains=3, noise=0.0, seed=4)
    noisy = ms.polycrystal(box=25.0, grains=3, noise=0.2, seed=4)
    delta = noisy.atoms.get_positions() - clean.atoms.get_positions()
    delta -= 25.0 * np.round(delta / 25.0)
    assert np.std(delta) == pytest.approx(0.2, rel=0.05)
    assert np.all((noisy.atoms.get_positions() >= 0) & (noisy.atoms.get_positions() < 25.0))


@pytest.mark.parametrize(
    ('kwargs', 'match'),
    [
        ({'box': -1.0}, 'box'),
        ({'grains': 0}, 'grains'),
        ({'phases': (('Cu', 'fcx', 3.61),)}, 'lattice'),
        ({'phases': (('Xx', 'fcc', 3.61),)}, 'element'),
        ({'phases': ()}, 'phases'),
        ({'phases': (('Cu', 'fcc', 3.61, 5.0),)}, 'only an hcp'),
        ({'vacancies': 1.0}, 'vacancies'),
        ({'noise': -0.1}, 'noise'),
        ({'seed': -1}, 'seed'),
        ({'box': 5.0}, 'too small'),
    ],
)
def test_polycrystal_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ms.polycrystal(**kwargs)


def test_nanoparticle_sphere():
    particle = ms.nanoparticle(radius=10.0, noise=0.0, seed=1)
    assert not np.any(particle.atoms.pbc)
    assert np.allclose(particle.atoms.cell.array, 0)
    assert np.all(particle.depth > 0)
    assert particle.depth.min() < 1.0
    assert particle.depth.max() > 8.0
    expected = ms.density('fcc', 3.61) * 4 / 3 * np.pi * 10.0**3
    assert len(particle) == pytest.approx(expected, rel=0.05)
    assert _min_distance(particle.atoms) == pytest.approx(3.61 / np.sqrt(2), rel=1e-6)
    np.testing.assert_allclose(particle.depth, 10.0 - np.linalg.norm(particle.atoms.get_positions(), axis=1))
    again = ms.nanoparticle(radius=10.0, noise=0.0, seed=1)
    other = ms.nanoparticle(radius=10.0, noise=0.0, seed=2)
    np.testing.assert_array_equal(particle.atoms.get_positions(), again.atoms.get_positions())
    assert len(particle) != len(other) or not np.allclose(particle.atoms.get_positions(), other.atoms.get_positions())


def test_nanoparticle_octahedron():
    particle = ms.nanoparticle(radius=10.0, shape='octahedron', seed=0)
    assert not np.any(particle.atoms.pbc)
    assert np.all(particle.depth >= 0)
    assert np.isclose(particle.depth.min(), 0.0, atol=1e-6)  # atoms on the faces
    assert particle.depth.max() > 3.0
    with pytest.raises(ValueError, match='fcc'):
        ms.nanoparticle(lattice='bcc', a=2.87, shape='octahedron')
    with pytest.raises(ValueError, match='shape'):
        ms.nanoparticle(shape='cube')


def test_solid_liquid():
    structure = ms.solid_liquid(box=(25.0, 25.0, 30.0), noise=0.0, seed=0)
    z = structure.atoms.get_positions()[:, 2]
    assert set(structure.labels) == {'fcc', 'amorphous'}
    assert np.all(z[structure.labels == 'fcc'] < 15.0)
    assert np.all(z[structure.labels == 'amorphous'] >= 15.0)
    assert np.all(structure.atoms.pbc)
    nn = 3.61 / np.sqrt(2)
    # amorphous at the crystal's density, relaxed to no pair closer than 0.85 nn
    assert structure.info['amorphous_density'] == pytest.approx(structure.info['crystal_density'], rel=0.01)
    assert structure.info['smallest_amorphous_distance_over_nn'] > 0.85
    assert _min_distance(structure.atoms) > 0.7 * nn
    amorphous = structure.labels == 'amorphous'
    np.testing.assert_allclose(structure.depth[amorphous], np.minimum(np.abs(z[amorphous] - 15.0), 30.0 - z[amorphous]))
    assert np.all(structure.depth >= 0)
    assert structure.depth.max() <= 7.5 + 1e-9
    # the amorphous half has no crystal order: its nearest-neighbour distances spread far wider than a crystal's
    distances, _ = cKDTree(structure.atoms.get_positions(), boxsize=[25.0, 25.0, 30.0]).query(
        structure.atoms.get_positions()[amorphous & (structure.depth > 3.0)], k=13
    )
    assert np.std(distances[:, 12]) > 0.1


def test_solid_liquid_aligned():
    structure = ms.solid_liquid(box=30.0, noise=0.0, rotate=False, seed=0)
    box = np.array(structure.info['box'])
    assert np.allclose(np.round(box / 3.61), box / 3.61)
    crystal = structure.labels == 'fcc'
    assert crystal.sum() == round(ms.density('fcc', 3.61) * box[0] * box[1] * box[2] / 2)


def test_noisy_crystal():
    structure = ms.noisy_crystal(10_000, noise=0.1, seed=0)
    assert abs(len(structure) - 10_000) / 10_000 < 0.05
    assert np.all(np.isinf(structure.depth))
    lengths = structure.atoms.cell.lengths()
    assert lengths.max() / lengths.min() < 1.2
    hcp = ms.noisy_crystal(1000, lattice='hcp', a=3.21, element='Mg').atoms.cell.lengths()
    assert hcp.max() / hcp.min() < 1.3
    with pytest.raises(ValueError, match='n_atoms'):
        ms.noisy_crystal(0)


def test_plots_write_png(tmp_path: Path):
    structure = ms.polycrystal(box=20.0, grains=2, phases=(CU, FE), seed=0)
    labels = structure.labels.copy()
    labels[:10] = 'unknown'
    path = plot_slice(structure.atoms.get_positions(), labels, tmp_path / 'slice.png', title='two phases')
    assert path.read_bytes()[:8] == PNG
    path = plot_fractions([{'fcc': 1.0}, {'fcc': 0.5, 'amorphous': 0.5}], tmp_path / 'fractions.png', title='melt')
    assert path.read_bytes()[:8] == PNG
    with pytest.raises(ValueError, match='labels'):
        plot_slice(structure.atoms.get_positions(), labels[:5], tmp_path / 'bad.png')


def test_module_imports_cheaply():
    """Importing the generators pulls in neither aiida, torch, scipy nor ase."""
    import subprocess

    code = (
        'import sys; import aiida_crystalface.core.microstructures, aiida_crystalface.core.local_plots; '
        "print([m for m in ('aiida', 'torch', 'scipy', 'ase', 'matplotlib') if m in sys.modules])"
    )
    result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == '[]'


@pytest.mark.skipif(importlib.util.find_spec('ovito') is None, reason='ovito (the benchmarks extra) is not installed')
def test_ptm_sees_crystal_grains():
    """OVITO's PTM labels >= 95 % of the interior atoms of a 0.05-angstrom-noise fcc polycrystal fcc: real grains."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / 'benchmarks'))
    try:
        from _ptm import ptm_labels
    finally:
        sys.path.pop(0)
    structure = ms.polycrystal(box=30.0, grains=4, noise=0.05, seed=0)
    labels, _ = ptm_labels(structure.atoms)
    interior = structure.depth > 4.0
    assert interior.sum() > 200
    assert np.mean(np.asarray(labels)[interior] == 'fcc') >= 0.95
