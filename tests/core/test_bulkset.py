"""The bulk prototype set (core.bulkset), the molecular-crystal rule of the orientation step and the lattice rule
with a class's expected lattice."""

import numpy as np
import pytest

from aiida_crystalface.core import bulkset
from aiida_crystalface.core.classes import BULK_CLASSES, class_structure
from aiida_crystalface.core.openset import expected_lattice, lattice_admits, open_set_split, supercell_of_at_least
from aiida_crystalface.core.orientation import find_lattice, standard_setting
from aiida_crystalface.core.structures import AtomicStructure, atomic_number


def test_molecular_crystals_have_a_lattice_molecules_in_a_box_do_not():
    nitrogen = supercell_of_at_least(class_structure('gamma_n', ('N',)), 100)
    assert not find_lattice(nitrogen).found  # the paper's rule: 3.6 bond lengths between lattice points
    found = standard_setting(find_lattice(nitrogen, molecular=True))
    assert found.found and found.to_dict()['lattice_standard'] == 'tP'
    methane = np.array(
        [[0, 0, 0], [0.63, 0.63, 0.63], [-0.63, -0.63, 0.63], [-0.63, 0.63, -0.63], [0.63, -0.63, -0.63]]
    )
    for edge in (6.0, 12.0):
        box = AtomicStructure(np.eye(3) * edge, methane + edge / 2, [6, 1, 1, 1, 1], 'methane')
        lattice = find_lattice(box, molecular=True)
        assert not lattice.found and 'second-neighbour' in lattice.reason


def test_expected_lattice_decides_the_rule():
    hcp = expected_lattice(class_structure('hcp'))
    assert hcp == {'bravais': 'hP', 'sites': 2}
    # Species ignored: rocksalt's lattice is simple cubic of half the edge, one site.
    assert expected_lattice(class_structure('rocksalt')) == {'bravais': 'cP', 'sites': 1}
    record = standard_setting(find_lattice(supercell_of_at_least(class_structure('hcp', ('Mg',)), 100))).to_dict()
    assert lattice_admits(record, 'A_hP2_194_c', hcp) is True
    assert lattice_admits(record, 'A_cF4_225_a', {'bravais': 'cF', 'sites': 1}) is False
    # Without an expected lattice, the cubic rule of the four-class model: a non-cubic lattice admits hcp.
    assert lattice_admits(record, 'A_hP2_194_c') is True
    assert lattice_admits({'lattice_found': False}, 'A_hP2_194_c', hcp) is None


def test_signatures_group_the_species_blind_pairs():
    assert set(bulkset.signature_parent(class_structure('wc'))) == {'hcp', 'wc', 'd0_19'}
    assert set(bulkset.signature_parent(class_structure('rocksalt'))) == {'sc', 'rocksalt'}
    assert bulkset.signature_parent(class_structure('rutile')) == ('rutile',)
    # Independent of the origin spglib picks: zincblende comes out on 8b of Fd-3m, diamond on 8a.
    assert {'diamond', 'zincblende'} <= set(bulkset.signature_parent(class_structure('zincblende')))
    assert {'bcc', 'cscl'} <= set(bulkset.signature_parent(class_structure('cscl')))


def test_split_is_disjoint_and_leaves_out_the_classes():
    split = bulkset.bulk_split(0)
    parts = [set(split[p]['prototypes']) for p in ('train', 'calibration', 'test')]
    assert all(parts) and not (parts[0] & parts[1]) and not (parts[0] & parts[2]) and not (parts[1] & parts[2])
    labels = {record['aflow'] for record in BULK_CLASSES.values()}
    everything = set().union(*parts)
    assert not everything & labels
    assert not everything & set(split['train']['parents'])
    assert 'A3B_cI8_229_b_a' in split['train']['parents']  # species-blind bcc


