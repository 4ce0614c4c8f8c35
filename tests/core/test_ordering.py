"""The order of the elements on a cubic lattice (core.ordering): concentration-wave profiles of crystals built with
ASE from their Wyckoff positions (independently of the package's class structures), damaged, rotated and in other
cells, against the classes' own profiles."""

from __future__ import annotations

import numpy as np
import pytest
from ase.build import make_supercell
from ase.spacegroup import crystal

from aiida_crystalface.core.defects import displacements, substitutions, vacancies
from aiida_crystalface.core.ordering import (
    ORDER_Z,
    arrangement_z,
    class_profiles,
    matching_classes,
    order_profile,
    stars,
)
from aiida_crystalface.core.orientation import lattice_of
from aiida_crystalface.core.structures import to_atomic_structure


def _cub(a):
    return [a, a, a, 90, 90, 90]


#: class -> an ASE crystal of it (space group and Wyckoff positions of the usual structure reports).
CRYSTALS = {
    'cscl': lambda: crystal(['Cs', 'Cl'], [(0, 0, 0), (0.5, 0.5, 0.5)], spacegroup=221, cellpar=_cub(4.12)),
    'rocksalt': lambda: crystal(['Na', 'Cl'], [(0, 0, 0), (0.5, 0.5, 0.5)], spacegroup=225, cellpar=_cub(5.64)),
    'l1_2': lambda: crystal(['Au', 'Cu'], [(0, 0, 0), (0, 0.5, 0.5)], spacegroup=221, cellpar=_cub(3.75)),
    'd0_3': lambda: crystal(
        ['Al', 'Fe', 'Fe'], [(0, 0, 0), (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)], spacegroup=225, cellpar=_cub(5.79)
    ),
    'heusler': lambda: crystal(
        ['Cu', 'Mn', 'Al'], [(0.25, 0.25, 0.25), (0.5, 0.5, 0.5), (0, 0, 0)], spacegroup=225, cellpar=_cub(5.95)
    ),
}


def _structure(atoms, repeat=3, rotate_seed=None):
    atoms = make_supercell(atoms, np.eye(3, dtype=int) * repeat)
    if rotate_seed is not None:
        from scipy.spatial.transform import Rotation

        rotation = Rotation.random(random_state=rotate_seed).as_matrix()
        atoms.set_cell(atoms.cell @ rotation.T, scale_atoms=True)
    return to_atomic_structure(atoms)


def _profile(structure):
    lattice = lattice_of(structure)
    assert lattice.found and lattice.sites == 1 and lattice.bravais in ('cP', 'cI', 'cF'), structure.label
    return order_profile(
        structure.scaled_positions, structure.numbers, lattice.conventional, structure.cell, lattice.bravais
    )


def test_stars_are_the_special_points_of_each_cubic_lattice():
    assert {k: len(v) for k, v in stars('cP').items()} == {'0,0,1/2': 3, '0,1/2,1/2': 3, '1/2,1/2,1/2': 1}
    bcc = stars('cI')
    assert len(bcc['0,0,1']) == 1 and len(bcc['1/2,1/2,1/2']) == 2  # H; P and -P
    fcc = stars('cF')
    assert len(fcc['0,0,1']) == 3 and len(fcc['1/2,1/2,1/2']) == 4  # X; L
    with pytest.raises(ValueError, match='bravais'):
        stars('hP')


def test_class_profiles_are_the_ordered_compounds_of_cubic_lattices():
    profiles = class_profiles()
    assert {'cscl', 'rocksalt', 'l1_2', 'd0_3', 'heusler'} <= set(profiles)
    assert not {'fcc', 'bcc', 'sc', 'diamond', 'zincblende', 'hcp', 'perovskite'} & set(profiles)
    cscl = profiles['cscl']
    assert cscl['bravais'] == 'cI' and [g[0] for g in cscl['groups']] == [0.5, 0.5]
    h = cscl['stars'].index('0,0,1')
    assert [g[1][h] for g in cscl['groups']] == [1.0, 1.0]  # both elements fully ordered at bcc's H point
    l12 = profiles['l1_2']
    x = l12['stars'].index('0,0,1')
    assert [g[0] for g in l12['groups']] == [0.75, 0.25]
    assert [g[1][x] for g in l12['groups']] == pytest.approx([1 / 9, 1.0], abs=1e-3)


