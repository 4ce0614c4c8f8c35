"""Data for the open-set answer: members of the classes, crystals of other prototypes, and structures with no order.

A classifier that only knows its classes gives every crystal one of them with a probability near 1. To say
``unknown`` it must have seen what "none of these" looks like, and to say it honestly the figures must come from
crystals it has never seen. This module builds the three kinds of structure and the splits that keep them apart:

- **members**: crystals of a class (:data:`~.prototypes.CLASSES`), pristine or damaged (vacancies, Gaussian
  displacements, both, random substitutions), in any of four presentations (conventional or primitive supercell,
  rotated or not: :func:`.presentations.defective_presentations`);
- **outsiders**: crystals of the AFLOW prototype library that pymatgen ships (288 prototypes; the four of the classes
  left out), in supercells of at least 100 atoms, with their species replaced at random and with the same kinds of
  damage; and random crystals of random space groups from pyxtal;
- **no order**: random packings at crystal density (:func:`.presentations.amorphous`) and snapshots of a melt
  (molecular dynamics with ASE's EMT potential, :func:`molten_snapshot`).

**Species-blind parents.** An ordered compound whose sites, species ignored, form one of the classes (rocksalt is sc
with half the edge; CsCl is bcc; zincblende is diamond; L1_2 is fcc) is its own prototype, but when its species
scatter alike its diffraction is that of the parent (KCl's X-ray pattern looks simple cubic). The honest answer for
such a crystal is the parent or ``unknown``, never a third class: :func:`species_blind_parent` finds the parent with
spglib on the pristine structure, and the benchmarks count it apart. So do the near-parents (:func:`near_parent`):
superstructures whose sites lie within 0.1 nearest-neighbour distances of a class's, less than the displacements a
member must survive; neither is used as an outsider in training or calibration.

**Splits** (:func:`open_set_split`): the species of the members and the prototypes of the outsiders are each cut in
three disjoint parts, ``train`` (what the network learns from), ``calibration`` (what the decision rule and the
temperature are fitted on) and ``test`` (what the reported figures come from); pyxtal crystals take disjoint seed
ranges. Nothing in ``test`` chooses anything.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np

from .defects import displacements, substitutions, vacancies
from .prototypes import CLASSES, default_species
from .structures import AtomicStructure, atomic_number, supercell, to_atomic_structure

__all__ = (
    'CLASS_PROTOTYPES',
    'COMPOSITION_MAX_SPECIES',
    'MEMBER_VARIANTS',
    'SUBSTITUENT_SHARE',
    'aflow_prototypes',
    'class_lattice',
    'composition_distance',
    'expected_lattice',
    'lattice_admits',
    'member',
    'molten_snapshot',
    'near_parent',
    'open_set_split',
    'outsider',
    'parent_prototypes',
    'prototype_entries',
    'random_crystal',
    'species_blind_parent',
    'stoichiometry',
    'supercell_of_at_least',
)

#: The AFLOW prototype of each class of the paper's model (label as pymatgen's AflowPrototypeMatcher gives it).
CLASS_PROTOTYPES: dict[str, dict[str, Any]] = {
    'fcc': {'aflow': 'A_cF4_225_a', 'space_group': 225, 'strukturbericht': 'A1'},
    'diamond': {'aflow': 'A_cF8_227_a', 'space_group': 227, 'strukturbericht': 'A4'},
    'bcc': {'aflow': 'A_cI2_229_a', 'space_group': 229, 'strukturbericht': 'A2'},
    'sc': {'aflow': 'A_cP1_221_a', 'space_group': 221, 'strukturbericht': 'A_h'},
}

#: Damage of a member: name -> (vacancy fraction, displacement sigma in angstrom, substituted fraction, new species).
MEMBER_VARIANTS: dict[str, tuple[float, float, float, int]] = {
    'pristine': (0.0, 0.0, 0.0, 0),
    'vacancies 25 %': (0.25, 0.0, 0.0, 0),
    'vacancies 50 %': (0.5, 0.0, 0.0, 0),
    'displacements 0.05 A': (0.0, 0.05, 0.0, 0),
    'displacements 0.10 A': (0.0, 0.10, 0.0, 0),
    'displacements 0.15 A': (0.0, 0.15, 0.0, 0),
    'vacancies 30 % + 0.10 A': (0.3, 0.10, 0.0, 0),
    'binary substitution 30 %': (0.0, 0.0, 0.3, 1),
    'ternary substitution 30 %': (0.0, 0.0, 0.3, 2),
}

#: The four presentations of a member (:func:`.presentations.defective_presentations`).
PRESENTATIONS: tuple[str, ...] = ('a', 'b', 'c-a', 'c-b')

#: An ordered compound whose sites lie within this many nearest-neighbour distances of a class's sites (spglib's
#: tolerance) is a near-parent: a superstructure of the class distorted less than the displacements its members must
#: survive (Gaussian displacements of 0.15 angstrom per coordinate are 0.26 angstrom RMS, 0.1 nearest-neighbour
#: distances of Cu), so that no rule can tell it from a damaged member without knowing that its distortion is static.
NEAR_PARENT = 0.1

# Space group and atoms per primitive cell of each class's species-blind structure.
_PARENTS = {(225, 1): 'fcc', (227, 2): 'diamond', (229, 1): 'bcc', (221, 1): 'sc'}


#: Lattice points per conventional cell of each centring letter of a Pearson symbol.
_CENTRING_POINTS = {'P': 1, 'I': 2, 'F': 4, 'C': 2, 'A': 2, 'B': 2, 'S': 2}


def class_lattice(aflow: str) -> tuple[str, int]:
    """The Bravais lattice and the sites per lattice point of a prototype, from its AFLOW label's Pearson symbol.

    ``'A_cF4_225_a'`` (fcc): ``('cF', 1)``; ``'A_cF8_227_a'`` (diamond): ``('cF', 2)``; ``'A_hP2_194_c'`` (hcp):
    ``('hP', 2)``; ``'A_hR2_166_c'`` (alpha-As): ``('hR', 2)``. The Pearson symbol counts the atoms of the
    conventional cell, and for ``hR`` those of the primitive rhombohedral cell.
    """
    try:
        pearson = aflow.split('_')[1]
        bravais, atoms = pearson[:2], int(pearson[2:])
        points = 1 if bravais == 'hR' else _CENTRING_POINTS[bravais[1]]  # hR: atoms of the rhombohedral cell
    except (IndexError, KeyError, ValueError) as exception:
        raise ValueError(f'{aflow!r} is not an AFLOW prototype label (such as A_cF4_225_a)') from exception
    return bravais, atoms // points


def lattice_admits(lattice: dict[str, Any], aflow: str, expected: dict[str, Any] | None = None) -> bool | None:
    """Whether the lattice the orientation step found can be that of a crystal of the prototype ``aflow``.

    The lattice of a crystal found by :func:`.orientation.find_lattice` is exact, damaged or not (vacancies,
    displacements and substitutions blur its reflections, never move them), and so are its sites per lattice point
    (the average crystal's). So a crystal of fcc has a face-centred cubic lattice with one site per point, diamond
    the same lattice with two, bcc a body-centred one with one, sc a primitive one with one; the lattice of a
    non-cubic prototype is not cubic. ``lattice``: the record of :meth:`.orientation.Lattice.to_dict`. Returns None
    where the record does not decide it (no ``lattice_bravais``: a local lattice fitted to noisy positions, or a
    record written before the field existed).

    ``expected``: the lattice the orientation step finds on the class's own pristine crystal, ``{'bravais',
    'sites'}`` (a model of many prototypes stores it per class: :func:`expected_lattice`). It is the lattice of the
    structure with species ignored (the coherent reflections weigh every atom alike), which for an ordered compound
    is not its Pearson symbol's (rocksalt: simple cubic of half the edge, one site). With it, a record of the
    ``'standard'`` orientation (``lattice_standard``: any of the 14 Bravais lattices) decides for every class.

    ``expected['seen']`` (optional): more ``[bravais, sites]`` pairs to admit, those the orientation step found on the
    class's damaged training members (:func:`aiida_crystalface.ml.bulk.seen_lattices`). Damage does not move the
    reflections, but it changes which of them pass the coherence threshold: reflections of intermediate strength can
    fall below it, and the lattice found is then a finer one that contains the crystal's (ReO3 with 0.05 A
    displacements: the simple cubic lattice of half the edge, one site per point; with more vacancies on one of its
    three O sites than on the others: a tetragonal one); in a cell of about a hundred atoms with a quarter to a half
    of them vacant, a few reflections off the lattice can pass it, and the lattice found is a coarser one (measured
    on training members of corundum, spinel and C36 Laves: 16 of 203 damaged crystals of 14 classes).
    """
    found = lattice.get('lattice_bravais')
    if not lattice.get('lattice_found', False):
        return None
    if expected is not None and lattice.get('lattice_standard'):
        pair = [str(lattice['lattice_standard']), int(lattice.get('sites_per_lattice_point', -1))]
        return pair == [str(expected['bravais']), int(expected['sites'])] or pair in [
            [str(b), int(n)] for b, n in expected.get('seen') or ()
        ]
    if found is None:
        return None
    bravais, sites = class_lattice(aflow)
    if bravais[0] != 'c':
        return found == ''
    return found == bravais and int(lattice.get('sites_per_lattice_point', -1)) == sites


#: The largest share of a structure's atoms that :func:`composition_distance` may leave out as one substituent
#: element (random substitution over every site, as :func:`.defects.substitutions` does up to 30 %).
SUBSTITUENT_SHARE = 1.0 / 3.0
#: The most elements :func:`composition_distance` decides for (more: a many-element alloy fits most groupings).
COMPOSITION_MAX_SPECIES = 6


def stoichiometry(structure: Any) -> list[float]:
    """The shares of a crystal's atoms that each of its elements holds, largest first (L1_2 Cu3Au: [0.75, 0.25])."""
    numbers = to_atomic_structure(structure).numbers
    _, counts = np.unique(numbers, return_counts=True)
    return sorted((float(c) / len(numbers) for c in counts), reverse=True)


