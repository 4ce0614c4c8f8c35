"""Find the lattice of a crystal that may be heavily defective, and the rotation to its standard orientation.

The fingerprint depends on how the crystal is oriented with respect to the beam, so every structure is turned into
the standard conventional orientation of its lattice before its cluster is cut (:mod:`.cluster`). spglib can do that
for a pristine crystal only: a vacancy, a displaced atom or a substitution lowers the symmetry it finds, and its
tolerance would have to be chosen per structure. This module finds the lattice from the diffraction of the periodic
structure itself, with no tolerance to choose (``docs/fingerprint.md``, "Orientation", has the derivation):

1. **Coherence of the reflections of the cell.** A periodic structure scatters only at the points G of the reciprocal
   lattice of its cell. For each such G with ``|G| <= 1.5 (2 pi / d_nn)`` (``d_nn``: the median nearest-neighbour
   distance), the coherence ``C(G) = |sum_j exp(i G . r_j)| / N`` is computed with unit weights for every atom, so
   that substitutions do not matter. A Bragg reflection of the underlying lattice keeps ``C`` at the value of the
   pristine crystal times the Debye-Waller factor, whatever the fraction of vacancies (1 for fcc, bcc and sc, 1 or
   1/sqrt(2) for diamond's lowest reflections; about 0.9 at 0.15 angstrom of displacement), while scattering from
   disorder has ``C ~ 1 / sqrt(N)``. The reflections with ``C >= 1/2`` are the lattice's.
2. **The lattice they generate.** Those reflections are integer vectors (h, k, l) of the cell's reciprocal basis; the
   lattice they generate (a Hermite normal form by integer row reduction) is the reciprocal lattice of the crystal's
   lattice, and its dual is that lattice. It is exact: every vector of it is a rational combination of the cell
   vectors, so displacements blur the intensities but never the lattice found.
3. **Standard orientation.** Among the short vectors of the lattice (up to 1.75 times the shortest: the cube edge is
   1, 1.15 and 1.41 times the shortest vector of sc, bcc and fcc), the triple that is closest to three mutually
   orthogonal vectors of equal length is the conventional cubic cell for a cubic lattice (and the most cubic cell of
   any other). The structure is rotated (a proper rotation, the polar factor of that triple) so that the three lie
   along x, y and z.

The **score** is the fraction of the scattering within that sphere (G = 0 left out) that falls on the reflections of
the lattice found: 1 for a perfect crystal, lower with disorder, 0 when no lattice is found. **No lattice is found**
when the coherent reflections do not span three dimensions (an amorphous solid, a liquid, a gas: every ``C`` is of
order ``1 / sqrt(N)``), or when the only periodicity is one the atoms do not fill: a lattice whose shortest vector is
longer than 2.5 nearest-neighbour distances (a molecule or a cluster in a box).

The **superlattice peak** says whether the scattering off the lattice is that of disorder or of order. Off the
lattice's reflections, a lattice damaged at random (vacancies, substitutions and displacements placed independently)
scatters incoherently: each off-lattice reflection's power is exponentially distributed about a mean that varies
slowly with ``|G|`` (evenly for vacancies; growing as ``1 - exp(-G^2 s^2)`` for displacements of ``s``), so the
largest of ``M`` of them over that mean exceeds ``ln(M / alpha)`` with a probability of about ``alpha``. An
*ordered* superstructure of the same lattice (vacancies or species in an order, a frozen displacement wave) puts
that power into the few wave vectors of its own, smaller cell: a peak of order ``K / (m - 1)`` times the mean for a
period of ``m`` lattice points among the ``K`` distinct wave vectors of a cell of ``K + 1`` points. The peak is the
largest off-lattice power over the mean fitted as a smooth function of ``|G|`` (:func:`_superlattice_peak`);
:func:`disorder_limit` gives the bound that a crystal with random damage stays under.
"""

from __future__ import annotations

import dataclasses
import itertools
from typing import Any

import numpy as np

from .structures import AtomicStructure, StructureError, cell_heights, integer_grid, median, to_atomic_structure

__all__ = (
    'CUBIC_TOLERANCE',
    'MAX_ATOMS',
    'NO_LATTICE',
    'Lattice',
    'cubic_bravais',
    'disorder_limit',
    'find_lattice',
    'lattice_of',
    'no_lattice_message',
    'periodic_nn_distance',
    'standard_conventional',
    'standard_setting',
)

#: Off-lattice scattering under this share of the incoherent scattering of the atoms is rounding noise, not disorder
#: (:func:`_superlattice_peak`); the smallest real damage, one vacancy in 512 atoms, scatters 1/512 of it.
NEGLIGIBLE_DIFFUSE = 1e-6
#: The fewest lattice points in a cell for which random and ordered damage can be told apart at all: with fewer, an
#: ordered superstructure's peak (about ``K / (m - 1)`` mean powers for a period of ``m`` points, ``K + 1`` points in
#: the cell) is no higher than the largest of the random ones (``ln(M / alpha)``, ``M`` about ``5 K``). A cell of a
#: few points with an atom missing is an ordered structure by definition.
MIN_DISORDER_POINTS = 64

