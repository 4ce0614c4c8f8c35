"""The pristine dataset: elemental cubic crystals of the four classes of the paper, labelled by spglib.

The paper drew its 6,345 pristine structures from the AFLOWLIB elemental-solid database, which cannot be reached
from here. This module builds the same kind of set from crystallography: every species of a tabulated atomic-radius
table (Slater 1964, shipped in ``core/data/radii_slater1964.csv``) in each of the four prototypes, with a lattice
constant that puts the nearest neighbours at twice the atomic radius, scaled at random within +-10 %, in several
cell representations and for several cluster sizes. An item is kept only when spglib finds the space group of its
class; the spglib result is stored with it.

Prototypes (conventional cubic cell of edge ``a``; nearest-neighbour distance ``d``):

=========  =============  ===============  ===================
class      space group    atoms per cell   d / a
=========  =============  ===============  ===================
fcc        Fm-3m (225)    4                1 / sqrt(2)
diamond    Fd-3m (227)    8                sqrt(3) / 4
bcc        Im-3m (229)    2                sqrt(3) / 2
sc         Pm-3m (221)    1                1
=========  =============  ===============  ===================
"""

from __future__ import annotations

import csv
import functools
import warnings
from collections.abc import Iterable, Iterator, Sequence
from importlib import resources
from typing import Any

import numpy as np

from .structures import AtomicStructure, atomic_number, chemical_symbol

__all__ = (
    'CLASSES',
    'DEFAULT_TARGETS',
    'REPRESENTATIONS',
    'SPACEGROUPS',
    'PrototypeError',
    'atomic_radii',
    'default_species',
    'lattice_constant',
    'pristine_items',
    'prototype',
    'rebuild_item',
    'spacegroup_number',
    'symmetry_dataset',
)

#: Class names of the paper's model, in the order of its output (use this constant everywhere).
CLASSES: tuple[str, ...] = ('fcc', 'diamond', 'bcc', 'sc')

#: International space-group number of each class (what spglib must find for a pristine item).
SPACEGROUPS: dict[str, int] = {'fcc': 225, 'diamond': 227, 'bcc': 229, 'sc': 221}

#: Cell representations of a pristine item: all describe the same crystal; spglib must see through them.
REPRESENTATIONS: tuple[str, ...] = ('primitive', 'conventional', 'supercell')

#: Cluster sizes (target atom counts) of the pristine items, 32 to 256 like the paper's checks.
DEFAULT_TARGETS: tuple[int, ...] = (32, 64, 96, 128, 192, 256)

#: Default relative range of the lattice constant around its radius-based value.
DEFAULT_SCALE_RANGE: tuple[float, float] = (0.9, 1.1)

# Nearest-neighbour distance over the conventional lattice constant.
_NN_OVER_A = {'fcc': 1 / np.sqrt(2), 'diamond': np.sqrt(3) / 4, 'bcc': np.sqrt(3) / 2, 'sc': 1.0}

# Fractional positions in the conventional cubic cell.
_FCC = np.array([[0, 0, 0], [0, 0.5, 0.5], [0.5, 0, 0.5], [0.5, 0.5, 0]])
_CONVENTIONAL = {
    'fcc': _FCC,
    'diamond': np.vstack([_FCC, _FCC + 0.25]),
    'bcc': np.array([[0, 0, 0], [0.5, 0.5, 0.5]]),
    'sc': np.zeros((1, 3)),
}
# Primitive lattice vectors in units of a (rows), and the Cartesian basis in units of a.
_PRIMITIVE = {
    'fcc': (0.5 * np.array([[0, 1, 1], [1, 0, 1], [1, 1, 0]]), np.zeros((1, 3))),
    'diamond': (0.5 * np.array([[0, 1, 1], [1, 0, 1], [1, 1, 0]]), np.array([[0, 0, 0], [0.25, 0.25, 0.25]])),
    'bcc': (0.5 * np.array([[-1, 1, 1], [1, -1, 1], [1, 1, -1]]), np.zeros((1, 3))),
    'sc': (np.eye(3), np.zeros((1, 3))),
}
# The 'supercell' representation: a non-cubic repeat of the primitive cell.
_SUPERCELL_REPEATS = (2, 2, 1)


