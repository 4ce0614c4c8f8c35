"""The bulk prototype set: members of the classes of :mod:`.classes` and outsiders, in disjoint parts.

The model of many bulk prototypes (issue "Beyond cubic") is trained, calibrated and measured on the parts of
:func:`bulk_split`, built as the four-class open-set model's are (:mod:`.openset`), with the classes of
:data:`.classes.BULK_CLASSES`:

- **members**: crystals of each class (:func:`.classes.class_structure`: the library's prototype with new species,
  scaled to hard-sphere contact), damaged as in :data:`VARIANTS` (vacancies, displacements, random substitution on
  the same sites), in one of :data:`PRESENTATIONS` (the conventional cell's supercell as it comes, or a supercell of
  the primitive cell rigidly rotated at random), 100-250 atoms;
- **outsiders**: crystals of the AFLOW library's other prototypes (species swapped, damaged the same ways) and
  random pyxtal crystals, all with the target ``other``;
- **parents**: the library's prototypes (and pyxtal crystals) whose structure, species ignored, is that of a class
  (:func:`species_blind_signature`: an ordered hcp superstructure is hcp's). Their diffraction differs from their
  parent's only through the species; they are neither members nor plain outsiders, kept out of training and
  calibration and reported in a row of their own, where the parent class and ``unknown`` both count as right.

**Held out.** Elemental classes: the elements of the parts of :func:`.openset.open_set_split` (the same cut as the
four-class model's). Compounds: a species tuple is a *test* tuple when any of its elements is a test element, else a
*calibration* tuple when any is a calibration element, else a *train* tuple; so every test tuple holds at least
one element that training never saw on any class. Outsider prototypes are cut at the same
fractions; pyxtal seeds: train 0-9999, calibration 10000-19999, test from 20000.

**Contrast.** Two species groups of a compound whose relative contrast ``|Z_A - Z_B| / (Z_A + Z_B)`` is below
:data:`MIN_RELATIVE_CONTRAST` scatter X-rays nearly alike, and the crystal then looks like its species-blind parent
(KCl is simple cubic to X-rays): such tuples are not offered (:func:`species_tuples`); the honest answer on them is
the parent class or ``unknown``, measured, not trained. The threshold is read off ``benchmarks/contrast.py`` on
calibration tuples: the superlattice reflections scale with ``(f_A - f_B)^2`` against ``(f_A + f_B)^2``, and below
it they change the fingerprint by less than half of what 25 % vacancies do.
"""

from __future__ import annotations

import functools
import itertools
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from .classes import BULK_CLASSES, class_structure, species_choices
from .openset import (
    MEMBER_VARIANTS,
    _damage,
    _library,
    _seed,
    aflow_prototypes,
    open_set_split,
    outsider,
    random_crystal,
    supercell_of_at_least,
)
from .presentations import rotated
from .structures import AtomicStructure, atomic_number, to_atomic_structure

__all__ = (
    'MIN_RELATIVE_CONTRAST',
    'PRESENTATIONS',
    'PYXTAL_PER_PROTOTYPE',
    'SUPERSTRUCTURE_PARENTS',
    'SUPERSTRUCTURE_SIZES',
    'VARIANTS',
    'bulk_items',
    'bulk_member',
    'bulk_split',
    'class_signatures',
    'conventional_cell',
    'cubic_elemental_crystal',
    'low_contrast_tuples',
    'ordered_superstructure',
    'relative_contrast',
    'scattering_order',
    'signature_parent',
    'species_blind_signature',
    'species_signature',
    'species_tuples',
    'stratified_picks',
)

#: The damage of members and outsiders: that of the four-class set less the ternary substitution.
VARIANTS: tuple[str, ...] = tuple(v for v in MEMBER_VARIANTS if v != 'ternary substitution 30 %')

#: How a member's crystal is handed over: the supercell of its conventional cell as it comes, or a supercell of its
#: primitive cell rigidly rotated at random.
PRESENTATIONS: tuple[str, ...] = ('conventional', 'primitive-rotated')

#: Least relative contrast ``|Z_A - Z_B| / (Z_A + Z_B)`` between any two species groups of a compound (see the
#: module docstring; measured by ``benchmarks/contrast.py`` on calibration tuples).
MIN_RELATIVE_CONTRAST = 0.15

