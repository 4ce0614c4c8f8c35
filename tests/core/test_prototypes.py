"""Pristine prototypes: spglib confirms every label, lattice constants follow the radii, items rebuild exactly."""

from __future__ import annotations

import collections

import numpy as np
import pytest

from aiida_crystalface.core.defects import nearest_neighbour_distance
from aiida_crystalface.core.prototypes import (
    CLASSES,
    DEFAULT_TARGETS,
    REPRESENTATIONS,
    SPACEGROUPS,
    PrototypeError,
    atomic_radii,
    default_species,
    lattice_constant,
    pristine_items,
    prototype,
    rebuild_item,
    spacegroup_number,
)

SPECIES = ['H', 'Cu', 'Si', 'W', 'U']


@pytest.fixture(scope='module')
def items():
    return pristine_items(SPECIES, seed=7)


def test_classes_order_and_spacegroups():
    assert CLASSES == ('fcc', 'diamond', 'bcc', 'sc')
    assert [SPACEGROUPS[c] for c in CLASSES] == [225, 227, 229, 221]


def test_species_cover_the_paper():
    species = default_species()
    assert len(species) >= 83
    assert {'H', 'Cu', 'Fe', 'Si', 'U'} <= set(species)
    assert 'He' not in species  # no tabulated radius: left out, not invented


def test_counts_are_exact(items):
    assert len(items) == len(SPECIES) * len(CLASSES) * len(REPRESENTATIONS) * len(DEFAULT_TARGETS)
    per_class = collections.Counter(item.info['label'] for item in items)
    assert set(per_class.values()) == {len(SPECIES) * len(REPRESENTATIONS) * len(DEFAULT_TARGETS)}
    assert [item.info['index'] for item in items] == list(range(len(items)))


def test_every_item_passes_spglib_with_its_label(items):
    for item in items:
        assert item.info['spacegroup'] == SPACEGROUPS[item.info['label']]
        # An independent check at a looser and a tighter tolerance than the builder's.
        assert spacegroup_number(item, symprec=1e-5) == SPACEGROUPS[item.info['label']], item.label
        assert spacegroup_number(item, symprec=1e-1) == SPACEGROUPS[item.info['label']], item.label


def test_atom_counts_per_representation(items):
    conventional = {'fcc': 4, 'diamond': 8, 'bcc': 2, 'sc': 1}
    primitive = {'fcc': 1, 'diamond': 2, 'bcc': 1, 'sc': 1}
    for item in items:
        label, rep = item.info['label'], item.info['representation']
        expected = {'conventional': conventional, 'primitive': primitive}.get(
            rep, {k: 4 * v for k, v in primitive.items()}
        )
        assert len(item) == expected[label]


def test_nearest_neighbours_follow_the_radii(items):
    radii = atomic_radii()
    for item in items:
        d_nn = nearest_neighbour_distance(item)
        base = 2 * radii[int(item.numbers[0])]
        assert 0.9 * base - 1e-9 <= d_nn <= 1.1 * base + 1e-9
        ratio = item.info['lattice_constant'] / lattice_constant(item.info['species'], item.info['label'])
        assert d_nn == pytest.approx(base * ratio, rel=1e-9)


def test_lattice_constants_vary(items):
    cu_fcc = [
        item.info['lattice_constant'] for item in items if item.info['species'] == 'Cu' and item.info['label'] == 'fcc'
    ]
    assert len(set(np.round(cu_fcc, 6))) == len(cu_fcc)
    assert lattice_constant('Cu', 'fcc') == pytest.approx(2 * 1.35 * np.sqrt(2))


def test_info_and_source(items):
    item = items[0]
    for key in (
        'label',
        'spacegroup',
        'species',
        'lattice_constant',
        'representation',
        'target_atoms',
        'seed',
        'index',
    ):
        assert key in item.info
    assert item.info['source'].startswith(f'prototype:{item.info["label"]}:{item.info["species"]}:a=')
    assert item.label == item.info['source']


def test_same_seed_same_items_other_seed_different(items):
    again = pristine_items(SPECIES[:2], seed=7)
    for a, b in zip(again, items, strict=False):
        assert np.array_equal(a.positions, b.positions) and np.array_equal(a.cell, b.cell)
    other = pristine_items(SPECIES[:2], seed=8)
    assert not np.allclose(other[0].cell, again[0].cell)


def test_rebuild_item_from_its_info(items):
    for item in items[::17]:
        info = item.info
        rebuilt = rebuild_item(
            info['species'], info['label'], info['representation'], target_atoms=info['target_atoms'], seed=info['seed']
        )
        assert np.array_equal(rebuilt.positions, item.positions)
        assert np.array_equal(rebuilt.cell, item.cell)


def test_bad_requests_raise_clear_errors():
    with pytest.raises(PrototypeError, match='unknown prototype class'):
        prototype('Cu', 'hcp')
    with pytest.raises(PrototypeError, match='unknown representation'):
        prototype('Cu', 'fcc', representation='rhombohedral')
    with pytest.raises(PrototypeError, match='no tabulated atomic radius'):
        lattice_constant('He', 'fcc')
    with pytest.raises(PrototypeError, match='positive'):
        prototype('Cu', 'fcc', a=-1.0)
    with pytest.raises(PrototypeError, match='scale_range'):
        pristine_items(['Cu'], scale_range=(1.1, 0.9))
    with pytest.raises(PrototypeError, match='target'):
        pristine_items(['Cu'], targets=(0,))


@pytest.mark.slow
def test_full_pristine_set():
    items = pristine_items()
    assert len(items) >= 6000
    assert len({item.info['species'] for item in items}) >= 83
    assert all(item.info['spacegroup'] == SPACEGROUPS[item.info['label']] for item in items)