@functools.cache
def _groupings(n: int, k: int) -> np.ndarray:
    """(m, n) int: every assignment of n elements to k groups, each group non-empty, with value k (left out) on at
    most one element, and only where n > k."""
    rows = [
        row
        for row in itertools.product(range(k + 1), repeat=n)
        if all(j in row for j in range(k)) and row.count(k) <= (1 if n > k else 0)
    ]
    return np.array(rows, dtype=int).reshape(len(rows), n)


@functools.cache
def _composition_distance(fractions: tuple[float, ...], shares: tuple[float, ...]) -> float:
    f = np.asarray(fractions, dtype=float)
    q = np.asarray(shares, dtype=float)
    groups = _groupings(len(f), len(q))
    onehot = groups[:, :, None] == np.arange(len(q))[None, None, :]  # (m, n, k)
    sums = np.einsum('mnk,n->mk', onehot, f)
    kept = sums.sum(axis=1)
    dropped = 1.0 - kept / f.sum()
    distance = np.abs(sums / kept[:, None] - q[None, :]).max(axis=1)
    distance[dropped > SUBSTITUENT_SHARE + 1e-9] = np.inf
    return float(distance.min())


def composition_distance(fractions: Sequence[float], shares: Sequence[float]) -> float | None:
    """How far a structure's composition is from a prototype's stoichiometry; None where it cannot tell.

    ``fractions``: the shares of the structure's atoms each element holds (``species_fractions`` of a lattice record,
    :class:`.diffraction.BatchResult`); ``shares``: the prototype's (:func:`stoichiometry`). The structure's elements
    are gathered into as many groups as the prototype has species (each element in one group: a random alloy on one
    sublattice, (Cu,Ni)3Au, is still L1_2), one element of at most :data:`SUBSTITUENT_SHARE` of the atoms may be left
    out (a substituent on random sites of every sublattice), and the distance is the largest difference between a
    group's share and its prototype species' share, least over the groupings. Vacancies and substitutions on random
    sites keep the shares on average; in a cell of a hundred atoms they move them by a few hundredths, which is what
    the tolerance fitted on calibration members (:func:`aiida_crystalface.ml.bulk.fit_decision_rule`) allows for.
    None for an elemental prototype, a structure of fewer elements than the prototype (the species rule decides
    those) or of more than :data:`COMPOSITION_MAX_SPECIES`.
    """
    shares = tuple(sorted((float(x) for x in shares), reverse=True))
    fractions = tuple(sorted((float(x) for x in fractions), reverse=True))
    if len(shares) <= 1 or len(fractions) < len(shares) or len(fractions) > COMPOSITION_MAX_SPECIES:
        return None
    return _composition_distance(fractions, shares)