#: Atoms (at least) of every member and outsider supercell.
SUPERCELL_ATOMS = 100

#: Species tuples per class in each part (train, calibration, test) of :func:`bulk_items`.
SPECIES_PER_CLASS = {'train': 16, 'calibration': 4, 'test': 4}

#: Random pyxtal outsiders of a part per AFLOW outsider prototype of the part.
PYXTAL_PER_PROTOTYPE = 6


def conventional_cell(structure: AtomicStructure, symprec: float = 1e-3) -> AtomicStructure:
    """spglib's standardised conventional cell of a pristine crystal (species kept), not rotated into spglib's frame
    beyond what its standardisation does; the structure itself where spglib finds no symmetry."""
    import spglib

    with warnings.catch_warnings():
        warnings.simplefilter('ignore', DeprecationWarning)
        try:
            cell = spglib.standardize_cell(
                (structure.cell, structure.scaled_positions, structure.numbers), to_primitive=False, symprec=symprec
            )
        except spglib.error.SpglibError:
            cell = None
    if cell is None:
        return structure
    lattice, scaled, numbers = cell
    return structure.replace(
        cell=np.asarray(lattice, dtype=float),
        positions=np.asarray(scaled, dtype=float) @ np.asarray(lattice, dtype=float),
        numbers=np.asarray(numbers, dtype=int),
    )


def species_blind_signature(structure: Any) -> tuple[int, int, tuple[tuple[int, str], ...]] | None:
    """(space group, atoms per primitive cell, orbits) of the structure with every species the same.

    ``orbits``: the sorted (atoms per primitive cell, site symmetry) of each crystallographic orbit. Not the Wyckoff
    letters: those depend on the origin spglib picks (species-blind zincblende comes out on 8b of Fd-3m, diamond on
    8a; the two are one structure), while multiplicity and site symmetry do not. spglib at a tolerance of
    :data:`.openset.NEAR_PARENT` nearest-neighbour distances (the near-parent tolerance of the four-class set). None
    where spglib finds nothing.
    """
    from .defects import nearest_neighbour_distance
    from .openset import NEAR_PARENT

    atomic = to_atomic_structure(structure)
    found = _orbits(atomic, np.ones(len(atomic), dtype=int), NEAR_PARENT * nearest_neighbour_distance(atomic))
    if found is None:
        return None
    number, primitive, orbits = found
    return number, primitive, tuple(sorted((n, symbol) for _, n, symbol in orbits))


def _orbits(atomic: AtomicStructure, numbers: np.ndarray, symprec: float) -> tuple[int, int, list] | None:
    """spglib's (space group, atoms per primitive cell, [(species, atoms per primitive cell, site symmetry) of each
    orbit]) of the cell with these species numbers; None where spglib finds nothing."""
    import spglib

    cell = (atomic.cell, atomic.scaled_positions, numbers)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', DeprecationWarning)
        try:
            dataset = spglib.get_symmetry_dataset(cell, symprec=symprec)
            primitive = spglib.find_primitive(cell, symprec=symprec)
        except spglib.error.SpglibError:
            return None
    if dataset is None or primitive is None:
        return None
    representatives, counts = np.unique(np.asarray(dataset.equivalent_atoms), return_counts=True)
    cells = len(atomic) / len(primitive[2])  # primitive cells in the input cell
    symbols = dataset.site_symmetry_symbols
    orbits = [
        (int(numbers[i]), round(n / cells), str(symbols[i])) for i, n in zip(representatives, counts, strict=True)
    ]
    return int(dataset.number), len(primitive[2]), orbits


@functools.cache
def class_signatures() -> dict[tuple, tuple[str, ...]]:
    """Species-blind signature -> the classes that have it (the library's own species and cell)."""
    found: dict[tuple, list[str]] = {}
    for name in BULK_CLASSES:
        signature = species_blind_signature(class_structure(name))
        if signature is not None:
            found.setdefault(signature, []).append(name)
    return {k: tuple(v) for k, v in found.items()}


def signature_parent(structure: Any) -> tuple[str, ...]:
    """The classes whose species-blind structure this structure's is (:func:`species_blind_signature`); () if none."""
    signature = species_blind_signature(structure)
    return class_signatures().get(signature, ()) if signature is not None else ()