@pytest.mark.parametrize('name', sorted(CRYSTALS))
def test_an_independent_crystal_matches_its_class_only(name):
    assert matching_classes(_profile(_structure(CRYSTALS[name]()))) == [name]


@pytest.mark.parametrize('name', sorted(CRYSTALS))
def test_the_profile_survives_rotation_another_cell_and_random_damage(name):
    base = _profile(_structure(CRYSTALS[name](), repeat=2))
    rotated = _profile(_structure(CRYSTALS[name](), repeat=4, rotate_seed=7))
    # three cubes: for CsCl and L1_2 a cell that cannot hold a period of two lattice cubes (no power there)
    odd = _profile(_structure(CRYSTALS[name](), repeat=3))
    assert (None in odd['groups'][0][1]) == (name in ('cscl', 'l1_2'))
    assert all(
        (p is None) or (p == pytest.approx(q, abs=1e-3))
        for p, q in zip(odd['groups'][0][1], base['groups'][0][1], strict=True)
    )
    for ours, theirs in zip(base['groups'], rotated['groups'], strict=True):
        assert ours[0] == pytest.approx(theirs[0], abs=1e-3)
        assert ours[1] == pytest.approx(theirs[1], abs=1e-3)
    structure = _structure(CRYSTALS[name](), repeat=4)
    for damaged in (
        vacancies(structure, 0.5, seed=1),
        displacements(structure, 0.1, seed=2),
        substitutions(structure, 0.3, seed=3),
    ):
        assert matching_classes(_profile(damaged)) == [name], damaged.label


def test_a_random_alloy_and_other_orders_of_the_same_lattices_match_no_class():
    rng = np.random.default_rng(0)
    bcc = make_supercell(crystal(['Fe'], [(0, 0, 0)], spacegroup=229, cellpar=_cub(2.87)), np.eye(3, dtype=int) * 4)
    bcc.set_chemical_symbols(rng.choice(['Fe', 'Al'], len(bcc)))  # a random alloy: no sublattice
    assert matching_classes(_profile(to_atomic_structure(bcc))) == []
    # the inverse Heusler (Hg2CuTi type): the same elements' shares on the same lattice, another order
    inverse = crystal(
        ['Ti', 'Hg', 'Hg', 'Cu'],
        [(0, 0, 0), (0.25, 0.25, 0.25), (0.5, 0.5, 0.5), (0.75, 0.75, 0.75)],
        spacegroup=216,
        cellpar=_cub(6.2),
    )
    assert matching_classes(_profile(_structure(inverse))) == []
    # NaTl (B32): each element on two of bcc's four fcc sublattices (a diamond), half and half
    natl = crystal(['Na', 'Tl'], [(0, 0, 0), (0.5, 0.5, 0.5)], spacegroup=227, cellpar=_cub(7.47))
    assert matching_classes(_profile(_structure(natl, repeat=2))) == []


#: non-cubic and cubic compounds with a basis, built with ASE from Wyckoff positions: the arrangement test needs no
#: lattice of one site per point.
COMPOUNDS = {
    'zincblende': lambda: crystal(['Zn', 'S'], [(0, 0, 0), (0.25, 0.25, 0.25)], spacegroup=216, cellpar=_cub(5.41)),
    'wurtzite': lambda: crystal(
        ['Zn', 'O'], [(1 / 3, 2 / 3, 0), (1 / 3, 2 / 3, 0.382)], spacegroup=186, cellpar=[3.25, 3.25, 5.21, 90, 90, 120]
    ),
    'nias': lambda: crystal(
        ['Ni', 'As'], [(0, 0, 0), (1 / 3, 2 / 3, 0.25)], spacegroup=194, cellpar=[3.62, 3.62, 5.03, 90, 90, 120]
    ),
    'l1_0': lambda: crystal(
        ['Cu', 'Au'], [(0, 0, 0), (0.5, 0.5, 0.5)], spacegroup=123, cellpar=[2.8, 2.8, 3.7, 90, 90, 90]
    ),
    **{name: CRYSTALS[name] for name in ('cscl', 'rocksalt', 'l1_2')},
}