def expected_lattice(structure: Any) -> dict[str, Any]:
    """``{'bravais', 'sites'}``: the Bravais lattice (``lattice_standard``) and sites per lattice point that the
    ``'standard'`` orientation step finds on a pristine crystal (for :func:`lattice_admits`)."""
    from .orientation import find_lattice, standard_setting

    record = standard_setting(find_lattice(to_atomic_structure(structure), molecular=True)).to_dict()
    if not record.get('lattice_found') or not record.get('lattice_standard'):
        raise ValueError(f'{getattr(structure, "label", structure)!r}: the orientation step finds no lattice on it')
    return {'bravais': str(record['lattice_standard']), 'sites': int(record['sites_per_lattice_point'])}


def _seed(*parts: Any) -> int:
    """A 32-bit seed from a seed and what an item is (strings hashed stably), independent of any grid order."""
    numbers = []
    for part in parts:
        if isinstance(part, str):
            numbers.extend(part.encode())
            numbers.append(0)
        else:
            numbers.append(int(part) & 0xFFFFFFFF)
    return int(np.random.SeedSequence(numbers).generate_state(1, dtype=np.uint32)[0])


def species_blind_parent(structure: Any, symprec: float = 1e-3) -> str | None:
    """The class that the structure's sites form with every species made the same, or None.

    spglib on the pristine structure (all atomic numbers set to one value): space group 225 with one site per
    primitive cell is fcc, 227 with two is diamond, 229 with one is bcc, 221 with one is sc.
    """
    import warnings

    import spglib

    from .prototypes import symmetry_dataset

    atomic = to_atomic_structure(structure)
    blind = atomic.replace(numbers=np.ones(len(atomic), dtype=int))
    dataset = symmetry_dataset(blind, symprec)
    if dataset is None:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', DeprecationWarning)  # spglib's notice about its old error handling
        try:
            primitive = spglib.find_primitive((blind.cell, blind.scaled_positions, blind.numbers), symprec=symprec)
        except spglib.error.SpglibError:
            primitive = None
    n_primitive = len(primitive[2]) if primitive is not None else len(atomic)
    return _PARENTS.get((int(dataset.number), n_primitive))