#: Atoms that enter the coherence sums at most (a seeded random subset of larger structures).
MAX_ATOMS = 512
#: Atoms whose scattering off the lattice estimates the diffuse part of the score, at most (a seeded random subset).
DIFFUSE_ATOMS = 16384
#: Reflections up to this many times 2 pi / d_nn: the two or three lowest shells of the four cubic classes.
G_MAX = 1.5
#: A reflection whose coherence reaches this belongs to the lattice.
COHERENCE = 0.5
#: Short vectors considered for the conventional cell: up to this many times the shortest lattice vector.
SHORT_VECTORS = 1.75
#: A lattice whose shortest vector is longer than this many nearest-neighbour distances is not the crystal's.
MAX_SPACING = 2.5
#: A lattice is cubic when its most cubic conventional cell is a cube to within this relative metric deviation.
CUBIC_TOLERANCE = 0.005
#: The lattice points of a cube (fractional), for each cubic Bravais lattice.
_CENTRINGS = {
    'cP': ((0.0, 0.0, 0.0),),
    'cI': ((0.0, 0.0, 0.0), (0.5, 0.5, 0.5)),
    'cF': ((0.0, 0.0, 0.0), (0.0, 0.5, 0.5), (0.5, 0.0, 0.5), (0.5, 0.5, 0.0)),
}
_CENTRING_CODES = {
    frozenset(round(4 * 2 * x + 2 * 2 * y + 2 * z) for x, y, z in points): name for name, points in _CENTRINGS.items()
}
#: The words every message about a structure with no lattice starts with (classification refuses such structures).
NO_LATTICE = 'no lattice found'
#: Version of the method, stored with every result.
METHOD = 'coherent-reflections-1'


