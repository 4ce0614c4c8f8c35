"""The cubic-lattice test of the orientation step and the lattice rule of the open-set answer (issue 13)."""

from __future__ import annotations

import numpy as np
import pytest
from ase.build import bulk

from aiida_crystalface.core.defects import displacements, vacancies
from aiida_crystalface.core.openset import class_lattice, lattice_admits
from aiida_crystalface.core.orientation import CUBIC_TOLERANCE, cubic_bravais, find_lattice
from aiida_crystalface.core.presentations import rotated
from aiida_crystalface.core.structures import to_atomic_structure


@pytest.mark.parametrize(
    ('atoms', 'bravais', 'sites'),
    [
        (bulk('Cu', 'fcc', a=3.61) * (5, 5, 5), 'cF', 1),
        (bulk('Fe', 'bcc', a=2.87) * (5, 5, 5), 'cI', 1),
        (bulk('Si', 'diamond', a=5.43) * (4, 4, 4), 'cF', 2),
        (bulk('Po', 'sc', a=3.35) * (5, 5, 5), 'cP', 1),
        (bulk('NaCl', 'rocksalt', a=5.64) * (3, 3, 3), 'cP', 1),  # species-blind: sc of half the edge
        (bulk('Mg', 'hcp') * (4, 4, 3), '', 2),
        (bulk('In', 'bct', a=3.25, c=4.95) * (4, 4, 4), '', 1),
    ],
)
def test_bravais_lattice_of_damaged_crystals_in_any_cell(atoms, bravais, sites):
    """The lattice found is exact: 50 % vacancies + 0.1 A in a rotated primitive supercell keep it."""
    damaged = rotated(displacements(vacancies(to_atomic_structure(atoms), 0.5, seed=1), 0.1, seed=2), seed=3)
    for structure in (atoms, damaged):
        lattice = find_lattice(structure)
        assert lattice.found
        assert lattice.bravais == bravais, (lattice.bravais, lattice.cubic_deviation)
        if bravais:
            assert lattice.cubic_deviation < 1e-9
            assert lattice.sites == sites
        record = lattice.to_dict()
        assert record['lattice_bravais'] == bravais


def test_strain_within_and_beyond_the_tolerance():
    cube = np.eye(3) * 4.0
    fcc = np.array([[0, 2, 2], [2, 0, 2], [2, 2, 0]], dtype=float)
    assert cubic_bravais(fcc, cube) == ('cF', 0.0)
    for strain, expected in ((0.001, 'cF'), (0.01, '')):
        stretch = np.diag([1.0, 1.0, 1.0 + strain])
        name, deviation = cubic_bravais(fcc @ stretch, cube @ stretch)
        assert name == expected
        assert deviation == pytest.approx(4 / 3 * strain, rel=0.02)
    assert CUBIC_TOLERANCE == pytest.approx(0.005)
    # a C-centred cube is not a cubic Bravais lattice (it is primitive tetragonal)
    c_centred = np.array([[2, 2, 0], [2, -2, 0], [0, 0, 4]], dtype=float)
    assert cubic_bravais(c_centred, cube)[0] == ''


def test_class_lattice_from_the_aflow_label():
    assert class_lattice('A_cF4_225_a') == ('cF', 1)
    assert class_lattice('A_cF8_227_a') == ('cF', 2)
    assert class_lattice('A_cI2_229_a') == ('cI', 1)
    assert class_lattice('A_cP1_221_a') == ('cP', 1)
    assert class_lattice('A_hP2_194_c') == ('hP', 2)
    assert class_lattice('AB_cP2_221_a_b') == ('cP', 2)
    assert class_lattice('A_hR2_166_c') == ('hR', 2)  # alpha-As: the rhombohedral cell's atoms
    assert class_lattice('A_hR1_166_a') == ('hR', 1)
    with pytest.raises(ValueError, match='not an AFLOW prototype label'):
        class_lattice('fcc')


def test_lattice_admits():
    record = find_lattice(bulk('Cu', 'fcc', a=3.61) * (4, 4, 4)).to_dict()
    assert lattice_admits(record, 'A_cF4_225_a') is True
    assert lattice_admits(record, 'A_cF8_227_a') is False  # diamond needs two sites per point
    assert lattice_admits(record, 'A_cI2_229_a') is False
    assert lattice_admits(record, 'A_hP2_194_c') is False  # a non-cubic class needs a non-cubic lattice
    hcp = find_lattice(bulk('Zn', 'hcp') * (4, 4, 3)).to_dict()
    assert lattice_admits(hcp, 'A_cP1_221_a') is False
    assert lattice_admits(hcp, 'A_hP2_194_c') is True
    # a record that does not decide it
    assert lattice_admits({'lattice_found': True}, 'A_cF4_225_a') is None
    assert lattice_admits({'lattice_found': False, 'lattice_bravais': ''}, 'A_cF4_225_a') is None


def test_lattice_admits_the_lattices_damage_gives():
    """ReO3 with displacements: the orientation step sees the simple cubic lattice of half the edge, one site per
    point (the reflections with an odd index, of half strength, fall below the coherence threshold)."""
    from aiida_crystalface.core.bulkset import bulk_member
    from aiida_crystalface.core.orientation import standard_setting

    record = standard_setting(
        find_lattice(bulk_member('reo3', ('W', 'O'), 'displacements 0.10 A', seed=0), molecular=True)
    ).to_dict()
    assert (record['lattice_standard'], record['sites_per_lattice_point']) == ('cP', 1)
    expected = {'bravais': 'cP', 'sites': 4}
    assert lattice_admits(record, 'A3B_cP4_221_d_a', expected) is False
    assert lattice_admits(record, 'A3B_cP4_221_d_a', {**expected, 'seen': [['cP', 4], ['cP', 1]]}) is True
    assert lattice_admits(record, 'A3B_cP4_221_d_a', {**expected, 'seen': [['tP', 1]]}) is False
    pristine = standard_setting(find_lattice(bulk_member('reo3', ('W', 'O'), seed=0), molecular=True)).to_dict()
    assert lattice_admits(pristine, 'A3B_cP4_221_d_a', {**expected, 'seen': []}) is True