def near_parent(structure: Any) -> str | None:
    """:func:`species_blind_parent` at a tolerance of :data:`NEAR_PARENT` nearest-neighbour distances."""
    from .defects import nearest_neighbour_distance

    atomic = to_atomic_structure(structure)
    return species_blind_parent(atomic, symprec=NEAR_PARENT * nearest_neighbour_distance(atomic))


@functools.lru_cache(maxsize=1)
def _library() -> tuple[tuple[dict[str, Any], AtomicStructure], ...]:
    from pymatgen.analysis.prototypes import AFLOW_PROTOTYPE_LIBRARY

    entries = []
    for entry in AFLOW_PROTOTYPE_LIBRARY:
        tags = dict(entry['tags'])
        tags['strukturbericht'] = None if tags.get('strukturbericht') in (None, 'None', '') else tags['strukturbericht']
        structure = to_atomic_structure(entry['snl'].structure, label=tags['aflow'])
        entries.append((tags, structure))
    return tuple(entries)


def aflow_prototypes(exclude: Sequence[str] = ()) -> list[tuple[dict[str, Any], AtomicStructure]]:
    """The AFLOW prototype library (pymatgen): ``(tags, structure)`` pairs, the labels in ``exclude`` left out.

    ``tags``: ``aflow`` (e.g. ``'AB_cF8_225_a_b'``), ``pearson``, ``strukturbericht`` (or None) and ``mineral``.
    """
    excluded = set(exclude)
    return [(dict(tags), structure) for tags, structure in _library() if tags['aflow'] not in excluded]


