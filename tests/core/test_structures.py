"""Bad input raises StructureError naming the structure and the problem, through every entry point."""

import numpy as np
import pytest
from ase import Atoms

from aiida_crystalface.core.diffraction import fingerprint
from aiida_crystalface.core.structures import AtomicStructure, StructureError, read_structures, to_atomic_structure

from .conftest import prototype

CELL = 3.0 * np.eye(3)


@pytest.mark.parametrize(
    ('structure', 'message'),
    [
        (AtomicStructure(CELL, np.zeros((0, 3)), [], 'empty-one'), 'empty-one: the structure is empty'),
        (AtomicStructure(np.zeros((3, 3)), [[0, 0, 0]], [29], 'lone'), 'lone: a single isolated atom'),
        (AtomicStructure(CELL, [[0, 0, 0], [0.01, 0, 0]], [29, 29], 'pair'), 'pair: atoms 0 and 1 overlap'),
        (AtomicStructure(CELL, [[0, 0, 0], [2.99, 0, 0]], [29, 29], 'wrap'), 'wrap: atoms 0 and 1 overlap'),
        (AtomicStructure(CELL, [[np.nan, 0, 0]], [29], 'nan'), 'nan: atomic positions contain NaN'),
        (AtomicStructure(CELL, [[np.inf, 0, 0]], [29], 'inf'), 'inf: atomic positions contain NaN or infinite'),
        (AtomicStructure(CELL, [[0, 0, 0]], [120], 'alien'), r'alien: unknown element'),
        (
            AtomicStructure([[1, 0, 0], [2, 0, 0], [0, 0, 1]], [[0, 0, 0], [0.5, 0, 0.5]], [29, 29], 'flat'),
            'flat: the cell has zero volume',
        ),
    ],
)
def test_bad_structure(structure, message):
    with pytest.raises(StructureError, match=message):
        structure.validate()
    with pytest.raises(StructureError, match=message):
        fingerprint(structure)


def test_unknown_symbol():
    with pytest.raises(StructureError, match="unknown element: 'Xx'"):
        to_atomic_structure({'cell': CELL, 'positions': [[0, 0, 0]], 'symbols': ['Xx']})


def test_good_structure_passes():
    assert prototype('diamond').validate().label == 'Cu-diamond'


def test_unreadable_and_missing_files(tmp_path):
    with pytest.raises(StructureError, match='no such file'):
        read_structures(tmp_path / 'missing.cif')
    empty = tmp_path / 'empty.cif'
    empty.write_text('')
    with pytest.raises(StructureError, match='empty'):
        read_structures(empty)
    garbage = tmp_path / 'garbage.cif'
    garbage.write_text('this is not a crystal\n\x00\x01')
    with pytest.raises(StructureError, match=r'garbage\.cif: not a structure file that ASE or pymatgen can read'):
        read_structures(garbage)


@pytest.mark.parametrize(('name', 'fmt'), [('bad.cif', 'cif'), ('POSCAR', 'vasp'), ('bad.extxyz', 'extxyz')])
def test_bad_structures_through_files(tmp_path, name, fmt):
    atoms = Atoms('Cu2', positions=[[0, 0, 0], [0.01, 0, 0]], cell=CELL, pbc=True)
    path = tmp_path / name
    atoms.write(path, format=fmt)
    (structure,) = read_structures(path)
    with pytest.raises(StructureError, match=f'{name}: atoms 0 and 1 overlap'):
        fingerprint(structure)


def test_read_roundtrip_extxyz_frames(tmp_path):
    from ase.build import bulk

    path = tmp_path / 'two.extxyz'
    from ase.io import write

    write(path, [bulk('Cu', 'fcc', a=3.6), bulk('Fe', 'bcc', a=2.87)], format='extxyz')
    frames = read_structures(path)
    assert [f.label for f in frames] == ['two.extxyz@0', 'two.extxyz@1']
    assert frames[1].numbers.tolist() == [26]


@pytest.mark.parametrize(
    ('name', 'text'),
    [
        (
            'alien.extxyz',
            '2\nLattice="3.6 0 0 0 3.6 0 0 0 3.6" Properties=species:S:1:pos:R:3 pbc="T T T"\nCu 0 0 0\nXx 1.8 1.8 0\n',
        ),
        ('POSCAR', 'Cu\n1.0\n3.6 0 0\n0 3.6 0\n0 0 3.6\nQq\n1\nDirect\n0 0 0\n'),
    ],
)
def test_unknown_element_in_a_file_is_named(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(StructureError, match=rf"{name}: unknown element '(Xx|Qq)'"):
        read_structures(path)


def test_cell_heights_are_face_distances():
    from aiida_crystalface.core.structures import cell_heights

    rng = np.random.default_rng(0)
    for _ in range(20):
        cell = rng.normal(size=(3, 3))
        crosses = np.cross(cell[[1, 2, 0]], cell[[2, 0, 1]])
        expected = abs(np.linalg.det(cell)) / np.linalg.norm(crosses, axis=1)
        np.testing.assert_allclose(cell_heights(cell), expected, rtol=1e-12)
    np.testing.assert_allclose(cell_heights(np.diag([2.0, 3.0, 4.0])), [2.0, 3.0, 4.0])
    # A face of zero area: infinite height across it; a zero vector gives zero height along itself.
    np.testing.assert_array_equal(cell_heights(np.diag([1.0, 2.0, 0.0])), [np.inf, np.inf, 0.0])


def test_integer_grid_and_median_match_numpy():
    from aiida_crystalface.core.structures import integer_grid, median

    low, high = np.array([-1, 0, -2]), np.array([1, 2, 0])
    expected = np.stack(np.meshgrid(*(np.arange(a, b + 1) for a, b in zip(low, high, strict=True)), indexing='ij'), -1)
    np.testing.assert_array_equal(integer_grid(low, high), expected.reshape(-1, 3))
    assert not integer_grid(low, high).flags.writeable  # memoised: shared, so never writable
    rng = np.random.default_rng(1)
    for n in (1, 2, 7, 128):
        values = rng.normal(size=n)
        assert median(values) == float(np.median(values))
    assert np.isnan(median(np.array([])))