def test_species_tuples_hold_out_elements():
    species = open_set_split(0)
    train, test = set(species['train']['species']), set(species['test']['species'])
    for name in ('hcp', 'rocksalt', 'perovskite'):
        for combo in bulkset.species_tuples(name, 'train'):
            assert set(combo) <= train
        tests = bulkset.species_tuples(name, 'test')
        assert tests and all(set(combo) & test for combo in tests)
    for combo in bulkset.species_tuples('rocksalt', 'test'):
        a, b = sorted(atomic_number(s) for s in combo)
        assert (b - a) / (b + a) >= bulkset.MIN_RELATIVE_CONTRAST
    with pytest.raises(ValueError, match='part'):
        bulkset.species_tuples('hcp', 'validation')


def test_members_are_damaged_presented_and_labelled():
    a = bulkset.bulk_member('hcp', ('Mg',), 'vacancies 25 %', 'conventional', seed=3)
    b = bulkset.bulk_member('hcp', ('Mg',), 'vacancies 25 %', 'primitive-rotated', seed=3)
    assert a.info['label'] == b.info['label'] == 'hcp' and a.info['kind'] == 'member'
    assert 75 <= len(a) < 200 and 75 <= len(b) < 200
    assert not np.allclose(np.abs(a.cell), np.abs(b.cell))
    again = bulkset.bulk_member('hcp', ('Mg',), 'vacancies 25 %', 'conventional', seed=3)
    np.testing.assert_array_equal(again.positions, a.positions)
    with pytest.raises(ValueError, match='presentation'):
        bulkset.bulk_member('hcp', ('Mg',), 'pristine', 'sideways')


def test_items_of_a_part():
    items = bulkset.bulk_items('test', 0, classes=['hcp', 'rocksalt'], draws=1, species_per_class=1, outsiders=False)
    assert len(items) == 2 * len(bulkset.VARIANTS)
    assert {i.info['label'] for i in items} == {'hcp', 'rocksalt'}
    assert {i.info['variant'] for i in items} == set(bulkset.VARIANTS)


def test_relative_contrast_and_the_tuples_it_leaves_out():
    assert bulkset.relative_contrast(('Na', 'Cl')) == pytest.approx((17 - 11) / (17 + 11))
    assert bulkset.relative_contrast(('K', 'Cl')) == pytest.approx(2 / 36)  # KCl: below the rule
    assert bulkset.relative_contrast(('Cu', 'Au', 'Zn')) == pytest.approx(1 / 59)  # the closest pair decides
    assert bulkset.relative_contrast(('Mg',)) == 1.0
    kept, left = bulkset.species_tuples('rocksalt', 'test'), bulkset.low_contrast_tuples('rocksalt', 'test')
    assert kept and left and not set(kept) & set(left)
    assert all(bulkset.relative_contrast(c) < bulkset.MIN_RELATIVE_CONTRAST for c in left)
    assert all(bulkset.relative_contrast(c) >= bulkset.MIN_RELATIVE_CONTRAST for c in kept)
    assert bulkset.low_contrast_tuples('hcp', 'test') == ()


def test_species_signature_tells_prototypes_not_species():
    """L1_2 Cu3Au and Ni3Al share a signature, L1_2 and D0_22 (both A3B on fcc) do not; built with ASE, not the
    library."""
    from ase.spacegroup import crystal

    from aiida_crystalface.core.bulkset import species_signature

    def l12(a, b, edge):
        return crystal([b, a], [(0, 0, 0), (0, 0.5, 0.5)], spacegroup=221, cellpar=edge)

    d022 = crystal(
        ['Al', 'Ti', 'Al'],
        [(0, 0, 0.5), (0, 0, 0), (0, 0.5, 0.25)],
        spacegroup=139,
        cellpar=[3.85, 3.85, 8.6, 90, 90, 90],
    )
    assert species_signature(l12('Cu', 'Au', 3.75)) == species_signature(l12('Ni', 'Al', 3.57))
    assert species_signature(l12('Cu', 'Au', 3.75)) != species_signature(d022)
    assert species_signature(l12('Cu', 'Au', 3.75)) in bulkset._class_species_signatures()