@dataclasses.dataclass(frozen=True, eq=False)
class Lattice:
    """What :func:`find_lattice` found.

    ``found``: whether a lattice was found (see the module docstring). ``score``: the fraction of the scattering that
    falls on the lattice's reflections (0..1; 0 when none is found). ``primitive`` (3 x 3, rows, angstrom, in the
    frame of the structure as given): a reduced basis of the lattice. ``conventional``: the most cubic short
    right-handed triple of lattice vectors, the cell the cluster is cut in. ``rotation``: the proper rotation that
    puts ``conventional`` along x, y and z (``positions @ rotation.T``). ``atoms_per_point``: atoms per lattice point
    (1 for fcc, bcc, sc; 2 for diamond; less with vacancies). ``reflections``: the number of coherent reflections.
    ``reason``: why no lattice was found (empty when one was). ``periodic``: whether the structure has
    three-dimensional long-range order at all: True when a lattice was found, and when the only lattice is longer
    than :data:`MAX_SPACING` nearest-neighbour distances (a crystal with a large cell, or molecules in a box: order,
    but not that of a lattice the classes could have); False when the coherent reflections do not span three
    dimensions (amorphous, liquid, gas). The open-set answer reads it: ``amorphous`` only for no order at all.
    ``bravais``: ``'cP'``, ``'cI'`` or ``'cF'`` when the lattice is cubic, ``''`` when it is not, None where it was not
    decided (no lattice, or a local lattice fitted to noisy positions); ``cubic_deviation``: how far the most cubic
    cell is from a cube (see :func:`cubic_bravais`). ``standard``: None, except in the lattice that
    :func:`standard_setting` returns, where ``conventional`` and ``rotation`` are those of the standard conventional
    cell of any of the seven crystal systems and ``standard`` is its Bravais lattice (``'aP'``, ``'mP'``, ``'mC'``,
    ``'oP'``, ``'oC'``, ``'oI'``, ``'oF'``, ``'tP'``, ``'tI'``, ``'hR'``, ``'hP'``, ``'cP'``, ``'cI'``, ``'cF'``).
    ``points``: the lattice points in the structure's cell. ``superlattice_peak``: the largest off-lattice power over
    its expected mean (module docstring; 0 when the cell has no off-lattice reflection, a primitive cell say, or
    scatters nothing off the lattice), of ``diffuse_reflections`` off-lattice reflections. ``species_peak``: for a
    crystal of several elements on a cubic lattice with one site per point, the largest of the superlattice peaks of
    each element's atoms alone (the same reflections): a random alloy has none, an ordered compound on the same
    lattice (CsCl and D0_3 on bcc's, L1_2 on fcc's, rocksalt on sc's) a strong one; None otherwise.
    ``species_order``: for the same crystals, which sublattices of the lattice each element holds
    (:func:`aiida_crystalface.core.ordering.order_profile`); None otherwise. ``order_z``: for any crystal of several
    elements whose lattice was found, how far its elements are from a random arrangement over its occupied sites
    (:func:`aiida_crystalface.core.ordering.arrangement_z`: about 0 for a random alloy, tens and more for a compound);
    None otherwise.
    """

    found: bool
    score: float
    primitive: np.ndarray
    conventional: np.ndarray
    rotation: np.ndarray
    atoms_per_point: float
    sites: int
    reflections: int
    nn_distance: float
    seed: int
    reason: str = ''
    site_positions: np.ndarray | None = None
    periodic: bool = True
    bravais: str | None = None
    cubic_deviation: float | None = None
    standard: str | None = None  # the Bravais lattice of the standard setting (standard_setting), None otherwise
    points: int = 0  # lattice points in the structure's cell (0 where no lattice was found)
    superlattice_peak: float | None = None  # see the module docstring; None where no lattice was found
    diffuse_reflections: int = 0  # the off-lattice reflections the peak is the largest of
    species_peak: float | None = None  # the largest superlattice peak of one element's sites; see the docstring
    species_order: dict | None = None  # the elements' order on the lattice (.ordering.order_profile); see the docstring
    order_z: float | None = None  # how far the elements are from a random arrangement (.ordering.arrangement_z)

    def to_dict(self) -> dict[str, Any]:
        """The JSON-friendly summary stored with a fingerprint (found, score, ..., method and seed)."""
        return {
            'lattice_found': bool(self.found),
            'lattice_score': round(float(self.score), 6),
            'lattice_reason': self.reason,
            'lattice_periodic': bool(self.periodic),
            'atoms_per_lattice_point': round(float(self.atoms_per_point), 6),
            'sites_per_lattice_point': int(self.sites),
            'nn_distance': round(float(self.nn_distance), 6),
            'coherent_reflections': int(self.reflections),
            'conventional_lengths': [round(float(x), 6) for x in np.linalg.norm(self.conventional, axis=1)],
            'lattice_method': METHOD,
            'lattice_seed': int(self.seed),
            **(
                {}
                if self.bravais is None
                else {'lattice_bravais': self.bravais, 'cubic_deviation': round(float(self.cubic_deviation), 6)}
            ),
            **({} if self.standard is None else {'lattice_standard': self.standard}),
            **({} if self.order_z is None else {'species_order_z': round(float(self.order_z), 3)}),
            **(
                {}
                if self.superlattice_peak is None
                else {
                    'lattice_points': int(self.points),
                    'superlattice_peak': round(float(self.superlattice_peak), 4),
                    'diffuse_reflections': int(self.diffuse_reflections),
                    **(
                        {}
                        if self.species_peak is None
                        else {'species_superlattice_peak': round(float(self.species_peak), 4)}
                    ),
                    **({} if self.species_order is None else {'species_order': self.species_order}),
                }
            ),
        }


def disorder_limit(points: int, reflections: int, alpha: float) -> float | None:
    """The superlattice peak that a lattice damaged at random exceeds with a probability of about ``alpha``:
    ``ln(reflections / alpha)`` for the largest of ``reflections`` off-lattice reflections (module docstring); None
    for a cell of fewer than :data:`MIN_DISORDER_POINTS` lattice points, where random and ordered damage cannot be told
    apart."""
    if not 0 < alpha < 1:
        raise ValueError(f'alpha must lie between 0 and 1, not {alpha}')
    if points < MIN_DISORDER_POINTS:
        return None
    return float(np.log(max(int(reflections), 1) / alpha))


def _superlattice_peak(power: np.ndarray, g: np.ndarray, atoms: int) -> float:
    """The largest of ``power`` (off-lattice reflections) over the mean power expected at its ``g`` = ``|G|``.

    The expected power is a least-squares fit of ``a + b G^2 + c G^4`` to all of them: random vacancies and
    substitutions scatter off the lattice evenly (``a``), random displacements as ``n (1 - exp(-G^2 s^2))``, which
    grows with ``G^2`` (``b``, ``c``: the two first terms of its series, enough up to the sphere's edge for
    displacements up to a fifth of the nearest-neighbour distance). The few strong reflections of an order raise the
    fit a little and stand far above it. Where the mean is under :data:`NEGLIGIBLE_DIFFUSE` times ``atoms`` (the mean
    of one atom per wave vector scattering incoherently), nothing scatters off the lattice but rounding errors, whose
    peak means nothing: a pristine crystal in a supercell has no superlattice peak (0).
    """
    if len(power) == 0:
        return 0.0
    mean = float(power.mean())
    if mean <= NEGLIGIBLE_DIFFUSE * atoms:
        return 0.0
    x = (g / g.max()) ** 2
    design = np.stack([np.ones_like(x), x, x * x], axis=1)
    coefficients = np.linalg.lstsq(design, power, rcond=None)[0]
    expected = np.maximum(design @ coefficients, 0.1 * mean)
    return float((power / expected).max())


