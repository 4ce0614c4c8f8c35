"""The bulk prototype classes beyond cubic (core.classes): definitions, structures, species, items."""

import itertools

import numpy as np
import pytest

from aiida_crystalface.core import classes
from aiida_crystalface.core.classes import (
    BULK_CLASSES,
    SAME_LABEL,
    SPECIES_BLIND_SAME,
    class_items,
    class_species,
    class_structure,
    contact_ratio,
    species_choices,
)
from aiida_crystalface.core.openset import CLASS_PROTOTYPES, aflow_prototypes, class_lattice
from aiida_crystalface.core.prototypes import atomic_radii, spacegroup_number, symmetry_dataset
from aiida_crystalface.core.structures import atomic_number, to_atomic_structure

REQUIRED = (
    'fcc bcc hcp dhcp diamond lonsdaleite sc beta_sn bct_in bct_pa alpha_as alpha_hg alpha_sm graphite alpha_u '
    'alpha_ga black_p alpha_i2 gamma_pu beta_np gamma_n gamma_se simple_hexagonal rocksalt cscl zincblende wurtzite '
    'nias l1_0 l1_2 feb crb mnp fesi perovskite fluorite'
).split()

_FAMILY = [(2, 'a'), (15, 'm'), (74, 'o'), (142, 't'), (194, 'h'), (230, 'c')]


def _signature(structure, groups):
    """Space group and the occupied Wyckoff orbits (letter, species group) by spglib at symprec 1e-3."""
    dataset = symmetry_dataset(structure, 1e-3)
    orbits = sorted(set(dataset.crystallographic_orbits))
    return int(dataset.number), tuple(sorted((dataset.wyckoffs[o], int(groups[o])) for o in orbits))


def test_class_list():
    assert len(BULK_CLASSES) >= 50
    assert len(set(BULK_CLASSES)) == len(BULK_CLASSES)
    assert not set(REQUIRED) - set(BULK_CLASSES)
    for name, record in CLASS_PROTOTYPES.items():
        assert BULK_CLASSES[name]['aflow'] == record['aflow']
        assert BULK_CLASSES[name]['space_group'] == record['space_group']
    for record in BULK_CLASSES.values():
        assert set(record) == {'aflow', 'space_group', 'strukturbericht', 'kind'}
        assert record['kind'] in ('elemental', 'binary', 'ternary')
        assert int(record['aflow'].split('_')[2]) == record['space_group']


def test_labels_exist_in_the_library():
    library = {(tags['aflow'], tags['strukturbericht']) for tags, _ in aflow_prototypes()}
    labels = {tags['aflow'] for tags, _ in aflow_prototypes()}
    for name, record in BULK_CLASSES.items():
        assert record['aflow'] in labels, name
        if name not in classes._BUILT:
            assert (record['aflow'], record['strukturbericht']) in library, name