class PrototypeError(ValueError):
    """A prototype request with an unknown class, species or representation."""


@functools.cache
def atomic_radii() -> dict[int, float]:
    """Return the shipped empirical atomic radii (angstrom) by atomic number (source: see the data file header)."""
    text = resources.files('aiida_crystalface.core').joinpath('data/radii_slater1964.csv').read_text()
    rows = csv.DictReader(line for line in text.splitlines() if not line.startswith('#'))
    return {int(row['Z']): float(row['radius']) for row in rows}


def default_species() -> list[str]:
    """Every species that has a tabulated radius (88 elements of Z = 1..98; the form-factor table covers 1..98)."""
    return [chemical_symbol(z) for z in sorted(atomic_radii())]


def _check_label(label: str) -> str:
    if label not in SPACEGROUPS:
        raise PrototypeError(f'unknown prototype class {label!r}: choose one of {list(CLASSES)}')
    return label


def lattice_constant(species: str | int, label: str) -> float:
    """Conventional cubic lattice constant (angstrom) putting nearest neighbours at twice the atomic radius."""
    z = atomic_number(species)
    radius = atomic_radii().get(z)
    if radius is None:
        raise PrototypeError(f'species {chemical_symbol(z)!r} has no tabulated atomic radius (see default_species())')
    return float(2 * radius / _NN_OVER_A[_check_label(label)])


def prototype(
    species: str | int,
    label: str,
    a: float | None = None,
    representation: str = 'conventional',
    *,
    origin: Sequence[float] = (0.0, 0.0, 0.0),
) -> AtomicStructure:
    """Return the elemental crystal ``label`` of ``species`` with conventional lattice constant ``a`` (angstrom).

    Args:
        species: chemical symbol or atomic number.
        label: one of :data:`CLASSES`.
        a: conventional lattice constant; by default :func:`lattice_constant`.
        representation: ``'conventional'`` (cubic cell), ``'primitive'`` (smallest cell) or ``'supercell'``
            (the primitive cell repeated 2 x 2 x 1).
        origin: a rigid Cartesian translation of every atom (angstrom); it changes no physics.
    """
    label = _check_label(label)
    z = atomic_number(species)
    a = lattice_constant(z, label) if a is None else float(a)
    if not np.isfinite(a) or a <= 0:
        raise PrototypeError(f'lattice constant must be a positive number, not {a!r}')
    if representation == 'conventional':
        cell, positions = np.eye(3) * a, _CONVENTIONAL[label] * a
    elif representation in ('primitive', 'supercell'):
        vectors, basis = _PRIMITIVE[label]
        cell, positions = vectors * a, basis * a
        if representation == 'supercell':
            reps = np.array(_SUPERCELL_REPEATS)
            shifts = np.array(np.meshgrid(*[np.arange(n) for n in reps], indexing='ij')).reshape(3, -1).T @ cell
            positions = (positions[None, :, :] + shifts[:, None, :]).reshape(-1, 3)
            cell = cell * reps[:, None]
    else:
        raise PrototypeError(f'unknown representation {representation!r}: choose one of {list(REPRESENTATIONS)}')
    positions = positions + np.asarray(origin, dtype=float)
    symbol = chemical_symbol(z)
    info = {'label': label, 'species': symbol, 'lattice_constant': a, 'representation': representation}
    return AtomicStructure(cell, positions, np.full(len(positions), z), f'{label}-{symbol}', info)


def symmetry_dataset(structure: AtomicStructure, symprec: float = 1e-3) -> Any:
    """Return spglib's symmetry dataset of ``structure``, or ``None`` when spglib finds no symmetry."""
    import spglib

    with warnings.catch_warnings():
        # spglib 2.5+ warns about its old error handling on every call; its None return is what we want here.
        warnings.simplefilter('ignore', DeprecationWarning)
        try:
            return spglib.get_symmetry_dataset(
                (structure.cell, structure.scaled_positions, structure.numbers), symprec=symprec
            )
        except spglib.error.SpglibError:
            return None


def spacegroup_number(structure: AtomicStructure, symprec: float = 1e-3) -> int | None:
    """Return spglib's international space-group number of ``structure`` (``None`` when spglib finds none)."""
    dataset = symmetry_dataset(structure, symprec)
    return None if dataset is None else int(dataset.number)