def no_lattice_message(lattice: dict) -> str:
    """The message for a structure in which no lattice was found (``lattice``: :meth:`Lattice.to_dict`)."""
    return f'{NO_LATTICE} ({lattice.get("lattice_reason", "")}), so no crystal class is given'


def cubic_bravais(primitive: np.ndarray, conventional: np.ndarray) -> tuple[str, float]:
    """Whether a lattice is cubic, and which cubic Bravais lattice: ``('cP' | 'cI' | 'cF' | '', deviation)``.

    ``primitive``: a basis of the lattice; ``conventional``: its most cubic triple of lattice vectors (rows).
    ``deviation`` is the largest element of ``|M / (tr M / 3) - 1|`` for the metric ``M`` of ``conventional``: 0 for
    a cube, 4/3 of the strain for a cube strained along one axis, of order 1 for a
    hexagonal or rhombohedral lattice. The lattice is cubic when ``deviation <= CUBIC_TOLERANCE`` (0.5 %: about 0.4 %
    of uniaxial strain; a cubic crystal in a cell strained as an NPT snapshot's is, by 0.1-0.3 %, stays cubic; a
    tetragonal or orthorhombic distortion of a percent, as in the ordered MoPt2-type fcc superstructure at 0.9 %,
    does not) and the lattice points in the cube are those of a primitive, body-centred or
    face-centred cube. The lattice :func:`find_lattice` finds is exact (a rational combination of the cell vectors),
    so the deviation of a damaged cubic crystal in its own cell is at the level of rounding errors: the tolerance is
    for cells strained as a whole, not for damage.
    """
    conventional = np.asarray(conventional, dtype=np.float64)
    metric = conventional @ conventional.T
    deviation = float(np.abs(metric / (np.trace(metric) / 3.0) - np.eye(3)).max())
    if deviation > CUBIC_TOLERANCE:
        return '', deviation
    # The lattice points in the cube, doubled: the cubic centrings put them on multiples of 1/2.
    doubled = 2.0 * (_SHIFTS @ np.asarray(primitive, dtype=np.float64) @ np.linalg.inv(conventional))
    whole = np.round(doubled)
    if np.abs(doubled - whole).max() > 1e-4:
        return '', deviation
    codes = frozenset((np.mod(whole.astype(np.int64), 2) @ np.array([4, 2, 1])).tolist())
    return _CENTRING_CODES.get(codes, ''), deviation


def periodic_nn_distance(structure: AtomicStructure, sample: int = 256, seed: int = 0) -> float:
    """Return the median over atoms (a seeded sample of ``sample`` atoms) of the periodic nearest-neighbour distance."""
    cell, positions = structure.cell, structure.positions
    n = len(positions)
    chosen = np.sort(np.random.default_rng(seed).choice(n, size=sample, replace=False)) if n > sample else np.arange(n)
    # No two atoms of a structure of this density are farther apart than close packing allows: 1.12 (V/N)^(1/3).
    radius = 1.5 * (abs(np.linalg.det(cell)) / n) ** (1.0 / 3.0)
    heights = cell_heights(cell)
    from . import _kernels

    wrap = bool(np.all(heights > 2.0 * radius))  # minimum image is exact below half the smallest height
    # Otherwise every image within the radius: fractional differences lie in (-1, 1), hence the extra cell.
    reach = np.zeros(3, dtype=int) if wrap else np.ceil(radius / heights).astype(int) + 1
    shifts = integer_grid(-reach, reach)
    frac = positions @ np.linalg.inv(cell)
    frac = np.ascontiguousarray(frac - np.floor(frac))
    nearest = _kernels.nearest_squared(frac, cell, chosen.astype(np.int64), shifts, wrap)
    return float(np.sqrt(median(nearest)))


def _reflections(cell: np.ndarray, g_max: float) -> np.ndarray:
    """Return the (h, k, l) of the cell's reflections with 0 < |G| <= g_max, one of each Friedel pair (F(-G) = F(G)*).

    Half of reciprocal space: h > 0, or h = 0 and k > 0, or h = k = 0 and l > 0.
    """
    from . import _kernels

    reach = np.floor(g_max * np.linalg.norm(cell, axis=1) / (2.0 * np.pi) + 1e-9).astype(np.int64)
    reciprocal = 2.0 * np.pi * np.linalg.inv(cell).T  # rows b1, b2, b3 with a_i . b_j = 2 pi delta_ij
    return _kernels.reflections(reciprocal @ reciprocal.T, reach, g_max**2 * (1 + 1e-9))


