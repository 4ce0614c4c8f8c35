"""The open-set data (core.openset): species-blind parents, disjoint splits, seeded items, structures with no order."""

from __future__ import annotations

import numpy as np
import pytest
from ase.build import bulk
from ase.spacegroup import crystal

from aiida_crystalface.core import openset
from aiida_crystalface.core.orientation import find_lattice
from aiida_crystalface.core.presentations import amorphous
from aiida_crystalface.core.structures import to_atomic_structure


@pytest.mark.parametrize(
    ('atoms', 'parent'),
    [
        (bulk('NaCl', 'rocksalt', a=5.64), 'sc'),
        (bulk('CsCl', 'cesiumchloride', a=4.12), 'bcc'),
        (bulk('ZnS', 'zincblende', a=5.41), 'diamond'),
        (crystal(['Au', 'Cu'], [(0, 0, 0), (0, 0.5, 0.5)], spacegroup=221, cellpar=[3.75] * 3 + [90] * 3), 'fcc'),
        (bulk('Cu', 'fcc', a=3.6), 'fcc'),
        (bulk('Mg', 'hcp'), None),
        (bulk('ZnO', 'wurtzite', a=3.25, c=5.2), None),
        (bulk('CaF2', 'fluorite', a=5.46), None),
    ],
)
def test_species_blind_parent(atoms, parent):
    assert openset.species_blind_parent(atoms) == parent


def test_split_is_disjoint_and_seeded():
    split = openset.open_set_split(0)
    assert split == openset.open_set_split(0)
    assert split != openset.open_set_split(1)
    for key in ('species', 'prototypes'):
        parts = [set(split[p][key]) for p in ('train', 'calibration', 'test')]
        assert all(parts), key
        assert not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2]), key
    classes = {p['aflow'] for p in openset.CLASS_PROTOTYPES.values()}
    every = set().union(*(split[p]['prototypes'] for p in split))
    assert not every & classes
    assert not every & set(openset.parent_prototypes())
    assert len(split['test']['prototypes']) >= 40


def test_items_are_seeded_and_labelled():
    a = openset.member('Cu', 'bcc', 'vacancies 30 % + 0.10 A', 'c-b', seed=3)
    b = openset.member('Cu', 'bcc', 'vacancies 30 % + 0.10 A', 'c-b', seed=3)
    c = openset.member('Cu', 'bcc', 'vacancies 30 % + 0.10 A', 'c-b', seed=4)
    np.testing.assert_array_equal(a.positions, b.positions)
    assert a.positions.shape != c.positions.shape or not np.allclose(a.positions, c.positions)
    assert a.info['label'] == 'bcc'
    tags, structure = next((t, s) for t, s in openset.aflow_prototypes() if t['aflow'] == 'A_hP2_194_c')
    out = openset.outsider(tags, structure, 'pristine', seed=0)
    assert len(out) >= 100
    assert len(set(out.numbers)) == 1
    assert out.info['aflow'] == 'A_hP2_194_c'


def test_random_crystal_is_seeded():
    pytest.importorskip('pyxtal')
    a, b = openset.random_crystal(5), openset.random_crystal(5)
    assert len(a) >= 100
    np.testing.assert_allclose(a.positions, b.positions)


def test_order_of_disorder_and_of_large_cells():
    melt = find_lattice(openset.molten_snapshot(0, repeats=3, steps=300))
    packing = find_lattice(amorphous(128, 0.08, seed=1))
    assert not melt.found and not melt.periodic
    assert not packing.found and not packing.periodic
    # Methane in a 6 A box, 2 x 2 x 2: ordered, but the lattice is far longer than the bonds.
    methane = np.array(
        [[0, 0, 0], [0.63, 0.63, 0.63], [-0.63, -0.63, 0.63], [-0.63, 0.63, -0.63], [0.63, -0.63, -0.63]]
    )
    box = to_atomic_structure({'cell': np.eye(3) * 6.0, 'positions': methane + 3.0, 'numbers': [6, 1, 1, 1, 1]})
    big = find_lattice(openset.supercell_of_at_least(box, 40))
    assert not big.found
    assert big.periodic
    assert big.to_dict()['lattice_periodic'] is True
    cu = find_lattice(to_atomic_structure(bulk('Cu', 'fcc', a=3.6, cubic=True).repeat(3)))
    assert cu.found and cu.periodic


def test_composition_distance_of_compounds_and_their_alloys():
    """Distances from a prototype's stoichiometry: exact shares 0 in any order; A2B from A3B 1/12; an alloy on one
    sublattice or a substituent on random sites of every sublattice keeps the host's; what cannot tell is None."""
    distance = openset.composition_distance
    assert distance([0.25, 0.75], [0.75, 0.25]) == pytest.approx(0.0, abs=1e-12)
    assert distance([2 / 3, 1 / 3], [0.75, 0.25]) == pytest.approx(1 / 12)
    assert distance([0.5, 0.5], [0.75, 0.25]) == pytest.approx(0.25)
    assert distance([0.45, 0.3, 0.25], [0.75, 0.25]) == pytest.approx(0.0, abs=1e-12)  # (Cu,Ni)3Au
    assert distance([0.525, 0.3, 0.175], [0.75, 0.25]) == pytest.approx(0.0, abs=1e-12)  # 30 % substituted Cu3Au
    assert distance([0.4, 0.4, 0.2], [0.5, 0.5]) == pytest.approx(0.0, abs=1e-12)
    # a third element of half the atoms is no substituent: its atoms must belong to a group
    assert distance([0.5, 0.25, 0.25], [0.5, 0.5]) == pytest.approx(0.0, abs=1e-12)
    assert distance([0.5, 0.4, 0.1], [0.75, 0.25]) == pytest.approx(0.15)
    assert distance([1.0], [0.5, 0.5]) is None  # fewer elements: the species rule's case
    assert distance([0.5, 0.5], [1.0]) is None  # an elemental prototype: any alloy of it
    assert distance([1 / 7] * 7, [0.5, 0.5]) is None  # too many elements to tell
    structure = to_atomic_structure(crystal(['Cu', 'Au'], [(0, 0.5, 0.5), (0, 0, 0)], spacegroup=221, cellpar=3.75))
    assert openset.stoichiometry(structure) == pytest.approx([0.75, 0.25])