def relative_contrast(species: Sequence[str]) -> float:
    """The least ``|Z_A - Z_B| / (Z_A + Z_B)`` over the pairs of distinct species (1.0 for fewer than two)."""
    numbers = sorted({atomic_number(s) for s in species})
    return min(((b - a) / (b + a) for a, b in itertools.combinations(numbers, 2)), default=1.0)


def _contrast_ok(species: Sequence[str]) -> bool:
    return relative_contrast(species) >= MIN_RELATIVE_CONTRAST


def _part_of(species: Sequence[str], seed: int) -> str:
    """The part of a species tuple: test if any element is a test element, else calibration if any is one, else
    train (:func:`.openset.open_set_split`)."""
    test, calibration = _element_parts(seed)
    if not test.isdisjoint(species):
        return 'test'
    if not calibration.isdisjoint(species):
        return 'calibration'
    return 'train'


def _check_part(part: str, seed: int) -> None:
    parts = tuple(open_set_split(seed))
    if part not in parts:
        raise ValueError(f'part must be one of {parts}, not {part!r}')


@functools.cache
def _element_parts(seed: int) -> tuple[frozenset[str], frozenset[str]]:
    split = open_set_split(seed)
    return frozenset(split['test']['species']), frozenset(split['calibration']['species'])


@functools.cache
def species_tuples(name: str, part: str, seed: int = 0) -> tuple[tuple[str, ...], ...]:
    """The species tuples of class ``name`` in ``part`` (see the module docstring), contrast filtered for compounds."""
    _check_part(part, seed)
    elemental = BULK_CLASSES[name]['kind'] == 'elemental'
    return tuple(
        combo for combo in species_choices(name) if _part_of(combo, seed) == part and (elemental or _contrast_ok(combo))
    )


@functools.cache
def low_contrast_tuples(name: str, part: str, seed: int = 0) -> tuple[tuple[str, ...], ...]:
    """The species tuples of compound class ``name`` in ``part`` that the contrast rule leaves out (below
    :data:`MIN_RELATIVE_CONTRAST`), for measuring what a model says on them; () for an elemental class."""
    if BULK_CLASSES[name]['kind'] == 'elemental':
        return ()
    _check_part(part, seed)
    return tuple(c for c in species_choices(name) if _part_of(c, seed) == part and not _contrast_ok(c))


def bulk_member(
    name: str, species: Sequence[str], variant: str = 'pristine', presentation: str = 'conventional', seed: int = 0
) -> AtomicStructure:
    """One member of class ``name``: a supercell of >= 100 atoms, damaged (``variant``) and presented.

    ``info``: ``kind`` = 'member', ``label`` (the class), ``species``, ``variant``, ``presentation``, ``seed``.
    """
    if variant not in MEMBER_VARIANTS:
        raise ValueError(f'variant must be one of {tuple(MEMBER_VARIANTS)}, not {variant!r}')
    if presentation not in PRESENTATIONS:
        raise ValueError(f'presentation must be one of {PRESENTATIONS}, not {presentation!r}')
    species = tuple(species)
    item_seed = _seed(seed, name, *species, variant, presentation)
    primitive = class_structure(name, species)
    if presentation == 'conventional':
        structure = supercell_of_at_least(conventional_cell(primitive), SUPERCELL_ATOMS)
    else:
        structure = rotated(supercell_of_at_least(primitive, SUPERCELL_ATOMS), _seed(item_seed, 'rotation'))
    damaged = _damage(structure, variant, item_seed)
    damaged.info.update(
        kind='member', label=name, species=species, variant=variant, presentation=presentation, seed=item_seed
    )
    return damaged.replace(label=f'{name}-{"".join(species)}-{variant}-{presentation}')