def _power(frac: np.ndarray, hkl: np.ndarray) -> np.ndarray:
    """Return |F(hkl)|^2 with F = sum_j exp(2 pi i (h, k, l) . x_j), unit weight per atom.

    F is separable, a product of one phase factor per axis: the factors are tabulated once per atom and axis (powers
    of exp(2 pi i x)), and each reflection costs two complex products per atom (:func:`._kernels.coherence_power`).
    """
    from . import _kernels

    power = np.empty(len(hkl))
    if len(hkl) == 0:
        return power
    reach = np.abs(hkl).max(axis=0).astype(np.int64)
    _kernels.coherence_power(np.ascontiguousarray(frac), reach, np.ascontiguousarray(hkl + reach), power)
    return power


_COEFFICIENTS = np.array([c for c in itertools.product(range(-2, 3), repeat=3) if c > (0, 0, 0)], dtype=np.float64)
_SHIFTS = np.array(list(itertools.product(range(-2, 3), repeat=3)), dtype=np.float64)  # lattice translations


def _most_cubic_triple(primitive: np.ndarray) -> np.ndarray:
    """Return the right-handed triple of short lattice vectors closest to a cube's edges (see the module docstring)."""
    from . import _kernels

    vectors = _COEFFICIENTS @ primitive
    lengths = np.linalg.norm(vectors, axis=1)
    short = vectors[lengths <= SHORT_VECTORS * lengths.min() * (1 + 1e-9)]
    chosen = _kernels.most_cubic_triple(np.ascontiguousarray(short))
    if chosen[0] < 0:  # the short vectors are coplanar (a flat cell): look among all of them
        short = vectors
        chosen = _kernels.most_cubic_triple(np.ascontiguousarray(short))
    triple = short[list(chosen)]
    if np.linalg.det(triple) < 0:
        triple[2] = -triple[2]
    return triple


def _canonical_handedness(
    triple: np.ndarray, sites: np.ndarray, primitive: np.ndarray, nn_distance: float
) -> np.ndarray:
    """Choose between the two classes of cube orientations that a crystal without inversion through its sites has.

    For diamond, the 24 proper rotations of the cube fall into two classes that give two different clusters (the
    bonds of the first site point along (1, 1, 1)/4 and its cousins with an even number of minus signs in one class,
    an odd number in the other); spglib's standard setting is the first. Turning the triple by 90 degrees about its
    third vector switches class. The class is measured as the sign of the mean x y z product of the first site's
    nearest-neighbour vectors (zero for fcc, bcc and sc, whose neighbours come in opposite pairs).
    """
    shifts = _SHIFTS @ primitive
    vectors = (sites[None, :, :] - sites[0] + shifts[:, None, :]).reshape(-1, 3)
    lengths = np.linalg.norm(vectors, axis=1)
    near = vectors[(lengths > 1e-6) & (lengths < 1.1 * nn_distance)]
    if len(near) == 0:
        return triple
    frame = near @ np.linalg.solve(triple, np.eye(3))  # coordinates along the triple's vectors
    parity = float(np.mean(np.prod(frame, axis=1)))
    if parity < -1e-6 * float(np.mean(np.abs(np.prod(frame, axis=1))) + 1e-300):
        return np.array([triple[1], -triple[0], triple[2]])
    return triple


def _rotation(triple: np.ndarray) -> np.ndarray:
    """The proper rotation closest to mapping the triple's directions onto x, y, z (polar factor of the unit rows)."""
    unit = triple / np.linalg.norm(triple, axis=1)[:, None]
    u, _, vt = np.linalg.svd(unit)
    rotation = u @ vt
    if np.linalg.det(rotation) < 0:  # only for a degenerate triple; the triple itself is right-handed
        u[:, -1] = -u[:, -1]
        rotation = u @ vt
    return rotation


def _not_found(cell: np.ndarray, n: int, nn: float, seed: int, reason: str, *, periodic: bool = False) -> Lattice:
    return Lattice(
        found=False,
        score=0.0,
        primitive=cell.copy(),
        conventional=cell.copy(),
        rotation=np.eye(3),
        atoms_per_point=float(n),
        sites=n,
        reflections=0,
        nn_distance=nn,
        seed=seed,
        reason=reason,
        periodic=periodic,
    )


def _average_sites(frac: np.ndarray, primitive: np.ndarray, radius: float) -> np.ndarray:
    """Return the sites of the average crystal: fractional coordinates (in ``primitive``) of the atoms' clusters.

    Atoms are taken modulo the lattice and grouped greedily (minimum image, within ``radius`` angstrom of the group's
    first atom); each site is its group's mean. Groups of fewer than a quarter of the largest group's atoms (an
    interstitial, a wandering atom) are not sites.
    """
    frac = frac - np.floor(frac)
    sites, counts = [], []
    remaining = np.arange(len(frac))
    while len(remaining) and len(sites) < 64:
        first = frac[remaining[0]]
        delta = frac[remaining] - first
        delta -= np.round(delta)
        members = np.einsum('ij,ij->i', delta @ primitive, delta @ primitive) < radius**2
        sites.append(first + delta[members].mean(axis=0))
        counts.append(int(members.sum()))
        remaining = remaining[~members]
    counts = np.array(counts)
    order = np.argsort(-counts, kind='stable')  # the most populated site first
    return np.array(sites)[order][counts[order] >= 0.25 * counts.max()]