def supercell_of_at_least(structure: AtomicStructure, n_atoms: int = 100) -> AtomicStructure:
    """The smallest near-isotropic diagonal supercell with at least ``n_atoms`` atoms."""
    n = len(structure)
    heights = abs(np.linalg.det(structure.cell)) / np.linalg.norm(
        np.cross(structure.cell[[1, 2, 0]], structure.cell[[2, 0, 1]]), axis=1
    )
    repeats = np.ones(3, dtype=int)
    while n * int(np.prod(repeats)) < n_atoms:
        repeats[int(np.argmin(heights * repeats))] += 1
    return supercell(structure, np.diag(repeats))


def _damage(structure: AtomicStructure, variant: str, seed: int) -> AtomicStructure:
    vacancy, sigma, fraction, n_species = MEMBER_VARIANTS[variant]
    if vacancy:
        structure = vacancies(structure, vacancy, seed=_seed(seed, 'vacancies'))
    if sigma:
        structure = displacements(structure, sigma, seed=_seed(seed, 'displacements'))
    if fraction:
        structure = substitutions(structure, fraction, seed=_seed(seed, 'substitutions'), n_species=n_species)
    return structure


def member(species: str, label: str, variant: str, presentation: str, seed: int) -> AtomicStructure:
    """One member of class ``label``: a conventional supercell of about 100-250 atoms, damaged and presented.

    :param variant: a key of :data:`MEMBER_VARIANTS`.
    :param presentation: one of :data:`PRESENTATIONS`.
    """
    from .presentations import defective_presentations

    repeats = {'fcc': 3, 'diamond': 3, 'bcc': 4, 'sc': 5}[label]
    item_seed = _seed(seed, species, label, variant, presentation)
    vacancy, sigma, fraction, _ = MEMBER_VARIANTS[variant]
    presented = defective_presentations(species, label, repeats, vacancy, sigma, seed=item_seed)[presentation]
    if fraction:  # substitutions: the only damage of these variants
        presented = _damage(presented, variant, item_seed)
    presented.info.update(
        kind='member', label=label, species=species, variant=variant, presentation=presentation, seed=item_seed
    )
    return presented.replace(label=f'{species}-{label}-{variant}-{presentation}')


def outsider(tags: dict[str, Any], structure: AtomicStructure, variant: str, seed: int, *, swap: bool = True):
    """One crystal of a prototype outside the classes: a supercell of >= 100 atoms, species swapped, damaged.

    :param swap: replace each species of the prototype by a random other element of the radius table (the same
        element for every atom of a species), so that the prototype, not its chemistry, is what is learnt.
    """
    item_seed = _seed(seed, tags['aflow'], variant)
    rng = np.random.default_rng(item_seed)
    numbers = structure.numbers.copy()
    if swap:
        present = np.unique(numbers)
        pool = [atomic_number(s) for s in default_species()]
        chosen = rng.choice(pool, size=len(present), replace=False)
        numbers = np.select([structure.numbers == z for z in present], chosen)
    big = supercell_of_at_least(structure.replace(numbers=numbers), 100)
    damaged = _damage(big, variant, item_seed)
    damaged.info.update(kind='outsider', aflow=tags['aflow'], variant=variant, seed=item_seed)
    return damaged.replace(label=f'{tags["aflow"]}-{variant}')