@pytest.mark.parametrize('name', list(BULK_CLASSES))
def test_structure_symmetry_and_pearson(name):
    record = BULK_CLASSES[name]
    structure = class_structure(name)
    dataset = symmetry_dataset(structure, 1e-3)
    assert int(dataset.number) == record['space_group']
    # Species groups and the label's stoichiometry agree.
    species = class_species(name)
    counts = [int(np.sum(structure.numbers == atomic_number(s))) for s in species]
    stoichiometry = classes._stoichiometry(record['aflow'])
    assert len(counts) == len(stoichiometry) == {'elemental': 1, 'binary': 2, 'ternary': 3}[record['kind']]
    assert np.allclose(np.array(counts) / sum(counts), np.array(stoichiometry) / sum(stoichiometry))
    # Pearson symbol: crystal family from the space group, centring from spglib's symbol, atoms of the cell.
    bravais, _ = class_lattice(record['aflow'])
    family = next(letter for last, letter in _FAMILY if dataset.number <= last)
    centring = dataset.international[0]
    centring = 'C' if centring in 'ABC' else centring
    if family == 'h' and centring == 'R':
        assert bravais == 'hR'
    else:
        assert bravais == family + centring
    pearson_atoms = int(record['aflow'].split('_')[1][2:])
    std_atoms = len(dataset.std_types)
    assert (std_atoms // 3 if bravais == 'hR' else std_atoms) == pearson_atoms


ASE_CASES = [
    ('fcc', ('Cu',), dict(name='Cu', crystalstructure='fcc', a=3.6)),
    ('bcc', ('Fe',), dict(name='Fe', crystalstructure='bcc', a=2.87)),
    ('hcp', ('Mg',), dict(name='Mg', crystalstructure='hcp', a=3.21, c=5.21)),
    ('diamond', ('Si',), dict(name='Si', crystalstructure='diamond', a=5.43)),
    ('rocksalt', ('Cl', 'Na'), dict(name='NaCl', crystalstructure='rocksalt', a=5.64)),
    ('cscl', ('Cl', 'Cs'), dict(name='CsCl', crystalstructure='cesiumchloride', a=4.12)),
    ('zincblende', ('S', 'Zn'), dict(name='ZnS', crystalstructure='zincblende', a=5.41)),
    ('wurtzite', ('O', 'Zn'), dict(name='ZnO', crystalstructure='wurtzite', a=3.25, c=5.21)),
    ('fluorite', ('Ca', 'F'), dict(name='CaF2', crystalstructure='fluorite', a=5.46)),
]


def _primitive_atoms(structure):
    dataset = symmetry_dataset(structure, 1e-3)
    return len(set(dataset.mapping_to_primitive))


@pytest.mark.parametrize(('name', 'species', 'kwargs'), ASE_CASES)
def test_agrees_with_ase_bulk(name, species, kwargs):
    from ase.build import bulk

    ours = class_structure(name, species)
    theirs = to_atomic_structure(bulk(**kwargs))
    assert spacegroup_number(ours) == spacegroup_number(theirs) == BULK_CLASSES[name]['space_group']
    assert _primitive_atoms(ours) == _primitive_atoms(theirs)
    assert sorted(ours.numbers) == sorted(theirs.numbers)  # the same primitive cell content


@pytest.mark.parametrize(
    ('name', 'species'),
    [('fcc', ('Al',)), ('hcp', ('Ti',)), ('rocksalt', ('O', 'Mg')), ('perovskite', ('Sr', 'O', 'Ti')),
     ('spinel', ('Fe', 'Co', 'S')), ('alpha_sm', ('Nd',)), ('c36_laves', ('Zr', 'Cr'))],
)  # fmt: skip
def test_new_species_rescale_to_contact(name, species):
    base = class_structure(name)
    new = class_structure(name, species)
    assert new.info['species'] == species and new.info['label'] == name
    assert new.info['aflow'] == BULK_CLASSES[name]['aflow'] and new.info['seed'] == 0
    assert contact_ratio(new, classes._groups(name)) == pytest.approx(1.0, abs=1e-6)
    assert new.info['scale'] > 0
    assert np.allclose(new.cell, base.cell * new.info['scale'])
    assert np.allclose(new.scaled_positions, base.scaled_positions)
    assert spacegroup_number(new) == BULK_CLASSES[name]['space_group']


def test_elemental_contact_is_twice_the_radius():
    from aiida_crystalface.core.defects import nearest_neighbour_distance

    for name, symbol in [('fcc', 'Cu'), ('bct_pa', 'Zr'), ('graphite', 'Si')]:
        structure = class_structure(name, (symbol,))
        assert nearest_neighbour_distance(structure) == pytest.approx(2 * atomic_radii()[atomic_number(symbol)])


def test_structures_are_copies():
    first = class_structure('hcp')
    first.positions[:] += 1.0
    first.numbers[:] = 1
    again = class_structure('hcp')
    assert not np.allclose(again.positions, first.positions) and set(again.numbers) == {atomic_number('Mg')}


def test_random_species_is_seeded():
    a = class_structure('perovskite', 'random', seed=3)
    b = class_structure('perovskite', 'random', seed=3)
    assert a.info['species'] == b.info['species'] and a.info['seed'] == 3
    assert a.info['species'] in species_choices('perovskite')
    assert len({class_structure('perovskite', 'random', seed=s).info['species'] for s in range(6)}) > 1


def test_classes_are_distinct_or_documented():
    real, blind = {}, {}
    for name in BULK_CLASSES:
        structure = class_structure(name)
        real[name] = _signature(structure, classes._groups(name))
        blind[name] = _signature(structure.replace(numbers=np.ones(len(structure), dtype=int)), [0] * len(structure))
    pairs = list(itertools.combinations(sorted(BULK_CLASSES), 2))
    same = {(a, b) for a, b in pairs if real[a] == real[b]}
    assert same == set(SAME_LABEL)
    for a, b in SAME_LABEL:  # they share a label and differ in their free parameters
        assert BULK_CLASSES[a]['aflow'] == BULK_CLASSES[b]['aflow']
        x, y = (symmetry_dataset(class_structure(n), 1e-3) for n in (a, b))
        shape = [np.linalg.norm(d.std_lattice, axis=1) / np.linalg.norm(d.std_lattice[0]) for d in (x, y)]
        sites = [np.sort(d.std_positions.ravel() % 1) for d in (x, y)]
        assert not (np.allclose(*shape, atol=1e-3) and np.allclose(*sites, atol=1e-3)), (a, b)
    blind_same = {(a, b) for a, b in pairs if blind[a] == blind[b] and (a, b) not in same}
    assert blind_same == set(SPECIES_BLIND_SAME)
    assert ('rocksalt', 'sc') in blind_same and ('fcc', 'l1_2') in blind_same


def test_species_choices():
    for name in ('fcc', 'graphite'):
        choices = species_choices(name)
        assert all(len(c) == 1 for c in choices) and ('Cu',) in choices and ('H',) not in choices
    binary = species_choices('rocksalt')
    assert ('Cl', 'Na') in binary and all(c[0] in classes.ANION_LIKE for c in binary)
    assert all(c[1] not in classes.ANION_LIKE for c in binary)
    ternary = species_choices('heusler')
    assert all(len(set(c)) == 3 for c in ternary)


def test_class_items():
    names = ['hcp', 'rocksalt', 'perovskite']
    a = class_items(names, species_per_class=3, supercell_atoms=60, seed=5)
    b = class_items(names, species_per_class=3, supercell_atoms=60, seed=5)
    c = class_items(names, species_per_class=3, supercell_atoms=60, seed=6)
    assert len(a) == 9
    assert [i.info['label'] for i in a] == [n for n in names for _ in range(3)]
    for x, y in zip(a, b, strict=True):
        assert x.info == y.info and np.array_equal(x.numbers, y.numbers) and np.allclose(x.positions, y.positions)
    assert [i.info['species'] for i in a] != [i.info['species'] for i in c]
    assert all(len(i) >= 60 and i.info['seed'] == 5 for i in a)
    assert len({i.info['species'] for i in a[:3]}) == 3
    # A class's items do not depend on which other classes are asked for.
    alone = class_items(['rocksalt'], species_per_class=3, supercell_atoms=60, seed=5)
    assert [i.info['species'] for i in alone] == [i.info['species'] for i in a[3:6]]


def test_bad_input():
    with pytest.raises(ValueError, match='unknown bulk class'):
        class_structure('nope')
    with pytest.raises(ValueError, match='unknown bulk class'):
        class_items(['fcc', 'nope'])
    with pytest.raises(ValueError, match='2 species'):
        class_structure('rocksalt', ('Na',))
    with pytest.raises(ValueError, match='1 species'):
        class_structure('fcc', 'Cu')
    with pytest.raises(ValueError, match='3 species'):
        class_structure('perovskite', ('Ca', 'Ti', 'O', 'N'))
    with pytest.raises(ValueError, match='must differ'):
        class_structure('rocksalt', ('Na', 'Na'))
    with pytest.raises(ValueError, match='no tabulated atomic radius'):
        class_structure('fcc', ('Xe',))
    with pytest.raises(ValueError, match='species_per_class'):
        class_items(['fcc'], species_per_class=0)


def test_indium_and_anatase_are_the_crystals_their_names_say():
    """The library's A6 and anatase entries are not indium and anatase (``classes._bct_in``, ``classes._anatase``):
    the class structures are built from the literature values instead. Checked on the geometry that tells them apart."""
    from ase import Atoms
    from ase.neighborlist import neighbor_list

    indium = class_structure('bct_in')
    dataset = symmetry_dataset(indium, 1e-3)
    a, _, c = np.linalg.norm(dataset.std_lattice, axis=1)
    assert c / a == pytest.approx(1.521, abs=0.002)  # near fcc (sqrt 2), not near bcc (1)

    anatase = class_structure('anatase')
    atoms = Atoms(numbers=anatase.numbers, positions=anatase.positions, cell=anatase.cell, pbc=True)
    i, j, d = neighbor_list('ijd', atoms, 2.2)
    titanium = [k for k, z in enumerate(atoms.numbers) if z == 22]
    for k in titanium:  # an octahedron: four O at 1.93 and two at 1.98 angstrom
        bonds = np.sort(d[(i == k) & (atoms.numbers[j] == 8)])
        assert len(bonds) == 6
        assert np.allclose(bonds, [1.934] * 4 + [1.980] * 2, atol=0.005)