def _site_nn_distance(sites: np.ndarray, primitive: np.ndarray) -> float:
    """Return the nearest-neighbour distance of the ideal crystal: the sites repeated by the lattice."""
    delta = (sites[:, None, None, :] - sites[None, :, None, :] + _SHIFTS[None, None, :, :]) @ primitive
    d2 = np.einsum('...i,...i->...', delta, delta)
    return float(np.sqrt(d2[d2 > 1e-12].min()))


def find_lattice(structure: Any, seed: int = 0, *, molecular: bool = False) -> Lattice:
    """Find the lattice of ``structure`` (any cell, any orientation, defective or not): see the module docstring.

    ``seed`` chooses the random subset of atoms for structures of more than :data:`MAX_ATOMS` atoms (and the sample
    for the nearest-neighbour distance); it is stored in the result. Raises :class:`StructureError` for a structure
    that cannot be fingerprinted at all.

    ``molecular``: measure the "molecule in a box" rule against the second-nearest-neighbour distance of the average
    crystal rather than the nearest: a molecular crystal (solid N2, FeS2 with its S2 pairs) has a lattice several
    bond lengths long, but its molecules touch their neighbours at the second-neighbour distance, while a molecule in
    a box does not (methane in a 6 angstrom box: its second neighbours are its own hydrogens). The ``'standard'``
    orientation uses it; the paper's (``'lattice'``) keeps the nearest-neighbour rule, so that nothing the paper's
    models were measured on changes.
    """
    return lattice_of(to_atomic_structure(structure).validate(), seed, molecular=molecular)


def _second_neighbour_distance(sites: np.ndarray, primitive: np.ndarray) -> float:
    """Median over the average crystal's sites (cartesian, in the reduced ``primitive`` cell) of the distance to the
    second-nearest site (periodic images within one cell)."""
    shifts = np.stack(np.meshgrid(*(np.arange(-1, 2),) * 3, indexing='ij'), axis=-1).reshape(-1, 3) @ primitive
    images = (sites[None, :, :] + shifts[:, None, :]).reshape(-1, 3)
    distances = np.sort(np.linalg.norm(sites[:, None, :] - images[None, :, :], axis=2), axis=1)
    return float(np.median(distances[:, 2])) if distances.shape[1] > 2 else float('inf')