def _z(structure, seed=0):
    from aiida_crystalface.core.orientation import periodic_nn_distance

    return arrangement_z(structure, periodic_nn_distance(structure), seed=seed)


@pytest.mark.parametrize('name', sorted(COMPOUNDS))
def test_arrangement_z_calls_ordered_compounds_ordered_under_damage_rotation_and_cell_choice(name):
    atoms = COMPOUNDS[name]()
    pristine = _structure(atoms, repeat=4, rotate_seed=3)
    assert _z(pristine) > 5 * ORDER_Z, name
    damaged = displacements(vacancies(_structure(atoms, repeat=4), 0.25, 5), 0.1, 6)
    assert _z(damaged) > ORDER_Z, name
    # another cell of the same crystal: a sheared supercell
    other = to_atomic_structure(make_supercell(atoms, np.array([[3, 1, 0], [0, 3, 1], [0, 0, 3]])))
    assert _z(other) > 5 * ORDER_Z, name


@pytest.mark.parametrize('lattice', ['fcc', 'bcc', 'hcp', 'diamond'])
def test_arrangement_z_leaves_random_alloys_near_zero(lattice):
    from ase.build import bulk

    a = {'fcc': 3.6, 'bcc': 2.87, 'hcp': 3.2, 'diamond': 5.43}[lattice]
    base = to_atomic_structure(bulk('Cu', lattice, a=a, cubic=lattice != 'hcp').repeat((4, 4, 4)))
    scores = []
    for draw in range(6):
        alloy = substitutions(base, 0.3 + 0.1 * (draw % 2), seed=draw, n_species=1 + draw % 2)
        alloy = displacements(vacancies(alloy, 0.25 * (draw % 3), seed=draw), 0.05 * (draw % 4), seed=draw)
        scores.append(_z(alloy, seed=draw))
    assert max(abs(s) for s in scores) < ORDER_Z, scores


@pytest.mark.parametrize('capacity', [None, 1])
def test_the_periodic_pairs_are_ases_neighbour_list_each_pair_once(capacity):
    """The pairs of a sheared triclinic cell within a reach longer than its shortest height (images of an atom
    itself included), against ASE's neighbour list (float64, its own cell search), which lists each pair both ways;
    ``capacity=1``: the first pass has no room, and the second, sized exactly, gives the same pairs."""
    from ase import Atoms
    from ase.neighborlist import neighbor_list

    from aiida_crystalface.core.ordering import _periodic_pairs

    rng = np.random.default_rng(5)
    cell = np.array([[4.1, 0.0, 0.0], [1.7, 3.9, 0.0], [0.8, -1.1, 3.3]])
    atoms = Atoms('Cu7', scaled_positions=rng.random((7, 3)), cell=cell, pbc=True)
    reach = 5.2
    first, second, distance = _periodic_pairs(atoms.get_scaled_positions(), cell, reach, capacity=capacity)
    assert (first <= second).all()
    i, j, d = neighbor_list('ijd', atoms, reach)
    assert len(d) == 2 * len(distance)
    np.testing.assert_allclose(np.sort(d), np.sort(np.repeat(distance, 2)), rtol=0, atol=1e-9)
    ours = sorted(
        zip(
            np.r_[first, second].tolist(),
            np.r_[second, first].tolist(),
            np.round(np.r_[distance, distance], 6),
            strict=True,
        )
    )
    theirs = sorted(zip(i.tolist(), j.tolist(), np.round(d, 6), strict=True))
    assert ours == theirs


def test_arrangement_z_needs_two_elements_and_enough_atoms():
    from ase.build import bulk

    assert _z(to_atomic_structure(bulk('Cu', 'fcc', a=3.6, cubic=True).repeat(3))) is None
    assert _z(to_atomic_structure(CRYSTALS['cscl']())) is None  # two atoms: every relabelling alike


def test_the_lattice_record_carries_the_arrangement_z_for_compounds_only():
    from ase.build import bulk

    compound = lattice_of(_structure(COMPOUNDS['wurtzite'](), repeat=3)).to_dict()
    assert compound['species_order_z'] > ORDER_Z
    assert 'species_order_z' not in lattice_of(to_atomic_structure(bulk('Cu', 'fcc', a=3.6).repeat(4))).to_dict()
