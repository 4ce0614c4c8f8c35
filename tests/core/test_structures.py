"""Bad input raises StructureError naming the structure and the problem, through every entry point."""

import numpy as np
import pytest
from ase import Atoms

from aiida_crystalface.core.diffraction import fingerprint
from aiida_crystalface.core.structures import (
    AtomicStructure,
    StructureError,
    read_structures,
    supercell,
    to_atomic_structure,
)

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


def test_saved_structures_come_back_with_their_labels_info_and_fingerprints(tmp_path):
    from aiida_crystalface.core.structures import load_structures, save_structures

    rng = np.random.default_rng(0)
    fcc = supercell(prototype('fcc', 'Al', 4.05, cubic=True), np.diag([3, 3, 3]))
    shaken = fcc.replace(positions=fcc.positions + rng.normal(0, 0.1, fcc.positions.shape), label='shaken fcc')
    shaken = shaken.replace(info={'kind': 'member', 'species': ('Al',), 'level': 0.1, 'params': {'sigma': 0.1}})
    tilted = AtomicStructure([[3.0, 0, 0], [1.5, 2.6, 0], [0.3, 0.2, 5.0]], [[0, 0, 0], [-0.4, 1.0, 2.4]], [30, 8])
    exact = save_structures(tmp_path / 'exact.npz', [shaken, tilted], extra={'recipe': {'seed': 3}})
    back, extra = load_structures(exact, extra=True)
    assert extra == {'recipe': {'seed': 3}} and [s.label for s in back] == ['shaken fcc', 'structure']
    assert back[0].info == {'kind': 'member', 'species': ['Al'], 'level': 0.1, 'params': {'sigma': 0.1}}
    np.testing.assert_array_equal(back[0].positions, shaken.positions)
    np.testing.assert_array_equal(back[1].numbers, tilted.numbers)
    # Compact: 16-bit fractional coordinates, wrapped into the cell; the same crystal to well under 0.001 angstrom.
    compact = load_structures(save_structures(tmp_path / 'compact.npz', [shaken, tilted], compact=True))
    for before, after in zip([shaken, tilted], compact, strict=True):
        frac = np.linalg.solve(before.cell.T, (after.positions - before.positions).T).T
        shift = before.cell.T @ (frac - np.round(frac)).T
        assert np.abs(shift).max() < 1e-3
    settings = dict(orientation='standard', channels=3)
    from aiida_crystalface.core.diffraction import FingerprintSettings

    a, b = (fingerprint(s, FingerprintSettings(**settings)) for s in (shaken, compact[0]))
    assert np.abs(a - b).max() < 1e-3
    assert (tmp_path / 'compact.npz').stat().st_size < (tmp_path / 'exact.npz').stat().st_size


def test_loading_a_file_that_is_not_a_structures_file_names_it(tmp_path):
    from aiida_crystalface.core.structures import load_structures, save_structures

    with pytest.raises(StructureError, match='no such file'):
        load_structures(tmp_path / 'missing.npz')
    other = tmp_path / 'images.npz'
    np.savez(other, images=np.zeros((2, 3)))
    with pytest.raises(StructureError, match=r'images\.npz: not a structures file'):
        load_structures(other)
    (tmp_path / 'text.npz').write_text('hello')
    with pytest.raises(StructureError, match=r'text\.npz: not a structures file'):
        load_structures(tmp_path / 'text.npz')
    cluster = AtomicStructure(np.zeros((3, 3)), [[0, 0, 0], [2.5, 0, 0]], [29, 29], label='dimer', pbc=False)
    with pytest.raises(StructureError, match='dimer: not periodic'):
        save_structures(tmp_path / 'c.npz', [cluster], compact=True)
    assert load_structures(save_structures(tmp_path / 'c.npz', [cluster]))[0].pbc == (False, False, False)