def lattice_of(structure: AtomicStructure, seed: int = 0, *, molecular: bool = False) -> Lattice:
    """:func:`find_lattice` of a structure validated already (:meth:`AtomicStructure.validate`)."""
    from . import _kernels  # here, not at the top: importing the package compiles nothing

    cell = np.asarray(structure.cell, dtype=np.float64)
    n = len(structure)
    nn = periodic_nn_distance(structure, seed=seed)
    if not np.isfinite(nn) or nn <= 0:
        raise StructureError(f'{structure.label}: no nearest-neighbour distance (is it one isolated atom?)')
    frac = structure.scaled_positions
    rng = np.random.default_rng(seed) if n > MAX_ATOMS else None
    chosen = np.sort(rng.choice(n, size=MAX_ATOMS, replace=False)) if rng is not None else np.arange(n)
    subset = frac[chosen]
    hkl = _reflections(cell, G_MAX * 2.0 * np.pi / nn)
    power = _power(subset, hkl)
    coherent = power >= (COHERENCE * len(subset)) ** 2
    basis = _kernels.integer_basis(np.ascontiguousarray(hkl[coherent]))
    if len(basis) < 3:
        return _not_found(cell, n, nn, seed, f'the coherent reflections span {len(basis)} dimension(s), not 3')
    inverse = np.linalg.inv(basis.astype(np.float64))
    indices = hkl @ inverse
    on_lattice = np.all(np.abs(indices - np.round(indices)) < 1e-6, axis=1)
    if n > MAX_ATOMS:
        # A subset would add its own noise off the lattice, and so make the score depend on the cell it is given
        # in: take the lattice's reflections with every atom, and the rest from a seeded sample of them.
        off = np.flatnonzero(~on_lattice)
        sample = np.sort(rng.choice(off, size=min(len(off), 1024), replace=False))
        bragg = float(_power(frac, hkl[on_lattice]).sum())
        # Off the lattice the scattering is incoherent: its power is proportional to the number of atoms, so above
        # DIFFUSE_ATOMS a seeded random subset of them, scaled up, estimates it without bias at a cost that no longer
        # grows with the atoms times the reflections (both grow with the cell).
        scatterers = frac
        if n > DIFFUSE_ATOMS:
            scatterers = frac[np.sort(rng.choice(n, size=DIFFUSE_ATOMS, replace=False))]
        scale = n / len(scatterers)
        diffuse = float(_power(scatterers, hkl[sample]).mean() * len(off) * scale) if len(off) else 0.0
    else:
        bragg, diffuse = float(power[on_lattice].sum()), float(power[~on_lattice].sum())
    score = bragg / (bragg + diffuse) if bragg + diffuse > 0 else 1.0
    reciprocal = 2.0 * np.pi * np.linalg.inv(cell).T
    peak = _superlattice_peak(power[~on_lattice], np.linalg.norm(hkl[~on_lattice] @ reciprocal, axis=1), len(subset))
    primitive = _kernels.reduce_basis(np.ascontiguousarray(inverse.T @ cell))
    points = round(abs(np.linalg.det(basis.astype(np.float64))))
    spacing = float(np.linalg.norm(primitive, axis=1).min())
    sites = None
    if spacing > MAX_SPACING * nn and molecular:
        sites = _average_sites(subset @ cell @ np.linalg.inv(primitive), primitive, 0.5 * nn)
        second = _second_neighbour_distance(sites @ primitive, primitive)
        if spacing > MAX_SPACING * second:
            reason = f'the only periodicity ({spacing:.2f} A) is {spacing / second:.1f} second-neighbour distances long'
            return _not_found(cell, n, nn, seed, reason, periodic=True)
    elif spacing > MAX_SPACING * nn:
        reason = f'the only periodicity ({spacing:.2f} A) is {spacing / nn:.1f} nearest-neighbour distances long'
        return _not_found(cell, n, nn, seed, reason, periodic=True)
    if sites is None:
        sites = _average_sites(subset @ cell @ np.linalg.inv(primitive), primitive, 0.5 * nn)
    nn_ideal = _site_nn_distance(sites, primitive)
    conventional = _canonical_handedness(_most_cubic_triple(primitive), sites @ primitive, primitive, nn_ideal)
    bravais, deviation = cubic_bravais(primitive, conventional)
    species_peak = species_order = None
    numbers = np.asarray(structure.numbers)[chosen]
    if len(sites) == 1 and bravais and len(np.unique(numbers)) > 1:
        # one site per point on a cubic lattice, several elements: is their arrangement random or ordered?
        off = hkl[~on_lattice]
        g = np.linalg.norm(off @ reciprocal, axis=1)
        species_peak = max(
            _superlattice_peak(_power(subset[numbers == z], off), g, int((numbers == z).sum()))
            for z in np.unique(numbers)
        )
        from .ordering import order_profile

        species_order = order_profile(subset, numbers, conventional, cell, bravais)
    order_z = None
    if len(np.unique(structure.numbers)) > 1:
        from .ordering import arrangement_z

        order_z = arrangement_z(structure, nn, seed=seed)
    return Lattice(
        found=True,
        score=score,
        primitive=primitive,
        conventional=conventional,
        rotation=_rotation(conventional),
        atoms_per_point=n / points,
        sites=len(sites),
        reflections=int(coherent.sum()),
        nn_distance=nn_ideal,
        site_positions=sites @ primitive,
        seed=seed,
        bravais=bravais,
        cubic_deviation=deviation,
        points=int(points),
        superlattice_peak=peak,
        diffuse_reflections=int((~on_lattice).sum()),
        species_peak=species_peak,
        species_order=species_order,
        order_z=order_z,
    )


#: spglib's tolerance on the lattice alone, relative to its shortest vector. The lattice found is exact (a rational
#: combination of the cell vectors), so its symmetry is exact to rounding errors; 1e-4 leaves a cell strained as a
#: whole by more than about 0.01 % in the lower system (the cubic test, :data:`CUBIC_TOLERANCE`, is looser: see
#: :func:`standard_setting`).
STANDARD_SYMPREC = 1e-4
#: The crystal family of a holohedry (space group of a lattice), by space-group number.
_FAMILIES = ((2, 'a'), (15, 'm'), (74, 'o'), (142, 't'), (194, 'h'), (230, 'c'))


def _aligned_rotation(triple: np.ndarray) -> np.ndarray:
    """The proper rotation putting a right-handed ``triple`` with a along +x, b in the xy plane (+y), c to +z.

    ``triple @ rotation.T`` is lower triangular with a positive diagonal (the ITA / spglib orientation).
    """
    q, r = np.linalg.qr(triple.T)
    signs = np.sign(np.diag(r))
    signs[signs == 0] = 1.0
    return (q * signs).T