@functools.cache
def bulk_split(seed: int = 0, fractions: tuple[float, float, float] = (0.5, 0.15, 0.35)) -> dict[str, dict]:
    """The outsider prototypes and parent prototypes of each part (species: :func:`species_tuples`).

    Outsider prototypes: AFLOW labels of the library that are no class's label and whose entries are not species-
    blind copies of a class (:func:`signature_parent`), shuffled with ``seed`` and cut at ``fractions``. Parents:
    the labels whose entries all are (every part keeps all of them: they are only ever measured).
    """
    rng = np.random.default_rng(_seed(seed, 'bulk-split'))
    class_labels = {record['aflow'] for record in BULK_CLASSES.values()}
    labels: dict[str, bool] = {}
    for tags, structure in aflow_prototypes(sorted(class_labels)):
        parent = bool(signature_parent(structure))
        labels[tags['aflow']] = labels.get(tags['aflow'], True) and parent
    outsiders = sorted(label for label, parent in labels.items() if not parent)
    parents = sorted(label for label, parent in labels.items() if parent)
    rng.shuffle(outsiders)
    a = round(fractions[0] * len(outsiders))
    b = a + round(fractions[1] * len(outsiders))
    cuts = {'train': outsiders[:a], 'calibration': outsiders[a:b], 'test': outsiders[b:]}
    starts = {'train': 0, 'calibration': 10000, 'test': 20000}
    return {
        part: {'prototypes': sorted(cut), 'parents': parents, 'pyxtal_seed_start': starts[part], 'seed': int(seed)}
        for part, cut in cuts.items()
    }


def _entries(aflow: str, parent: bool) -> list[tuple[dict[str, Any], AtomicStructure]]:
    return [
        (dict(tags), structure)
        for tags, structure in _library()
        if tags['aflow'] == aflow and bool(signature_parent(structure)) == parent
    ]


def scattering_order(species: Sequence[str]) -> tuple[int, ...]:
    """Which species group scatters most, next, ...: the groups' indices ordered by falling atomic number."""
    numbers = [atomic_number(s) for s in species]
    return tuple(sorted(range(len(numbers)), key=lambda k: (-numbers[k], k)))


def stratified_picks(tuples: Sequence[Sequence[str]], count: int, rng: np.random.Generator) -> list[int]:
    """``count`` indices of ``tuples`` (sorted), drawn evenly over their :func:`scattering_order`.

    The fingerprint of a compound is dominated by its strongest scatterers: rutile TiO2 shows the Ti sublattice,
    rutile Li2O-like species the O one, and the two look different. A plain random draw from the species pools
    (which hold more heavy metals than heavy anions) gives mostly one order; here each order gets its share in turn
    (random within the order), so every part covers both. Elemental tuples have one order: a plain random draw.
    """
    strata: dict[tuple[int, ...], list[int]] = {}
    for index, species in enumerate(tuples):
        strata.setdefault(scattering_order(species), []).append(index)
    queues = [list(rng.permutation(strata[key])) for key in sorted(strata)]
    picks: list[int] = []
    while len(picks) < min(count, len(tuples)):
        for queue in queues:
            if queue and len(picks) < count:
                picks.append(int(queue.pop()))
    return sorted(picks)


#: The lattices whose ordered decorations :func:`ordered_superstructure` builds (bulk classes, elemental).
SUPERSTRUCTURE_PARENTS: tuple[str, ...] = ('fcc', 'bcc', 'sc', 'hcp', 'diamond')
#: Primitive cells per decoration's cell in :func:`ordered_superstructure` (the determinant of the supercell matrix).
SUPERSTRUCTURE_SIZES: tuple[int, ...] = (2, 3, 4, 5, 6, 8)


def species_signature(structure: Any, symprec: float = 1e-3) -> tuple | None:
    """(space group, atoms per primitive cell, the orbits of each species) of a crystal, the species' names left out:
    two crystals with the same signature are one prototype with other species (L1_2 Cu3Au and Ni3Al). ``orbits``
    of a species: the sorted (atoms per primitive cell, site symmetry) of its crystallographic orbits (see
    :func:`species_blind_signature`); the species' tuples are sorted. None where spglib finds nothing."""
    atomic = to_atomic_structure(structure)
    found = _orbits(atomic, atomic.numbers, symprec)
    if found is None:
        return None
    number, primitive, orbits = found
    by_species: dict[int, list] = {}
    for species, n, symbol in orbits:
        by_species.setdefault(species, []).append((n, symbol))
    return number, primitive, tuple(sorted(tuple(sorted(v)) for v in by_species.values()))