def test_ordered_superstructures_are_seeded_outsiders_on_a_class_lattice_and_no_class():
    from aiida_crystalface.core.bulkset import (
        SUPERSTRUCTURE_PARENTS,
        _class_species_signatures,
        ordered_superstructure,
        species_signature,
    )
    from aiida_crystalface.core.openset import open_set_split

    items = _seeded(ordered_superstructure, 12)
    train = set(open_set_split(0)['train']['species'])
    for item in items:
        info = item.info
        assert info['kind'] == 'outsider' and info['label'] == 'unknown' and info['source'] == 'ordered'
        assert info['parent'] in SUPERSTRUCTURE_PARENTS and len(item) >= 60  # >= 100 before vacancies
        assert set(info['species']) <= train and 2 <= len(info['species']) <= 3
        assert species_signature(item) not in _class_species_signatures()
    pristine = [i for i in items if i.info['variant'] == 'pristine' and not i.info['distorted']]
    for item in pristine:  # an undistorted decoration is its parent lattice with species ignored
        assert item.info['parent'] in bulkset.signature_parent(item)
    assert any(i.info['distorted'] for i in items) and any(not i.info['distorted'] for i in items)
    test_species = set(open_set_split(0)['test']['species'])
    assert all(set(ordered_superstructure(s, 'test').info['species']) <= test_species for s in range(3))


def test_cubic_elemental_crystals_are_seeded_one_element_cubic_outsiders_and_no_class():
    pytest.importorskip('pyxtal')
    from aiida_crystalface.core.bulkset import CUBIC_GROUPS, cubic_elemental_crystal

    items = _seeded(cubic_elemental_crystal, 8)
    calibration = set(open_set_split(0)['calibration']['species'])
    for item in items:
        info = item.info
        assert info['kind'] == 'outsider' and info['label'] == 'unknown' and info['source'] == 'cubic-elemental'
        assert CUBIC_GROUPS[0] <= info['space_group'] < CUBIC_GROUPS[1] and info['variant'] in bulkset.VARIANTS
        assert len(set(item.numbers.tolist())) == 1 and set(info['species']) <= calibration
        assert len(item) >= 50  # >= 100 before vacancies
    pristine = [i for i in items if i.info['variant'] == 'pristine']
    assert all(not bulkset.signature_parent(i) for i in pristine)  # redrawn where it is a class
    test_species = set(open_set_split(0)['test']['species'])
    assert all(set(cubic_elemental_crystal(s, 'test').info['species']) <= test_species for s in range(3))


def test_vacancy_ordered_superstructures_are_emptier_than_their_parent_and_no_class():
    from aiida_crystalface.core.bulkset import ordered_superstructure, signature_parent

    items = [ordered_superstructure(seed, vacancies=True) for seed in range(12)]
    again = ordered_superstructure(4, vacancies=True)
    assert np.array_equal(again.positions, items[4].positions) and np.array_equal(again.numbers, items[4].numbers)
    train = set(open_set_split(0)['train']['species'])
    for item in items:
        info = item.info
        assert info['source'] == 'vacancy-ordered' and info['kind'] == 'outsider' and info['label'] == 'unknown'
        assert set(info['species']) <= train and 1 <= len(info['species']) <= 2
    plain = [i for i in items if i.info['variant'] == 'pristine' and not i.info['distorted']]
    assert plain  # two of these twelve seeds
    for item in plain:
        parent = class_structure(item.info['parent'], (item.info['species'][0],))
        density = len(item) / abs(np.linalg.det(item.cell))
        assert density < 0.99 * len(parent) / abs(np.linalg.det(parent.cell))  # some lattice points are empty
        assert not signature_parent(item)
    # The plain superstructures are unchanged by the new switch.
    assert ordered_superstructure(3).info['source'] == 'ordered'


def _seeded(make, count: int) -> list:
    """``make(seed)`` for seeds 0..count-1, checked to give the same structure again for the same seed."""
    items = [make(seed) for seed in range(count)]
    again = make(count // 2)
    assert np.array_equal(again.positions, items[count // 2].positions)
    assert np.array_equal(again.numbers, items[count // 2].numbers)
    return items