def random_crystal(seed: int, max_attempts: int = 50) -> AtomicStructure:
    """A random crystal of a random space group (3-230) with one to three species, from pyxtal, in >= 100 atoms.

    Needs ``pip install pyxtal``. Deterministic in ``seed`` (pyxtal's own generator is seeded from it).
    """
    try:
        from pyxtal import pyxtal
    except ImportError as exception:  # pragma: no cover - depends on the environment
        raise ImportError('random crystals need pyxtal: pip install pyxtal') from exception
    rng = np.random.default_rng(_seed(seed, 'pyxtal'))
    pool = default_species()
    for _ in range(max_attempts):
        group = int(rng.integers(3, 231))
        n_species = int(rng.integers(1, 4))
        species = [str(s) for s in rng.choice(pool, size=n_species, replace=False)]
        counts = [int(c) for c in rng.integers(1, 9, size=n_species)]
        crystal = pyxtal()
        try:
            crystal.from_random(3, group, species, counts, random_state=int(rng.integers(2**31)))
        except Exception:
            continue
        if not crystal.valid:
            continue
        structure = to_atomic_structure(crystal.to_pymatgen(), label=f'pyxtal-{group}-{seed}')
        structure.info.update(kind='outsider', space_group=group, seed=int(seed), source='pyxtal')
        return supercell_of_at_least(structure, 100)
    raise RuntimeError(f'pyxtal found no random crystal in {max_attempts} attempts (seed {seed})')


def molten_snapshot(seed: int, species: str = 'Cu', repeats: int = 3, temperature: float = 4000.0, steps: int = 400):
    """A snapshot of a melt: fcc ``species`` (EMT potential: Al, Cu, Ag, Au, Ni, Pd, Pt) heated far above melting.

    Langevin dynamics (ASE, time step 2 fs, friction 0.02 / fs) for ``steps`` steps at ``temperature`` kelvin from a
    ``repeats``-fold conventional fcc supercell (4 repeats^3 atoms) at fixed volume, from velocities seeded by ``seed``.
    """
    import warnings

    from ase import units
    from ase.build import bulk
    from ase.calculators.emt import EMT
    from ase.md.langevin import Langevin
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution

    atoms = bulk(species, 'fcc', cubic=True).repeat(repeats)
    atoms.calc = EMT()
    rng = np.random.default_rng(_seed(seed, 'melt'))
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', DeprecationWarning)  # ASE 3.29 points to thermalize_momenta; same draw
        MaxwellBoltzmannDistribution(atoms, temperature_K=temperature, rng=rng)
    dynamics = Langevin(atoms, 2 * units.fs, temperature_K=temperature, friction=0.02 / units.fs, rng=rng, fixcm=False)
    dynamics.run(steps)
    structure = to_atomic_structure(atoms, label=f'molten-{species}-{seed}')
    structure.info.update(kind='molten', temperature=temperature, steps=steps, seed=int(seed))
    return structure


def open_set_split(seed: int = 0, fractions: tuple[float, float, float] = (0.5, 0.15, 0.35)) -> dict[str, dict]:
    """Disjoint ``train`` / ``calibration`` / ``test`` parts of the species, the prototypes and the pyxtal seeds.

    Species (of :func:`.prototypes.default_species`) and outsider prototypes (AFLOW labels, the classes' own left
    out, and those whose species-blind parent is a class: they are neither members nor plain outsiders) are each
    shuffled with ``seed`` and cut at ``fractions``. pyxtal seeds: train 0-9999, calibration 10000-19999, test from
    20000.
    """
    rng = np.random.default_rng(_seed(seed, 'split'))
    species = list(default_species())
    rng.shuffle(species)
    exclude = [p['aflow'] for p in CLASS_PROTOTYPES.values()]
    # One entry per label: the library holds a few labels twice (other species, same prototype).
    prototypes = sorted({tags['aflow'] for tags, _ in aflow_prototypes(exclude) if not _has_parent(tags['aflow'])})
    rng.shuffle(prototypes)

    def cut(items: list) -> list[list]:
        a = round(fractions[0] * len(items))
        b = a + round(fractions[1] * len(items))
        return [sorted(items[:a]), sorted(items[a:b]), sorted(items[b:])]

    parts = zip(('train', 'calibration', 'test'), cut(species), cut(prototypes), (0, 10000, 20000), strict=True)
    return {
        name: {'species': s, 'prototypes': p, 'pyxtal_seed_start': start, 'seed': int(seed)}
        for name, s, p, start in parts
    }