def _source(info: dict) -> str:
    return (
        f'prototype:{info["label"]}:{info["species"]}:a={info["lattice_constant"]:.4f}:'
        f'{info["representation"]}:target={info["target_atoms"]}'
    )


def _item_grid(
    species: Sequence[str], classes: Sequence[str], representations: Sequence[str], targets: Sequence[int]
) -> Iterator[tuple[str, str, str, int]]:
    for symbol in species:
        for label in classes:
            for representation in representations:
                for target in targets:
                    yield symbol, label, representation, int(target)


def pristine_items(
    species: Iterable[str | int] | None = None,
    *,
    seed: int = 0,
    classes: Sequence[str] = CLASSES,
    representations: Sequence[str] = REPRESENTATIONS,
    targets: Sequence[int] = DEFAULT_TARGETS,
    scale_range: tuple[float, float] = DEFAULT_SCALE_RANGE,
    symprec: float = 1e-3,
    check: bool = True,
) -> list[AtomicStructure]:
    """Build the pristine set: species x classes x representations x targets, each item checked by spglib.

    Each item's lattice constant is the radius-based value times a factor drawn uniformly from ``scale_range``, and
    its atoms are translated rigidly at random; both come from the item's own seed, derived from ``seed`` and what the
    item is (species, class, representation, target), so that any item can be rebuilt alone (:func:`rebuild_item`)
    and is the same whatever subset of the grid is asked for. An item whose spglib space group (at ``symprec``) is not
    that of its class is left out (with the default tolerance none is).

    ``info`` of an item: ``label``, ``spacegroup`` (spglib), ``species``, ``lattice_constant``, ``representation``,
    ``target_atoms`` (cluster size for its fingerprint), ``seed``, ``index`` (position among the kept items) and
    ``source``. With ``check=False`` spglib is not run here and ``spacegroup`` is None: for callers that run spglib
    on every item anyway (the dataset builders take the standard cell and check the space group in one call).
    """
    species = default_species() if species is None else [chemical_symbol(atomic_number(s)) for s in species]
    if not species:
        raise PrototypeError('no species given')
    for label in classes:
        _check_label(label)
    low, high = map(float, scale_range)
    if not 0 < low <= high:
        raise PrototypeError(f'scale_range must be two positive numbers, low <= high, not {scale_range!r}')
    bad_targets = [t for t in targets if int(t) < 1]
    if bad_targets:
        raise PrototypeError(f'target atom counts must be positive, not {bad_targets}')
    items = []
    for symbol, label, representation, target in _item_grid(species, classes, representations, targets):
        item_seed = _item_seed(seed, symbol, label, representation, target)
        item = rebuild_item(symbol, label, representation, target_atoms=target, seed=item_seed, scale_range=scale_range)
        found = spacegroup_number(item, symprec) if check else None
        if check and found != SPACEGROUPS[label]:
            continue
        item.info.update(spacegroup=found, index=len(items))
        items.append(item)
    return items


def _item_seed(seed: int, species: str, label: str, representation: str, target: int) -> int:
    """The seed of one item, from the builder's seed and what the item is (not where it sits in the grid)."""
    rep = REPRESENTATIONS.index(representation) if representation in REPRESENTATIONS else 99
    parts = [int(seed), atomic_number(species), CLASSES.index(label), rep, int(target)]
    return int(np.random.SeedSequence(parts).generate_state(1, dtype=np.uint32)[0])


def rebuild_item(
    species: str | int,
    label: str,
    representation: str,
    *,
    target_atoms: int,
    seed: int,
    scale_range: tuple[float, float] = DEFAULT_SCALE_RANGE,
) -> AtomicStructure:
    """Rebuild one pristine item from its stored parameters and seed (the spglib check is left to the caller)."""
    rng = np.random.default_rng(int(seed))
    a = lattice_constant(species, label) * rng.uniform(*scale_range)
    item = prototype(species, label, a, representation, origin=rng.uniform(0, a, size=3))
    item.info.update(target_atoms=int(target_atoms), seed=int(seed))
    item.info['source'] = _source(item.info)
    return item.replace(label=item.info['source'])