@functools.cache
def _class_species_signatures() -> frozenset:
    return frozenset(
        signature for name in BULK_CLASSES if (signature := species_signature(class_structure(name))) is not None
    )


def _hermite_normal_form(det: int, rng: np.random.Generator) -> np.ndarray:
    """A random lower-triangular Hermite normal form of determinant ``det`` (a supercell of ``det`` cells)."""
    triples = [(a, c, det // (a * c)) for a in range(1, det + 1) for c in range(1, det + 1) if det % (a * c) == 0]
    a, c, f = triples[int(rng.integers(len(triples)))]
    return np.array(
        [[a, 0, 0], [int(rng.integers(c)), c, 0], [int(rng.integers(f)), int(rng.integers(f)), f]], dtype=int
    )


def ordered_superstructure(
    seed: int, part: str = 'train', split_seed: int = 0, max_attempts: int = 50, *, vacancies: bool = False
):
    """An ordered compound on the lattice of an elemental class that is none of the classes, with the target ``other``.

    The compound classes built on these lattices (L1_2, L1_0, D0_22 and D0_3 on fcc and bcc, CsCl on bcc, rocksalt
    on sc, zincblende on diamond, ...) are ordered decorations of small supercells, and the library's other
    prototypes near them (a distorted A2B on fcc, an A3BC6 on bcc) are too: what tells them apart are the
    superlattice reflections of the order, at a stoichiometry that may be a class's. Here: the primitive cell of one of
    :data:`SUPERSTRUCTURE_PARENTS` (the library's, scaled to contact for the first species), in a supercell of
    :data:`SUPERSTRUCTURE_SIZES` cells (a random Hermite normal form), each site given one of two or three species at
    random (each present), species drawn from the elements of ``part`` (:func:`.openset.open_set_split` with
    ``split_seed``: training never sees a test element) with the contrast of :func:`relative_contrast` (an order
    X-rays cannot see is its parent lattice); half of them strained (up to 3 %) and displaced (a frozen pattern of
    0.04 nearest-neighbour distances), a near-parent; a decoration whose :func:`species_signature` is a class's is
    drawn again. Then a supercell of >= 100 atoms, damaged with a random variant of :data:`VARIANTS`. Random
    substitution (a class's member) has no superlattice reflections: that is the distinction learnt.

    ``vacancies``: one of the "species" is a vacancy, the others one element (70 %) or two: a vacancy-ordered
    superstructure, every atom on a point of the parent lattice and some points empty in an order (1 to half of the
    supercell's sites). A randomly vacant crystal of the parent (a member) shares its lattice and its strong
    reflections; only the weak superlattice reflections of the order tell them apart. Random one-element crystals in
    cubic space groups are often of this kind (docs/bulk.md, "One-element crystals in cubic space groups").

    ``info``: ``kind`` = 'outsider', ``source`` = 'ordered' (or 'vacancy-ordered'), ``parent``, ``det``, ``variant``,
    ``seed``.
    """
    from .defects import nearest_neighbour_distance
    from .structures import supercell

    source = 'vacancy-ordered' if vacancies else 'ordered'
    rng = np.random.default_rng(_seed(seed, part, split_seed, source))
    pool = [s for s in open_set_split(split_seed)[part]['species']]
    for _ in range(max_attempts):
        parent = SUPERSTRUCTURE_PARENTS[int(rng.integers(len(SUPERSTRUCTURE_PARENTS)))]
        det = int(SUPERSTRUCTURE_SIZES[int(rng.integers(len(SUPERSTRUCTURE_SIZES)))])
        n_species = (1 if rng.random() < 0.7 else 2) if vacancies else (2 if rng.random() < 0.7 else 3)
        species = [str(x) for x in rng.choice(pool, size=n_species, replace=False)]
        if n_species > 1 and relative_contrast(species) < MIN_RELATIVE_CONTRAST:
            continue
        cell = supercell(class_structure(parent, (species[0],)), _hermite_normal_form(det, rng))
        if vacancies:
            n_vacant = int(rng.integers(1, len(cell) // 2 + 1)) if len(cell) >= 2 else 0
            if n_vacant == 0 or len(cell) - n_vacant < n_species:
                continue
            keep = np.sort(rng.permutation(len(cell))[n_vacant:])
            cell = cell.replace(positions=cell.positions[keep], numbers=cell.numbers[keep])
        if len(cell) < n_species:
            continue
        groups = rng.permutation(
            np.concatenate([np.arange(n_species), rng.integers(n_species, size=len(cell) - n_species)])
        )
        numbers = np.array([atomic_number(species[g]) for g in groups])
        decorated = cell.replace(numbers=numbers)
        if species_signature(decorated) in _class_species_signatures():
            continue
        if vacancies and signature_parent(decorated):
            continue  # the empty points left a class's structure (fcc less its face centres is sc)
        distorted = bool(rng.random() < 0.5)
        if distorted:
            strain = rng.uniform(-0.03, 0.03, (3, 3))
            strain = np.eye(3) + (strain + strain.T) / 2
            nn = nearest_neighbour_distance(decorated)
            shifted = decorated.positions + rng.normal(0.0, 0.04 * nn, decorated.positions.shape)
            decorated = decorated.replace(cell=decorated.cell @ strain, positions=shifted @ strain)
        variant = VARIANTS[int(rng.integers(len(VARIANTS)))]
        big = supercell_of_at_least(decorated, SUPERCELL_ATOMS)
        item = _damage(big, variant, _seed(seed, part, f'{source}-damage'))
        item.info.update(
            kind='outsider',
            source=source,
            parent=parent,
            det=det,
            distorted=distorted,
            variant=variant,
            label='unknown',
            seed=int(seed),
            species=tuple(species),
        )
        return item.replace(label=f'{source}-{parent}-{det}-{"".join(species)}-{seed}-{variant}')
    raise RuntimeError(f'no {source} superstructure in {max_attempts} attempts (seed {seed})')


#: The cubic space groups (195-230), in which :func:`cubic_elemental_crystal` draws.
CUBIC_GROUPS = (195, 231)


def cubic_elemental_crystal(seed: int, part: str = 'calibration', split_seed: int = 0, max_attempts: int = 200):
    """A random crystal of one element in a cubic space group (pyxtal), none of the classes, damaged; target ``other``.

    Many of them have a cubic lattice with one site per point, the lattice of fcc, bcc or sc: most of those are
    vacancy-ordered superstructures of these (every atom on a lattice point, some points empty in an order), a few
    are near such a lattice. Few of the library's prototypes and of the plain random crystals are of this kind, so
    the open-set rows say little about them; ``benchmarks/bulk_accuracy.py --cubic N`` measures them. A random space
    group of :data:`CUBIC_GROUPS`, 1-16 atoms of one element of ``part`` (:func:`.openset.open_set_split` with
    ``split_seed``) per cell, those whose species-blind structure is a class's drawn again, in >= 100 atoms, damaged
    with a random variant of :data:`VARIANTS`. ``info``: ``kind`` = 'outsider', ``source`` = 'cubic-elemental',
    ``space_group``, ``variant``, ``seed``. Needs pyxtal.
    """
    from pyxtal import pyxtal

    rng = np.random.default_rng(_seed(seed, part, split_seed, 'cubic-elemental'))
    pool = list(open_set_split(split_seed)[part]['species'])
    for _ in range(max_attempts):
        group = int(rng.integers(*CUBIC_GROUPS))
        element = str(pool[int(rng.integers(len(pool)))])
        crystal = pyxtal()
        try:
            crystal.from_random(3, group, [element], [int(rng.integers(1, 17))], random_state=int(rng.integers(2**31)))
        except Exception:  # pyxtal raises many kinds for counts a group cannot hold
            continue
        if not crystal.valid:
            continue
        structure = to_atomic_structure(crystal.to_pymatgen(), label=f'cubic-{group}-{element}-{seed}')
        if signature_parent(structure):
            continue
        variant = VARIANTS[int(rng.integers(len(VARIANTS)))]
        item = _damage(supercell_of_at_least(structure, SUPERCELL_ATOMS), variant, _seed(seed, part, 'cubic-damage'))
        item.info.update(
            kind='outsider',
            source='cubic-elemental',
            space_group=group,
            variant=variant,
            label='unknown',
            seed=int(seed),
            species=(element,),
        )
        return item.replace(label=f'cubic-{group}-{element}-{seed}-{variant}')
    raise RuntimeError(f'no random cubic crystal of one element in {max_attempts} attempts (seed {seed})')


def bulk_items(
    part: str,
    seed: int = 0,
    *,
    classes: Sequence[str] | None = None,
    draws: int = 2,
    species_per_class: int | None = None,
    n_random: int | None = None,
    variants: Sequence[str] = VARIANTS,
    outsiders: bool = True,
    parents: bool = False,
    n_ordered: int = 0,
    n_vacancy_ordered: int = 0,
) -> list[AtomicStructure]:
    """The structures of one part (``'train'``, ``'calibration'`` or ``'test'``).

    Members: for each class, ``species_per_class`` tuples of :func:`species_tuples` (default
    :data:`SPECIES_PER_CLASS` of the part; drawn with a seed from ``seed``, the part and the class, evenly over which
    group scatters most: :func:`stratified_picks`) x ``variants`` x ``draws``, each draw in a random presentation.
    Outsiders (``outsiders``): every prototype of the part x variant x ``draws`` with swapped species, and
    ``n_random`` pyxtal crystals (default: :data:`PYXTAL_PER_PROTOTYPE` per prototype of the part), those whose
    species-blind structure is a class's left out. Parents (``parents``): every parent prototype
    x variant x ``draws`` (``info['parents']``: the classes it coincides with). ``n_ordered``: that many ordered
    superstructures of the class lattices (:func:`ordered_superstructure`, outsiders, species of the part; none by
    default: the bulk model's training adds them, its calibration and test parts do not); ``n_vacancy_ordered``:
    that many vacancy-ordered ones (``vacancies=True``, the same way). Every item's ``info`` has ``kind``,
    ``label`` (a class or 'unknown'), ``variant`` and ``seed``. The whole list is determined by ``seed``.
    """
    split = bulk_split(seed)[part]
    names = list(BULK_CLASSES) if classes is None else list(classes)
    count = SPECIES_PER_CLASS[part] if species_per_class is None else int(species_per_class)
    rng = np.random.default_rng(_seed(seed, part, 'bulk-items'))
    items: list[AtomicStructure] = []
    for name in names:
        tuples = species_tuples(name, part, seed)
        if not tuples:
            continue
        picks = stratified_picks(tuples, count, np.random.default_rng(_seed(seed, part, name, 'species')))
        for pick in picks:
            for variant in variants:
                for draw in range(draws):
                    presentation = PRESENTATIONS[int(rng.integers(len(PRESENTATIONS)))]
                    items.append(bulk_member(name, tuples[pick], variant, presentation, _seed(seed, part, draw)))
    if outsiders:
        for aflow in split['prototypes']:
            for tags, structure in _entries(aflow, parent=False):
                for variant in variants:
                    for draw in range(draws):
                        item = outsider(tags, structure, variant, _seed(seed, 'bulk', draw, len(structure)))
                        item.info['label'] = 'unknown'
                        items.append(item)
        n_random = PYXTAL_PER_PROTOTYPE * len(split['prototypes']) if n_random is None else int(n_random)
        for index in range(n_random):
            crystal = random_crystal(split['pyxtal_seed_start'] + index)
            if signature_parent(crystal):
                continue
            variant = variants[int(rng.integers(len(variants)))]
            item = _damage(crystal, variant, _seed(seed, 'bulk-pyxtal-damage', index))
            item.info.update(crystal.info, label='unknown', variant=variant)
            items.append(item.replace(label=f'{crystal.label}-{variant}'))
    for index in range(int(n_ordered)):
        items.append(ordered_superstructure(index, part, seed))
    for index in range(int(n_vacancy_ordered)):
        items.append(ordered_superstructure(index, part, seed, vacancies=True))
    if parents:
        for aflow in split['parents']:
            for tags, structure in _entries(aflow, parent=True):
                classes_of = signature_parent(structure)  # once per entry, not per variant and draw
                for variant in variants:
                    for draw in range(draws):
                        item = outsider(tags, structure, variant, _seed(seed, 'bulk-parent', draw, len(structure)))
                        item.info.update(kind='parent', label='unknown', parents=classes_of)
                        items.append(item)
    return items
