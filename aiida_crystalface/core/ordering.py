"""The order of the elements on a cubic lattice: which of its sublattices each element holds.

A crystal whose atoms, all species alike, sit on a cubic lattice with one site per point (the species-blind lattice
:func:`aiida_crystalface.core.orientation.lattice_of` finds: sc, bcc or fcc) is an ordered compound of that lattice
when its elements hold sublattices of it in an order -- CsCl (B2) on bcc, rocksalt (B1) on sc, Cu3Au (L1_2) on fcc,
Fe3Al (D0_3) and Cu2MnAl (L2_1, Heusler) on bcc -- and a random alloy when they do not. The order is read from the
**concentration waves** of each element (Khachaturyan's description of ordering on a lattice): the amplitude

    A_z(k) = (1 / n_z) sum_j exp(i k . r_j)      over the n_z atoms of element z,

at the special points ``k`` of the lattice's Brillouin zone, the wave vectors of every order whose cell is at most
twice the conventional cube along each edge (``k`` = half-integer multiples of ``2 pi / a`` in the conventional cube,
``a`` its edge, reduced modulo the lattice's reciprocal vectors). For a random arrangement each ``|A_z(k)|^2`` is of
order ``1 / n_z``; for an order it is a fixed number: 1 at bcc's H point for both elements of B2, 1 at fcc's X points
for Au in Cu3Au and 1/9 for Cu. Random damage does not move it: vacancies and substitutions placed at random scale
the sum and ``n_z`` alike, small displacements multiply it by a Debye-Waller factor near 1 at these short ``k``.

:func:`order_profile` groups the elements whose amplitudes agree at every ``k`` (they share sublattices: a third
element substituted at random on one element's sites has that element's amplitudes) and gives, per group, its share
of the atoms and its **star powers** (the mean ``|A(k)|^2`` over each star, the ``k`` a cubic symmetry maps into one
another: invariant under the cubic cell's orientation). :func:`class_profiles` gives the same for the pristine
structure of every compound class on such a lattice, and :func:`matching_classes` the classes whose profile a
crystal's matches (same lattice, same groups, shares and star powers within :data:`SHARE_TOLERANCE` and
:data:`POWER_TOLERANCE`).

On any lattice, and on no lattice at all, :func:`arrangement_z` asks a weaker question: are the elements spread over
the occupied sites at random (a random alloy, a random substitute), or do they sit in some order (any compound)? It
compares the element pairs counted in neighbour shells with the counts of the same sites relabelled at random, the
null hypothesis itself, so that vacancies, displacements and the cell's shape need no model.

Imports neither aiida nor torch.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = (
    'GROUP_TOLERANCE',
    'MAX_RANDOM_SHARE',
    'MIN_ATOMS',
    'ORDER_PERMUTATIONS',
    'ORDER_Z',
    'POWER_TOLERANCE',
    'RANDOM_NOISE',
    'RANDOM_POWER',
    'SHARE_TOLERANCE',
    'SHELL_EDGES',
    'arrangement_z',
    'class_profiles',
    'matching_classes',
    'order_profile',
    'stars',
)

#: Elements whose amplitudes differ by less than this at every ``k`` (largest ``|A_a(k) - A_b(k)|``) share sublattices.
GROUP_TOLERANCE = 0.25
#: A crystal's group share may differ from the class's by this much (random vacancies and substitution move it).
SHARE_TOLERANCE = 0.08
#: A crystal's star power may differ from the class's by this much (noise of order 1 / n_z, Debye-Waller factors).
POWER_TOLERANCE = 0.2
#: Elements with fewer atoms than this in the structure give no profile: their amplitudes are noise.
MIN_ATOMS = 8
#: A group whose star powers are all under ``max(RANDOM_POWER, RANDOM_NOISE / atoms)`` holds no sublattice: its atoms
#: are spread at random over every site (a substitute brought in at random, or a random alloy). The noise of a star
#: power over ``n`` random atoms is of order ``1 / n``.
RANDOM_POWER = 0.06
RANDOM_NOISE = 4.0
#: At most this share of the atoms may be in such random groups for a crystal to keep an ordered class.
MAX_RANDOM_SHARE = 0.4
#: The neighbour shells of :func:`arrangement_z`, in nearest-neighbour distances: the first shell of every class
#: (with displacements of up to about 8 % of the distance), bcc's and CsCl's second (1.155), fcc's second (1.414) and
#: hcp's and diamond's further ones, in bins narrow enough that two shells of opposite order (CsCl's unlike first and
#: like second neighbours) are not summed into one.
SHELL_EDGES = (0.0, 1.08, 1.25, 1.5, 1.8, 2.1)
#: Neighbours asked of the k-d tree first in :func:`arrangement_z` (doubled where more lie within reach): 2.1
#: nearest-neighbour distances hold 54 in fcc, 58 in bcc.
NEIGHBOURS = 64
#: Random relabellings that :func:`arrangement_z` measures the statistic's spread on.
ORDER_PERMUTATIONS = 64
#: Centre atoms of :func:`arrangement_z` at most (a seeded sample above): the cost stops growing with the cell.
ORDER_CENTRES = 512
#: An arrangement whose :func:`arrangement_z` is above this is ordered. Under random relabelling the z-score has mean
#: 0 and spread 1, with a longer tail upwards than a normal one (a sum of squares; the spread is estimated from
#: :data:`ORDER_PERMUTATIONS` relabellings): 400 random alloys built with ASE (fcc, bcc, hcp and diamond, 5-50 % of a
#: second and 0 or 15 % of a third element, 0-50 % vacancies, 0-0.15 A displacements) scored -2.6 to 6.5. Ordered
#: compounds of 50 atoms or more with 50 % vacancies and 0.15 A displacements score 20 to 170 (rocksalt, CsCl,
#: zincblende, wurtzite), L1_2 Cu3Au, whose minority has only unlike first neighbours, 4 to 40. Chosen on those
#: synthetic crystals alone, before any of the package's data parts was scored.
ORDER_Z = 10.0


def _in_reciprocal(u: np.ndarray, bravais: str) -> np.ndarray:
    """Whether each row of ``u`` (units of ``2 pi / a`` in the conventional cube) is a reciprocal lattice vector."""
    integral = np.all(np.abs(u - np.round(u)) < 1e-9, axis=-1)
    parity = np.round(u).astype(int) % 2
    if bravais == 'cP':
        return integral
    if bravais == 'cI':  # the reciprocal of bcc is fcc: h + k + l even
        return integral & (parity.sum(axis=-1) % 2 == 0)
    if bravais == 'cF':  # the reciprocal of fcc is bcc: all even or all odd
        return integral & ((parity.sum(axis=-1) == 0) | (parity.sum(axis=-1) == 3))
    raise ValueError(f'bravais must be cP, cI or cF, not {bravais!r}')


def _key(u: Sequence[float]) -> str:
    return ','.join(_fraction(x) for x in sorted(abs(float(v)) for v in u))


def _fraction(x: float) -> str:
    return str(round(x)) if abs(x - round(x)) < 1e-9 else f'{round(2 * x)}/2'


@functools.cache
def stars(bravais: str) -> dict[str, np.ndarray]:
    """The stars of the half-integer special points of a cubic Bravais lattice (``'cP'``, ``'cI'``, ``'cF'``):
    ``{key: (m, 3) array}``, one representative per class of ``k`` modulo the reciprocal lattice (the shortest, then
    the first in order), in units of ``2 pi / a`` of the conventional cube; ``key``: the sorted absolute components of
    the shortest representative (``'0,0,1/2'`` is sc's X point, ``'0,0,1'`` fcc's X and bcc's H)."""
    grid = np.array(list(itertools.product(np.arange(-2, 3) / 2.0, repeat=3)))
    grid = grid[~_in_reciprocal(grid, bravais)]
    classes: list[list[np.ndarray]] = []
    for u in grid:
        for members in classes:
            if _in_reciprocal(u - members[0], bravais):
                members.append(u)
                break
        else:
            classes.append([u])
    out: dict[str, list[np.ndarray]] = {}
    for members in classes:
        best = min(members, key=lambda v: (round(float(v @ v), 9), tuple(-v)))
        out.setdefault(_key(best), []).append(best)
    return {key: np.array(value) for key, value in sorted(out.items())}


def order_profile(
    fractional: np.ndarray, numbers: np.ndarray, conventional: np.ndarray, cell: np.ndarray, bravais: str
) -> dict[str, Any] | None:
    """The order of the elements on a cubic lattice with one site per point (module docstring).

    Args:
        fractional: (N, 3) positions, fractional in ``cell``.
        numbers: (N,) atomic numbers.
        conventional: (3, 3) rows: the lattice's conventional cube edges (Cartesian, the frame of ``cell``).
        cell: (3, 3) rows: the structure's cell.
        bravais: the lattice's cubic Bravais type, ``'cP'``, ``'cI'`` or ``'cF'``.

    Returns ``{'bravais', 'stars': [key, ...], 'groups': [[share, [star power or None, ...], [Z, ...], random],
    ...]}``, groups by share (largest first); ``random``: whether the group holds no sublattice (its star powers are
    all at the noise of atoms placed at random); a star's power is None where the structure's cell does not admit
    every ``k`` of it (the cell cannot hold that order). None for fewer than two elements or an element of under
    :data:`MIN_ATOMS` atoms.
    """
    numbers = np.asarray(numbers)
    elements, counts = np.unique(numbers, return_counts=True)
    if len(elements) < 2 or counts.min() < MIN_ATOMS:
        return None
    table = stars(bravais)
    keys = list(table)
    ks = np.concatenate([table[key] for key in keys])
    owner = np.concatenate([[i] * len(table[key]) for i, key in enumerate(keys)])
    inverse = np.linalg.inv(np.asarray(conventional, dtype=float))
    in_cube = np.asarray(fractional, dtype=float) @ np.asarray(cell, dtype=float) @ inverse
    # a k the cell admits: k . c is a multiple of 2 pi for every cell vector c
    edges = np.asarray(cell, dtype=float) @ inverse
    products = ks @ edges.T
    admitted = np.all(np.abs(products - np.round(products)) < 1e-6, axis=1)
    phases = np.exp(2j * np.pi * (in_cube @ ks.T))  # (N, K)
    amplitudes = np.array([phases[numbers == z].mean(axis=0) for z in elements])  # (E, K)
    # elements with the same amplitudes at every k share sublattices (a substitute at random on a sublattice)
    groups: list[list[int]] = []
    for e in np.argsort(-counts, kind='stable'):
        for group in groups:
            if np.abs(amplitudes[e] - amplitudes[group[0]])[admitted].max(initial=0.0) < GROUP_TOLERANCE:
                group.append(int(e))
                break
        else:
            groups.append([int(e)])
    total = float(counts.sum())
    profile = []
    for group in groups:
        weights = counts[group].astype(float)
        amplitude = (weights[:, None] * amplitudes[group]).sum(axis=0) / weights.sum()
        power = np.abs(amplitude) ** 2
        powers = [
            round(float(power[owner == i].mean()), 4) if admitted[owner == i].all() else None for i in range(len(keys))
        ]
        noise = max(RANDOM_POWER, RANDOM_NOISE / float(weights.sum()))
        random = bool(max((p for p in powers if p is not None), default=0.0) < noise)
        share = round(float(weights.sum()) / total, 4)
        profile.append([share, powers, sorted(int(elements[e]) for e in group), random])
    profile.sort(key=lambda g: (-g[0], [-(p or 0.0) for p in g[1]]))
    return {'bravais': bravais, 'stars': keys, 'groups': profile}


def _matches(profile: dict[str, Any], reference: dict[str, Any]) -> bool:
    """Whether ``profile`` is ``reference``'s order: as it is, or with its random groups (a substitute spread over
    every site at random, at most :data:`MAX_RANDOM_SHARE` of the atoms) left out and the shares of the others
    renormalised."""
    if profile['bravais'] != reference['bravais'] or profile['stars'] != reference['stars']:
        return False
    candidates = [profile['groups']]
    ordered = [g for g in profile['groups'] if not g[3]]
    kept = sum(g[0] for g in ordered)
    if ordered and len(ordered) < len(profile['groups']) and 1.0 - kept <= MAX_RANDOM_SHARE:
        candidates.append([[g[0] / kept, *g[1:]] for g in ordered])
    for groups in candidates:
        if len(groups) != len(reference['groups']):
            continue
        for permutation in itertools.permutations(groups):
            if all(_group_matches(g, r) for g, r in zip(permutation, reference['groups'], strict=True)):
                return True
    return False


def _group_matches(group: list, reference: list) -> bool:
    if abs(group[0] - reference[0]) > SHARE_TOLERANCE:
        return False
    for power, expected in zip(group[1], reference[1], strict=True):
        if power is None:
            if expected > POWER_TOLERANCE:  # the cell cannot hold the order the class has
                return False
            continue
        if abs(power - expected) > POWER_TOLERANCE:
            return False
    return True


@functools.cache
def class_profiles() -> dict[str, dict[str, Any]]:
    """The :func:`order_profile` of the pristine structure of every class of
    :data:`aiida_crystalface.core.classes.BULK_CLASSES` of several elements whose species-blind lattice is cubic with
    one site per point, in a 2 x 2 x 2 supercell of its conventional cell (which admits every star)."""
    from .bulkset import conventional_cell
    from .classes import BULK_CLASSES, class_structure
    from .orientation import lattice_of
    from .structures import supercell

    profiles = {}
    for name in BULK_CLASSES:
        structure = class_structure(name)
        if len(np.unique(structure.numbers)) < 2:
            continue
        cube = conventional_cell(structure)
        lengths = np.linalg.norm(cube.cell, axis=1)
        if not np.allclose(cube.cell @ cube.cell.T, lengths[0] ** 2 * np.eye(3), atol=1e-6 * lengths[0] ** 2):
            continue  # not a cube: the species-blind lattice is not cubic either
        big = supercell(cube, np.diag([2, 2, 2]))
        lattice = lattice_of(big.replace(numbers=np.ones(len(big), dtype=int)))
        if not lattice.found or lattice.sites != 1 or lattice.bravais not in ('cP', 'cI', 'cF'):
            continue
        profile = order_profile(big.scaled_positions, big.numbers, lattice.conventional, big.cell, lattice.bravais)
        if profile is not None:
            profiles[name] = profile
    return profiles


def matching_classes(profile: dict[str, Any] | None, references: dict[str, dict[str, Any]] | None = None) -> list[str]:
    """The classes of ``references`` (``{class: profile}``; default: :func:`class_profiles`) whose order profile
    ``profile`` matches: the same lattice, the same number of groups (its random groups left out where that makes
    it so), and for some pairing of the groups shares within :data:`SHARE_TOLERANCE` and star powers within
    :data:`POWER_TOLERANCE`. Empty for no profile."""
    if not profile:
        return []
    references = class_profiles() if references is None else references
    return [name for name, reference in references.items() if _matches(profile, reference)]


def _periodic_pairs(frac: np.ndarray, cell: np.ndarray, reach: float, capacity: int | None = None):
    """Every pair of atoms of a periodic cell closer than ``reach`` (angstrom), periodic images included, each
    unordered pair once: (first, second, distance), first <= second (first == second: an atom and its own image).
    All pairs of atoms times the images within reach (a Numba kernel): for cells of up to :data:`ORDER_CENTRES` atoms,
    where a k-d tree over the images costs more than it saves. ``capacity``: the pairs the first pass has room for
    (default: an estimate from the cell's density)."""
    from . import _kernels
    from .structures import cell_heights

    frac = np.ascontiguousarray(frac, dtype=np.float64)
    cell = np.ascontiguousarray(cell, dtype=np.float64)
    # a vector shorter than reach has a fractional component along axis a of at most reach / height_a
    steps = np.floor(reach / cell_heights(cell) + 0.5).astype(np.int64)
    grid = np.meshgrid(*(np.arange(-r, r + 1) for r in steps), indexing='ij')
    shifts = np.stack([g.ravel() for g in grid], axis=1).astype(np.float64)
    # one pass where the arrays hold them all: sized from the cell's mean density (the atoms within reach of an
    # atom, each pair once), with a margin; a second pass, sized exactly, where they do not
    if capacity is None:
        n, volume = len(frac), abs(float(np.linalg.det(cell)))
        within = 4.0 / 3.0 * np.pi * reach**3 * n / max(volume, 1e-12)
        capacity = int(n * max(1.0, 0.5 * within) * 1.5) + n
    while True:
        first, second = np.empty(capacity, np.int64), np.empty(capacity, np.int64)
        distance = np.empty(capacity, np.float64)
        count = _kernels.image_pairs(frac, cell, shifts, reach * reach, first, second, distance)
        if count <= capacity:
            return first[:count], second[:count], distance[:count]
        capacity = count


def _tree_pairs(structure: Any, n: int, reach: float, nn_distance: float, rng: np.random.Generator):
    """The pairs (centre, neighbour atom, distance in ``nn_distance``) within ``reach`` of every atom, or of a seeded
    sample of :data:`ORDER_CENTRES` of them, periodic images included: a k-d tree over the images
    (:func:`aiida_crystalface.core.neighbours.neighbourhood`). Each pair of two centres comes both ways."""
    from .neighbours import neighbourhood

    hood = neighbourhood(structure, reach)
    centres = np.arange(n) if n <= ORDER_CENTRES else np.sort(rng.choice(n, size=ORDER_CENTRES, replace=False))
    # the k nearest within reach, k doubled until the farthest column is out of reach (a dense cell)
    k = min(len(hood), NEIGHBOURS)
    while True:
        found, points = hood.tree.query(hood.points[centres], k=k, distance_upper_bound=reach)
        if k >= len(hood) or not np.isfinite(found[:, -1]).any():
            break
        k = min(len(hood), 2 * k)
    found, points = found.reshape(len(centres), -1), points.reshape(len(centres), -1)
    keep = np.isfinite(found) & (found > 1e-6 * nn_distance)  # within reach, not the centre itself
    first = np.broadcast_to(centres[:, None], found.shape)[keep]
    return first, hood.index[points[keep]], found[keep] / nn_distance


def arrangement_z(
    structure: Any,
    nn_distance: float,
    *,
    seed: int = 0,
    permutations: int = ORDER_PERMUTATIONS,
    edges: Sequence[float] = SHELL_EDGES,
) -> float | None:
    """How far the elements of ``structure`` are from a random arrangement over its occupied sites: a z-score.

    The statistic counts, in each neighbour shell (``edges``, in units of ``nn_distance``), the pairs of atoms of
    elements (a, b), and sums ``(observed - expected)^2 / (expected + 1)`` over shells and pairs; ``expected`` is the
    count if the atoms' elements were dealt to the same sites at random (exact: each pair of distinct atoms is (a, b)
    with probability ``n_a (n_b - [a = b]) / (n (n - 1))``, an atom paired with its own periodic image is (a, a) with
    ``n_a / n``). The z-score is the observed statistic's distance from its mean under ``permutations`` random
    relabellings of the sites (seeded by ``seed``), in units of their spread. A random alloy or substitute scores about
    0 +- 1, whatever its vacancies, displacements and cell; an ordered compound far more (CsCl's first shell holds
    only unlike pairs, its second only like ones). Over :data:`ORDER_CENTRES` atoms, a seeded sample of them are the
    centres of the pairs counted.

    Returns None for fewer than two elements, fewer than four atoms, or a structure whose relabellings all give the
    same statistic (too small to tell).
    """
    numbers = np.asarray(structure.numbers)
    elements, labels = np.unique(numbers, return_inverse=True)
    n, s = len(numbers), len(elements)
    if s < 2 or n < 4 or not np.isfinite(nn_distance) or nn_distance <= 0:
        return None
    from . import _kernels

    edges = np.asarray(edges, dtype=float)
    reach = float(edges[-1]) * float(nn_distance)
    rng = np.random.default_rng(seed)
    cell = np.asarray(structure.cell, dtype=np.float64)
    symmetric = bool(np.all(structure.pbc)) and n <= ORDER_CENTRES
    if symmetric:
        # every atom a centre: each pair (images included) once, from an all-pairs kernel (the statistic counts it
        # both ways), instead of a tree over the periodic images
        frac = np.linalg.solve(cell.T, np.asarray(structure.positions, dtype=np.float64).T).T
        first, second, found = _periodic_pairs(frac, cell, reach)
        keep = found > 1e-6 * float(nn_distance)
        first, second, distance = first[keep], second[keep], found[keep] / float(nn_distance)
    else:
        first, second, distance = _tree_pairs(structure, n, reach, float(nn_distance), rng)
    shells = len(edges) - 1
    shell = np.clip(np.searchsorted(edges, distance, side='right') - 1, 0, shells - 1)
    # expected counts under random relabelling, per shell: distinct-atom pairs and self-image pairs apart
    counts = np.bincount(labels, minlength=s).astype(float)
    same = first == second
    both = 2.0 if symmetric else 1.0  # pairs listed once stand for both ways
    distinct = np.bincount(shell[~same], minlength=shells).astype(float) * both
    selfish = np.bincount(shell[same], minlength=shells).astype(float) * both
    pair = (np.outer(counts, counts) - np.diag(counts)) / (n * (n - 1.0))
    expected = distinct[:, None, None] * pair[None] + selfish[:, None, None] * np.diag(counts / n)[None]

    shell, first, second = shell.astype(np.int64), first.astype(np.int64), second.astype(np.int64)

    def statistic(dealt: np.ndarray) -> np.ndarray:
        return _kernels.shell_statistics(shell, first, second, dealt.astype(np.int64), expected, symmetric)

    value = float(statistic(labels[None])[0])
    null = statistic(rng.permuted(np.tile(labels, (int(permutations), 1)), axis=1))
    spread = float(null.std(ddof=1)) if len(null) > 1 else 0.0
    if not np.isfinite(spread) or spread <= 1e-12 * max(1.0, abs(float(null.mean()))):
        return None
    return round((value - float(null.mean())) / spread, 3)
