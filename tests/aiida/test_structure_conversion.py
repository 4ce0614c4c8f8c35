"""StructureData -> AtomicStructure reads the raw attributes; it must agree with AiiDA's own objects."""

from __future__ import annotations

import numpy as np
import pytest


def test_stored_structure_converts_like_ase(aiida_profile):
    from aiida import orm
    from ase.build import bulk

    from aiida_crystalface.core.structures import to_atomic_structure

    atoms = bulk('NaCl', 'rocksalt', a=5.64, cubic=True)
    atoms.positions += np.random.default_rng(0).normal(0, 0.01, atoms.positions.shape)
    node = orm.StructureData(ase=atoms).store()
    converted = to_atomic_structure(orm.load_node(node.pk))
    assert np.allclose(converted.cell, atoms.cell[:])
    assert np.allclose(converted.positions, atoms.positions)
    assert list(converted.numbers) == list(atoms.numbers)
    assert converted.label == f'StructureData<{node.uuid}>'


def test_alloy_kind_is_refused(aiida_profile):
    from aiida import orm

    from aiida_crystalface.core.structures import StructureError, to_atomic_structure

    node = orm.StructureData(cell=np.eye(3) * 3.0)
    node.append_atom(position=(0, 0, 0), symbols=('Cu', 'Au'), weights=(0.5, 0.5), name='CuAu')
    with pytest.raises(StructureError, match='alloy or vacancy kinds'):
        to_atomic_structure(node)


def test_a_finite_cluster_round_trips_through_structure_data(aiida_profile):
    """A nanoparticle with no cell: stored (with a box cell, pbc False), read back finite, classified fcc."""
    from aiida import orm
    from ase.cluster import Octahedron

    from aiida_crystalface.calculations.utils import structure_data
    from aiida_crystalface.core.structures import to_atomic_structure
    from aiida_crystalface.ml import Classifier

    particle = to_atomic_structure(Octahedron('Cu', 7))
    assert particle.pbc == (False, False, False) and particle.volume == 0.0
    node = structure_data(particle).store()
    assert node.pbc == (False, False, False)
    back = to_atomic_structure(orm.load_node(node.pk))
    assert back.pbc == (False, False, False)
    assert np.allclose(back.positions, particle.positions)
    [answer] = Classifier.pretrained().classify([back])
    assert answer['label'] == 'fcc', answer