@functools.lru_cache(maxsize=512)
def _has_parent(aflow: str) -> bool:
    """True when every entry of the library with this label has a (near) species-blind parent among the classes."""
    return all(near_parent(structure) in CLASSES for tags, structure in _library() if tags['aflow'] == aflow)


def prototype_entries(aflow: str) -> list[tuple[dict[str, Any], AtomicStructure]]:
    """The library's entries with this label (a few labels have two: the same prototype at other parameters) whose
    species-blind structure is none of the classes (for a parent label: those whose structure is a class)."""
    entries = [(dict(tags), structure) for tags, structure in _library() if tags['aflow'] == aflow]
    parents = [near_parent(structure) in CLASSES for _, structure in entries]
    want = all(parents)
    return [entry for entry, parent in zip(entries, parents, strict=True) if parent == want]


def parent_prototypes() -> list[str]:
    """AFLOW labels (the classes' own left out) whose species-blind structure is one of the classes, exactly or
    within :data:`NEAR_PARENT` nearest-neighbour distances (:func:`near_parent`)."""
    exclude = {p['aflow'] for p in CLASS_PROTOTYPES.values()}
    return sorted(
        {tags['aflow'] for tags, _ in _library() if tags['aflow'] not in exclude and _has_parent(tags['aflow'])}
    )


#: Damage applied to the outsiders of each part (the same kinds as the members', substitutions only binary).
OUTSIDER_VARIANTS: tuple[str, ...] = tuple(v for v in MEMBER_VARIANTS if v != 'ternary substitution 30 %')


def open_set_items(part: str, seed: int = 0, *, draws: int = 2, n_random: int | None = None) -> list[AtomicStructure]:
    """The structures of one part (``'train'``, ``'calibration'`` or ``'test'``) of :func:`open_set_split`.

    Members: every species of the part x class x variant of :data:`MEMBER_VARIANTS`, ``draws`` times, each draw in a
    random presentation. Outsiders: every prototype of the part x variant of :data:`OUTSIDER_VARIANTS`, ``draws``
    times with other species; and ``n_random`` pyxtal crystals (default: as many as the part has prototypes x 3,
    seeds from the part's range). Every item's ``info`` has ``kind`` ('member' or 'outsider'), ``label`` (class or
    'unknown'), ``variant`` and ``seed``. The whole list is determined by ``seed``.
    """
    split = open_set_split(seed)[part]
    rng = np.random.default_rng(_seed(seed, part, 'items'))
    items: list[AtomicStructure] = []
    for species in split['species']:
        for label in CLASSES:
            for variant in MEMBER_VARIANTS:
                for draw in range(draws):
                    presentation = PRESENTATIONS[int(rng.integers(len(PRESENTATIONS)))]
                    items.append(member(species, label, variant, presentation, _seed(seed, draw)))
    for aflow in split['prototypes']:
        for tags, structure in prototype_entries(aflow):
            for variant in OUTSIDER_VARIANTS:
                for draw in range(draws):
                    item = outsider(tags, structure, variant, _seed(seed, draw, len(structure)))
                    item.info['label'] = 'unknown'
                    items.append(item)
    n_random = 3 * len(split['prototypes']) if n_random is None else int(n_random)
    for index in range(n_random):
        crystal = random_crystal(split['pyxtal_seed_start'] + index)
        if near_parent(crystal) in CLASSES:  # a random crystal that is a class member after all
            continue
        variant = OUTSIDER_VARIANTS[int(rng.integers(len(OUTSIDER_VARIANTS)))]
        item = _damage(crystal, variant, _seed(seed, 'pyxtal-damage', index))
        item.info.update(crystal.info, label='unknown', variant=variant)
        items.append(item.replace(label=f'{crystal.label}-{variant}'))
    return items
