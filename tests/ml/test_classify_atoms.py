"""Per-atom answers and finite structures (issue 16), with the bundled default model.

Structures are built here with ASE and numpy, independently of the package's generators: a free Cu octahedron
(ASE's ``Octahedron``, no cell), a Cu(111) slab with vacuum, a periodic fcc Cu / bcc Fe bicrystal, a random packing.
"""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk, fcc111
from ase.cluster import Octahedron

from aiida_crystalface.core.structures import StructureError, to_atomic_structure
from aiida_crystalface.ml.classifier import Classifier


@pytest.fixture(scope='module')
def classifier():
    return Classifier.pretrained('open-4class')


def bicrystal(noise: float = 0.1, seed: int = 0) -> tuple[Atoms, np.ndarray, np.ndarray]:
    """A periodic stack of fcc Cu (4 cells, 14.4 A) and bcc Fe (5 cells, a = 2.888 A: strained 0.6 % to fit in-plane).

    Both are cube-aligned and periodic in x and y; a gap of half the two interlayer spacings separates them at both
    interfaces. Returns the atoms, the true class of each atom and its distance to the nearer interface.
    """
    width = 8 * 3.61
    gap = 0.5 * (3.61 / 2 + width / 20)
    cu = bulk('Cu', 'fcc', a=3.61, cubic=True) * (8, 8, 4)
    fe = bulk('Fe', 'bcc', a=width / 10, cubic=True) * (10, 10, 5)
    top = 4 * 3.61 - 3.61 / 2 + gap  # first Fe plane
    fe.positions[:, 2] += top
    height = top + 5 * width / 10 - width / 20 + gap
    atoms = cu + fe
    atoms.set_cell([width, width, height])
    atoms.pbc = True
    interfaces = np.array([top - gap / 2, height - gap / 2])
    depth = np.abs(atoms.positions[:, 2, None] - interfaces[None, :])
    depth = np.minimum(depth, height - depth).min(axis=1)
    atoms.positions += np.random.default_rng(seed).normal(0.0, noise, atoms.positions.shape)
    truth = np.where(np.array(atoms.get_chemical_symbols()) == 'Cu', 'fcc', 'bcc')
    return atoms, truth, depth


def test_nanoparticle_is_classified_not_refused(classifier):
    particle = Octahedron('Cu', 9, cutoff=3)  # 405 atoms, no cell
    assert not particle.pbc.any()
    [answer] = classifier.classify([particle])
    assert answer['label'] == 'fcc', answer
    result = classifier.classify_atoms(particle)
    labels = np.array(result['labels'])
    assert len(labels) == len(particle)
    assert np.mean(labels == 'fcc') > 0.9
    assert not set(labels) & {'bcc', 'sc', 'diamond'}


def test_slab_with_vacuum_is_fcc(classifier):
    slab = fcc111('Cu', size=(4, 4, 8), vacuum=10.0)
    assert list(slab.pbc) == [True, True, False]
    periodic = slab.copy()
    periodic.pbc = True  # the vacuum is in the cell: found, and the slab treated as periodic in-plane only
    for answer in classifier.classify([slab, periodic]):
        assert answer['label'] == 'fcc', answer


def test_bicrystal_halves_get_their_two_classes(classifier):
    atoms, truth, depth = bicrystal()
    result = classifier.classify_atoms(atoms)
    labels = np.array(result['labels'])
    assert result['probabilities'].shape == (len(atoms), len(classifier.classes))
    assert result['uncertainty'].shape == (len(atoms),)
    inner = depth > 4.0
    for phase in ('fcc', 'bcc'):
        chosen = inner & (truth == phase)
        assert np.mean(labels[chosen] == phase) > 0.9, (phase, np.unique(labels[chosen], return_counts=True))
        wrong = set(labels[chosen]) - {phase, 'unknown', 'amorphous'}
        assert np.mean(np.isin(labels[chosen], list(wrong))) < 0.02, np.unique(labels[chosen], return_counts=True)


def test_random_packing_is_amorphous_per_atom(classifier):
    rng = np.random.default_rng(3)
    box = 24.0
    points = []
    while len(points) < 900:
        trial = rng.random(3) * box
        if all(np.linalg.norm((trial - p + box / 2) % box - box / 2) > 2.2 for p in points[-400:]):
            points.append(trial)
    atoms = Atoms('Cu' * len(points), positions=points, cell=[box] * 3, pbc=True)
    labels = np.array(classifier.classify_atoms(atoms)['labels'])
    assert np.mean(labels == 'amorphous') > 0.9, np.unique(labels, return_counts=True)


def test_pristine_crystal_every_atom(classifier):
    atoms = bulk('Fe', 'bcc', a=2.87, cubic=True) * (6, 6, 6)
    result = classifier.classify_atoms(atoms)
    assert set(result['labels']) == {'bcc'}
    assert result['windows'] >= 1 and result['settings']['seed'] == 0


def test_finite_inputs_are_accepted_and_bad_ones_named():
    particle = Octahedron('Cu', 5)
    structure = to_atomic_structure(particle)
    assert structure.pbc == (False, False, False)
    structure.validate()
    with pytest.raises(StructureError, match='single isolated atom'):
        to_atomic_structure(Atoms('Cu', positions=[[0, 0, 0]])).validate()
    with pytest.raises(StructureError, match='overlap'):
        to_atomic_structure(Atoms('Cu2', positions=[[0, 0, 0], [0, 0, 0.05]])).validate()


def test_an_md_sized_cell_is_fingerprinted_like_a_small_one(classifier):
    """Above core.cluster.LOCAL_ABOVE atoms the lattice is found around the centre: same fingerprint, same answer."""
    from aiida_crystalface.core.cluster import LOCAL_ABOVE
    from aiida_crystalface.core.diffraction import fingerprint

    big = bulk('Fe', 'bcc', a=2.87, cubic=True) * (22, 22, 22)
    assert len(big) > LOCAL_ABOVE
    big.positions += np.random.default_rng(0).normal(0.0, 0.05, big.positions.shape)
    big.rotate(37, (1, 2, 3), rotate_cell=True)
    small = bulk('Fe', 'bcc', a=2.87, cubic=True) * (4, 4, 4)
    a, b = fingerprint(big).ravel(), fingerprint(small).ravel()
    assert np.dot(a, b) / np.linalg.norm(a) / np.linalg.norm(b) > 0.97
    [answer] = classifier.classify([big])
    assert answer['label'] == 'bcc', answer


def test_a_pymatgen_molecule_is_a_finite_cluster(classifier):
    from pymatgen.core import Molecule

    particle = Octahedron('Cu', 7)
    molecule = Molecule(particle.get_chemical_symbols(), particle.positions)
    structure = to_atomic_structure(molecule)
    assert structure.pbc == (False, False, False)
    [answer] = classifier.classify([molecule])
    assert answer['label'] == 'fcc', answer