def _spglib_transformation(metric: tuple[float, ...]) -> tuple[np.ndarray, str]:
    """spglib on one lattice point in the cell of ``metric`` (the rounded Gram matrix): (P^-1, Bravais symbol)."""
    import warnings

    import spglib

    gram = np.array(metric).reshape(3, 3)
    cell = np.linalg.cholesky(gram)  # rows: a basis with this metric (lower triangular)
    symprec = STANDARD_SYMPREC * float(np.sqrt(np.diag(gram)).min())
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', DeprecationWarning)
            dataset = spglib.get_symmetry_dataset((cell, [[0.0, 0.0, 0.0]], [1]), symprec=symprec)
    except Exception:  # spglib signals failures through exceptions in some versions, through None in others
        dataset = None
    if dataset is None:
        raise StructureError('spglib found no symmetry for the lattice (not even the identity)')
    family = next(letter for last, letter in _FAMILIES if dataset.number <= last)
    centring = str(dataset.international)[0]
    symbol = 'hR' if centring == 'R' else family + ('C' if centring in 'ABC' else centring)
    return np.linalg.inv(np.asarray(dataset.transformation_matrix, dtype=np.float64)), symbol


_TRANSFORMATIONS: dict[tuple[float, ...], tuple[np.ndarray, str]] = {}


def standard_conventional(primitive: np.ndarray) -> tuple[np.ndarray, np.ndarray, str]:
    """The standard conventional cell of a lattice: ``(conventional, rotation, bravais)`` (see ``docs/fingerprint.md``).

    ``primitive``: a basis (rows, angstrom) of the lattice, in any orientation. ``conventional`` (rows, in the frame
    of ``primitive``): spglib's standardised conventional cell of the lattice alone (one point per primitive cell,
    tolerance :data:`STANDARD_SYMPREC` times the shortest vector), with the orthorhombic axes ordered (P, I, F:
    a <= b <= c; C: a <= b, c the axis normal to the centred face; an odd permutation reverses the last axis, so the
    cell stays right-handed). ``rotation``: the proper rotation (``positions @ rotation.T``) that puts a along +x,
    b in the xy plane towards +y and c towards +z (so c along z for the hexagonal, trigonal, tetragonal and
    orthorhombic systems, b along y for the monoclinic). ``bravais``: ``'aP'``, ``'mP'``, ..., ``'cF'``.

    spglib depends only on the metric of the basis: it is run once per metric (memoised on the Gram matrix rounded
    to 1e-10 of its largest element) and its integer transformation applied to the basis as given.
    """
    primitive = np.asarray(primitive, dtype=np.float64)
    gram = primitive @ primitive.T
    scale = float(np.abs(gram).max())
    key = tuple(float(v) * scale for v in np.round(gram / scale, 10).ravel())
    if key not in _TRANSFORMATIONS:
        if len(_TRANSFORMATIONS) > 4096:
            _TRANSFORMATIONS.clear()
        _TRANSFORMATIONS[key] = _spglib_transformation(key)
    inverse, bravais = _TRANSFORMATIONS[key]
    conventional = inverse.T @ primitive  # (a_s, b_s, c_s) = (a, b, c) P^-1, as rows
    if bravais[0] == 'o':
        lengths = np.linalg.norm(conventional, axis=1)
        order = [0, 1, 2] if bravais == 'oC' and lengths[0] <= lengths[1] else [1, 0, 2] if bravais == 'oC' else None
        if order is None:
            order = list(np.argsort(lengths, kind='stable'))
        odd = round(np.linalg.det(np.eye(3)[order])) < 0
        conventional = conventional[order]
        if odd:
            conventional[2] = -conventional[2]
    if np.linalg.det(conventional) < 0:  # spglib's cells are right-handed; kept as a guard
        conventional = -conventional
    return conventional, _aligned_rotation(conventional), bravais


def standard_setting(lattice: Lattice) -> Lattice:
    """``lattice`` with ``conventional`` and ``rotation`` of its standard conventional cell (any crystal system).

    A cubic lattice (``lattice.bravais`` cP, cI or cF, within :data:`CUBIC_TOLERANCE`) keeps the orientation
    :func:`find_lattice` gave it (the cube's edges along x, y, z; for diamond, spglib's class of the two), so the
    standard setting of a cubic crystal is today's cluster exactly. Any other lattice gets
    :func:`standard_conventional`. A lattice not found, or a local one (``bravais`` None: fitted to noisy positions,
    where a tolerance of 1e-4 has no meaning) is returned unchanged.
    """
    if not lattice.found or lattice.bravais is None:
        return lattice
    if lattice.bravais:
        return dataclasses.replace(lattice, standard=lattice.bravais)
    conventional, rotation, bravais = standard_conventional(lattice.primitive)
    return dataclasses.replace(lattice, conventional=conventional, rotation=rotation, standard=bravais)
