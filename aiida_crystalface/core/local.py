"""Local structure: the lattice, cluster and fingerprint of the neighbourhood of a point, and per-atom answers.

The paper computes its fingerprint on a finite cluster of about a hundred atoms; this module cuts that cluster from
the neighbourhood of a point instead of from a periodic cell, so that a structure that is not one bulk crystal (a
free nanoparticle, a slab, a polycrystal, a solid-liquid interface, an MD snapshot) is fingerprinted where it is
crystalline (``docs/local.md`` has the derivation and the measurements behind every default).

**The local lattice** (:func:`local_lattice`), with no cell to lean on:

1. The ``LATTICE_ATOMS`` atoms nearest the point, and every vector from one of the ``PAIR_ATOMS`` nearest to any
   atom within ``PAIR_REACH`` nearest-neighbour distances (the real-space twin of the diffraction pattern: the Patterson
   function). In a crystal these vectors pile up on the short lattice translations: a translation t maps every atom
   onto an atom, so its pile holds (1 - vacancies) vectors per atom; diamond's and hcp's bonds between their two
   sites hold half as many, and a liquid's vectors spread over the sphere.
2. The piles (modes found greedily, ``MODE_RADIUS`` nearest-neighbour distances wide) holding at least
   ``POPULATION`` of a full one (the median of the six fullest) are the candidate translations; the three of
   smallest volume that are not flat span a candidate cell, refined by least squares on all of them.
3. The same test as the periodic orientation step (:mod:`.orientation`), in that candidate cell: the coherence
   ``C(G) = |sum_j exp(i G . r_j)| / n`` of the atoms at the candidate's reciprocal-lattice vectors up to
   ``1.5 (2 pi / d_nn)``. A reflection of the crystal has ``C`` near 1 however many sites are vacant (every atom sits
   on a lattice point), about 0.9 at 0.15 angstrom of displacement; in a liquid ``C ~ 1 / sqrt(n)``; in a window
   across a grain boundary, ``C`` is about the share of the atoms in the grain that owns the candidate. The
   reflections with ``C >= 1/2`` generate the lattice (an exact integer computation), which therefore belongs to a
   crystal filling more than half of the neighbourhood. None found: no long-range order, the window is amorphous.
4. The rest is the periodic step's: the sites of the average crystal, its nearest-neighbour distance, the most
   cubic conventional cell and the rotation to the standard orientation.

**The cluster** (:func:`cut_cluster`) is the block of n1 x n2 x n3 conventional cells of about ``target_atoms``
sites centred on the point, as for a periodic structure (:func:`.cluster.cut_block`), cut from the atoms and images
near the point: in the interior of a grain it is the cluster of the bulk crystal, which the models were trained on;
near a free surface it holds fewer atoms (a nanoparticle smaller than the block is fingerprinted whole).

**Per-atom answers** (:func:`windows` and :func:`assign`): windows are centred on atoms spread ``stride``
nearest-neighbour distances apart (one per cube of that edge); each window's lattice, cluster and answer are found
as above, in batches. Every atom then finds the windows near it (the ``CANDIDATES`` nearest) whose crystal it
belongs to: its own neighbour vectors match the crystal's nearest-neighbour vectors (at least ``MATCH_SHARE`` of them
within ``MATCH_RADIUS`` nearest-neighbour distances of one of the crystal's). It takes the answer most of them name,
each weighted by one minus its uncertainty (``unknown`` only where none names a class: those are windows whose
cluster reaches beyond the crystal), with the probabilities and uncertainty of the surest window that names it. An
atom that matches none (a grain-boundary atom, an atom of a liquid) takes ``amorphous`` when the nearest window is
amorphous, else ``unknown``. The cost is linear in the number of atoms:
a k-d tree (:mod:`.neighbours`), a fixed number of windows per volume, a fixed amount of work per atom.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import numpy as np

from .cluster import Cluster, _choose_repeats, _sites_per_cell, cubic_block
from .neighbours import Neighbourhood, neighbourhood, vacuum_axes
from .orientation import (
    _COEFFICIENTS,
    _SHIFTS,
    COHERENCE,
    G_MAX,
    MAX_SPACING,
    SHORT_VECTORS,
    Lattice,
    _power,
    _reflections,
    _rotation,
    cubic_bravais,
)
from .orientation import (
    _not_found as _orientation_not_found,
)
from .structures import AtomicStructure, StructureError, cell_heights

__all__ = (
    'LATTICE_ATOMS',
    'MATCH_RADIUS',
    'MATCH_SHARE',
    'STRIDE',
    'Window',
    'assign',
    'cut_cluster',
    'is_bulk',
    'local_lattice',
    'whole_cluster',
    'windows',
)

#: Atoms nearest the point whose pair vectors and coherence find its lattice.
LATTICE_ATOMS = 64
#: Atoms (the nearest of the ``LATTICE_ATOMS``) whose pair vectors give the candidate translations.
PAIR_ATOMS = 64
#: Pair vectors up to this many nearest-neighbour distances: three shells of fcc, two of bcc and sc, and diamond's
#: lattice translations (1.63 d) with room to spare. Displacements shorten the median nearest-neighbour distance
#: (the nearest of four noisy neighbours): at 1.8 diamond's translations at 0.15 angstrom were half cut off (15 of 40
#: windows wrong), at 2.0 fcc's third shell (1.73 d, 1.99 noisy distances) came in cut, biasing the cell (25 %
#: vacancies: 93 % of interior atoms right instead of 100 %); 1.9 keeps both whole.
PAIR_REACH = 1.9
#: Width of a pile of pair vectors, in nearest-neighbour distances.
MODE_RADIUS = 0.3
#: A pile holding at least this share of the typical full pile (the median of the six fullest) is a candidate lattice
#: translation (bonds between the two sites of a lattice point, diamond's and hcp's, hold half and are not).
POPULATION = 0.75
#: Window centres one per cube of this edge, in nearest-neighbour distances (``docs/local.md``: how it was chosen).
STRIDE = 4.0
#: An atom's neighbour vector matches a crystal's when within this many nearest-neighbour distances of one of its.
MATCH_RADIUS = 0.35
#: Share of an atom's neighbour vectors that must match for the atom to belong to the crystal: above 0.75, the share
#: of an hcp atom's neighbours that match an fcc crystal sharing its close-packed plane (9 of 12).
MATCH_SHARE = 0.85
#: Neighbours of an atom compared (the first shell of the densest classes) and their reach (nearest-neighbour
#: distances: bcc's second shell at 1.15 d is in, fcc's at 1.41 d is out).
NEIGHBOURS, NEIGHBOUR_REACH = 14, 1.25
#: Windows an atom may join: this many nearest it (the windows of the 3 x 3 x 3 stride cubes around it; chosen on
#: seed 1 with benchmarks/local_stride.py --candidates, docs/local.md).
CANDIDATES = 27
#: Version of the method, stored with every result.
METHOD = 'local-patterson-coherence-1'


def is_bulk(structure: AtomicStructure) -> bool:
    """Whether ``structure`` is one periodic cell of a bulk material: periodic along all three axes, with no vacuum."""
    if not structure.periodic:
        return False
    return not bool(vacuum_axes(structure).any())


def _not_found(nn: float, n: int, seed: int, reason: str, periodic: bool = False) -> Lattice:
    """No lattice around the point: the periodic step's own record, with no cell."""
    return _orientation_not_found(np.eye(3), n, nn, seed, reason, periodic=periodic)


def _modes(vectors: np.ndarray, owners: np.ndarray, radius: float, seeds: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Modes of a cloud of pair vectors: centres and populations, fullest first.

    In a crystal the neighbour vectors of any one atom already hold one vector of every mode it has a neighbour in,
    so the candidates are the vectors of the ``seeds`` first owners (the atoms nearest the point; several, so that a
    vacancy next to one of them does not hide a mode). Each candidate's population is the number of vectors within
    ``radius`` of it (one per owner: two neighbours of one atom are never that close); candidates are taken fullest
    first, dropping those within ``radius`` of one taken, and each mode's centre is the mean of its vectors.
    """
    from . import _kernels

    # Distinct modes of the four classes are at least one nearest-neighbour distance apart (fcc's neighbours 60
    # degrees apart, bcc's first and second shells 55 degrees): candidates closer than half of that are one mode.
    # Centres are counted again: a candidate displaced by noise catches fewer vectors than its mode holds.
    return _kernels.pair_modes(np.ascontiguousarray(vectors), owners.astype(np.int64), float(radius), int(seeds), 0.5)


def _candidate_cell(translations: np.ndarray, nn: float) -> np.ndarray | None:
    """The cell of smallest non-zero volume spanned by three candidate translations, refined by least squares."""
    from . import _kernels

    lengths = np.linalg.norm(translations, axis=1)
    short = translations[np.argsort(lengths, kind='stable')[:24]]
    if len(short) < 3:
        return None
    # A triple with two opposite vectors is flat but for noise: judge flatness by the volume over the product of the
    # lengths (0.71 for fcc's primitive triple, 0.77 bcc, 0.87 hcp, 1 sc; noise gives a flat triple about 0.1).
    best = _kernels.smallest_cell(np.ascontiguousarray(short))
    if best[0] < 0:
        return None
    cell = short[list(best)]
    coefficients = np.round(translations @ np.linalg.inv(cell))
    fits = np.linalg.norm(coefficients @ cell - translations, axis=1) < MODE_RADIUS * nn
    if fits.sum() >= 3:
        # lstsq's rank (singular values above eps max(M, N) times the largest) is numpy's matrix_rank
        refined, _, rank, _ = np.linalg.lstsq(coefficients[fits], translations[fits], rcond=None)
        if rank == 3:
            cell = refined
    return cell


def local_lattice(hood: Neighbourhood, centre: np.ndarray, *, atoms: int = LATTICE_ATOMS, seed: int = 0) -> Lattice:
    """The lattice of the crystal around ``centre`` (Cartesian, angstrom): see the module docstring.

    ``site_positions`` of the result are Cartesian; ``reflections`` is the number of coherent reflections and
    ``score`` their mean coherence (1 for a perfect crystal, about the share of the neighbourhood that the crystal
    fills across a boundary).
    """
    return next(_local_lattices(hood, np.asarray(centre, dtype=np.float64).reshape(1, 3), atoms=atoms, seed=seed))


def _local_lattices(
    hood: Neighbourhood, centres: np.ndarray, *, atoms: int = LATTICE_ATOMS, seed: int = 0, chunk: int = 256
) -> Iterator[Lattice]:
    """:func:`local_lattice` of every row of ``centres`` (m, 3), in order; the k-d tree is asked once per chunk of
    windows (all their atoms and pair atoms at once, on every core), not once per window."""
    k = int(min(atoms, len(hood.points)))
    p = min(PAIR_ATOMS, k)
    for start in range(0, len(centres), chunk):
        block = centres[start : start + chunk]
        if k < 4:
            yield from (_not_found(np.nan, k, seed, f'only {k} atoms around the point') for _ in block)
            continue
        _, nearest = hood.tree.query(block, k=k, workers=-1)
        nearest = np.asarray(nearest).reshape(len(block), k)
        near = hood.points[nearest]
        # Each atom asked once, however many windows hold it.
        atoms_in, where = np.unique(nearest, return_inverse=True)
        first, _ = hood.tree.query(hood.points[atoms_in], k=2, workers=-1)
        nns = np.median(first[:, 1][where.reshape(len(block), k)], axis=1)
        # The nearest first: the pair vectors need fewer atoms than the coherence test. The bound of each window is
        # applied by _lattice_of_window: the 48 nearest within the largest bound, then within the window's own, are
        # the 48 nearest within the window's own.
        pair_atoms, where = np.unique(nearest[:, :p], return_inverse=True)
        distances, neighbours = hood.tree.query(
            hood.points[pair_atoms], k=48, distance_upper_bound=PAIR_REACH * float(nns.max()), workers=-1
        )
        where = where.reshape(len(block), p)
        distances, neighbours = distances[where], neighbours[where]
        for w in range(len(block)):
            yield _lattice_of_window(
                hood, block[w], near[w], float(nns[w]), distances=distances[w], neighbours=neighbours[w], seed=seed
            )


def _lattice_of_window(
    hood: Neighbourhood,
    centre: np.ndarray,
    near: np.ndarray,
    nn: float,
    *,
    distances: np.ndarray,
    neighbours: np.ndarray,
    seed: int,
) -> Lattice:
    """:func:`local_lattice` from the window's atoms ``near`` (nearest first), their median nearest-neighbour
    distance and the 48 nearest neighbours of its pair atoms (``distances``, ``neighbours``: (pair atoms, 48))."""
    from . import _kernels

    k = len(near)
    pairs = near[: len(distances)]
    valid = (distances < PAIR_REACH * nn) & (distances > 0.5 * nn)
    owners = np.nonzero(valid)[0]
    vectors = hood.points[neighbours[valid]] - pairs[owners]
    if len(vectors) < 3:
        return _not_found(nn, k, seed, 'too few neighbours for a lattice')
    centres, populations = _modes(vectors / nn, owners, MODE_RADIUS)
    if len(populations) == 0:  # no candidate of the first owners is repeated (vectors of far owners alone)
        return _not_found(nn, k, seed, 'no repeated pair vectors')
    # The reference is the median of the six fullest piles, not the fullest alone: with vacancies the piles' counts
    # scatter binomially, and the fullest is an upper outlier.
    reference = float(np.median(populations[:6]))
    translations = centres[populations >= POPULATION * reference] * nn
    cell = _candidate_cell(translations, nn)
    if cell is None:
        return _not_found(nn, k, seed, 'the repeated pair vectors do not span 3 dimensions')
    frac = (near - centre) @ np.linalg.inv(cell)
    hkl = _reflections(cell, G_MAX * 2.0 * np.pi / nn)
    power = _power(frac, hkl)
    coherent = power >= (COHERENCE * k) ** 2
    basis = _kernels.integer_basis(np.ascontiguousarray(hkl[coherent]))
    if len(basis) < 3:
        return _not_found(nn, k, seed, f'the coherent reflections span {len(basis)} dimension(s), not 3')
    inverse = np.linalg.inv(basis.astype(np.float64))
    primitive = _kernels.reduce_basis(np.ascontiguousarray(inverse.T @ cell))
    spacing = float(np.linalg.norm(primitive, axis=1).min())
    if spacing > MAX_SPACING * nn:
        reason = f'the only periodicity ({spacing:.2f} A) is {spacing / nn:.1f} nearest-neighbour distances long'
        return _not_found(nn, k, seed, reason, periodic=True)
    sites = _kernels.average_sites((near - centre) @ np.linalg.inv(primitive), primitive, 0.5 * nn, 64)
    nn_ideal, conventional = _kernels.conventional_cell(sites, primitive, _COEFFICIENTS, _SHIFTS, SHORT_VECTORS)
    return Lattice(
        found=True,
        score=float(np.mean(np.sqrt(power[coherent])) / k),
        primitive=primitive,
        conventional=conventional,
        rotation=_rotation(conventional),
        atoms_per_point=float(len(sites)),
        sites=len(sites),
        reflections=int(coherent.sum()),
        nn_distance=nn_ideal,
        site_positions=sites @ primitive + centre,
        seed=seed,
    )


def cut_cluster(
    hood: Neighbourhood,
    lattice: Lattice,
    centre: np.ndarray,
    target_atoms: int = 128,
    label: str = 'structure',
    *,
    isotropic: bool = False,
) -> Cluster:
    """The block of conventional cells of ``lattice`` centred on ``centre``, rotated, centred and scaled.

    As :func:`.cluster.cut_block` and :func:`.cluster.build_cluster` do for a periodic structure: the block's faces
    fall between atomic planes (its corner sits one eighth of a cell diagonal before a lattice point of the average
    crystal), it holds about ``target_atoms`` sites, its positions are centred on their mean and divided by the
    average crystal's nearest-neighbour distance. ``isotropic`` (the ``'standard'`` orientation): the block's shape
    as :func:`.cluster.cut_block` chooses it there, a cube of cubes for a cubic lattice (:func:`.cluster.cubic_block`)
    and the most isotropic block otherwise, so that a finite crystal gives the cluster its periodic crystal gives.
    (The rotation stays the most cubic cell's: for a cubic lattice that is the standard setting up to the cube's own
    symmetry; a lattice of another system is not turned into its standard setting here.)
    """
    conventional = lattice.conventional
    per_cell = _sites_per_cell(lattice)
    lengths = np.linalg.norm(conventional, axis=1)
    if isotropic and cubic_bravais(lattice.primitive, conventional)[0]:
        repeats = cubic_block(per_cell, int(target_atoms))
    else:
        repeats = _choose_repeats(per_cell, lengths, int(target_atoms), isotropic)
    diagonal = (np.array(repeats)[:, None] * conventional).sum(axis=0)
    site = lattice.site_positions[0]
    corner = np.asarray(centre) - 0.5 * diagonal
    origin = site + np.round((corner - site) @ np.linalg.inv(lattice.primitive)) @ lattice.primitive
    origin = origin - 0.125 * conventional.sum(axis=0)
    middle = origin + 0.5 * diagonal
    corners = np.array([[i, j, k] for i in (0, 1) for j in (0, 1) for k in (0, 1)]) * np.array(repeats)
    radius = float(np.linalg.norm(corners @ conventional - 0.5 * diagonal, axis=1).max())
    chosen = np.asarray(hood.tree.query_ball_point(middle, radius), dtype=np.int64)
    inside = (hood.points[chosen] - origin) @ np.linalg.inv(conventional)
    keep = chosen[np.all((inside >= 0) & (inside < np.array(repeats)), axis=1)]
    if len(keep) < 2:
        raise StructureError(f'{label}: fewer than two atoms in the cluster around {np.round(centre, 3).tolist()}')
    positions = (hood.points[keep] - origin) @ lattice.rotation.T
    positions = positions - positions.mean(axis=0)
    return Cluster(
        positions=np.ascontiguousarray(positions / lattice.nn_distance),
        numbers=hood.numbers[keep].copy(),
        nn_distance=lattice.nn_distance,
        spacegroup=None,
        repeats=repeats,
        label=label,
        lattice=lattice,
    )


def _skin(nn: float) -> float:
    """Images within this distance complete every cluster: the half-diagonal of the largest block (diamond's, 5.7 d)."""
    return 6.0 * nn


def _nn_estimate(structure: AtomicStructure) -> float:
    """Median nearest-neighbour distance of a seeded sample of 256 atoms (periodic images included)."""
    from scipy.spatial import cKDTree

    from .neighbours import periodic_images

    n = len(structure)
    sample = np.random.default_rng(0).choice(n, size=min(n, 256), replace=False)
    # Images within a few mean spacings of the faces hold every nearest neighbour; 10 A where there is no volume.
    skin = 3.0 * (structure.volume / n) ** (1 / 3) if structure.periodic else 10.0
    points, _ = periodic_images(structure.cell, structure.positions, structure.pbc, skin)
    distances, _ = cKDTree(points).query(points[sample], k=2)
    return float(np.median(distances[:, 1]))


def _prepared(structure: AtomicStructure) -> tuple[AtomicStructure, Neighbourhood, float]:
    """The structure periodic only along axes with no vacuum, its neighbourhood (images within the skin) and d_nn."""
    nn = _nn_estimate(structure)
    if not np.isfinite(nn) or nn <= 0:
        raise StructureError(f'{structure.label}: no nearest-neighbour distance (is it one isolated atom?)')
    structure = structure.replace(pbc=tuple(np.array(structure.pbc) & ~vacuum_axes(structure, nn)))
    return structure, neighbourhood(structure, _skin(nn)), nn


def whole_cluster(
    structure: AtomicStructure,
    target_atoms: int = 128,
    seed: int = 0,
    *,
    atoms: int = 2 * LATTICE_ATOMS,
    isotropic: bool = False,
) -> Cluster:
    """The cluster of a structure that is not one bulk cell (finite, a slab, vacuum around it), from its centre.

    The lattice is found from the ``atoms`` atoms (default ``2 * LATTICE_ATOMS``) nearest the atom closest to the centre
    (:func:`local_lattice`), and the cluster is the block around that atom (:func:`cut_cluster`). Where no lattice is
    found, the atoms nearest the centre (``target_atoms`` of them) are the cluster, as they are, and
    ``cluster.lattice.found`` says so. ``isotropic``: the block's shape of the ``'standard'`` orientation
    (:func:`cut_cluster`).
    """
    structure, hood, nn = _prepared(structure)
    own = hood.points[: hood.n_atoms]
    _, middle = hood.tree.query(own.mean(axis=0))
    centre = hood.points[middle]
    lattice = local_lattice(hood, centre, atoms=atoms, seed=seed)
    if lattice.found:
        return cut_cluster(hood, lattice, centre, target_atoms, structure.label, isotropic=isotropic)
    _, chosen = hood.tree.query(centre, k=min(int(target_atoms), len(hood.points)))
    chosen = np.atleast_1d(chosen)
    if len(chosen) < 2:
        raise StructureError(f'{structure.label}: a cluster of one atom has no structure')
    positions = hood.points[chosen] - hood.points[chosen].mean(axis=0)
    lattice = dataclasses.replace(lattice, nn_distance=nn)
    return Cluster(
        positions=np.ascontiguousarray(positions / nn),
        numbers=hood.numbers[chosen].copy(),
        nn_distance=nn,
        spacegroup=None,
        repeats=(1, 1, 1),
        label=structure.label,
        lattice=lattice,
    )


@dataclasses.dataclass(frozen=True, eq=False)
class Window:
    """A window: its centre (an atom, Cartesian), the lattice found there and its cluster (None when not found)."""

    atom: int
    centre: np.ndarray
    lattice: Lattice
    cluster: Cluster | None


def window_centres(structure: AtomicStructure, stride: float) -> np.ndarray:
    """The atoms that centre the windows: in each cube of edge ``stride`` (angstrom) that holds atoms, the atom
    nearest the cube's centre (cubes of the cell's fractional grid along periodic axes, of space elsewhere)."""
    positions = structure.positions
    pbc = np.array(structure.pbc)
    grid = np.empty_like(positions)
    voxel = np.empty((len(positions), 3), dtype=np.int64)
    if pbc.all():
        frac = structure.scaled_positions
        frac = frac - np.floor(frac)

        counts = np.maximum(1, np.round(cell_heights(structure.cell) / stride)).astype(np.int64)
        voxel = np.minimum(np.floor(frac * counts).astype(np.int64), counts - 1)
        grid = ((voxel + 0.5) / counts) @ structure.cell
        delta = frac @ structure.cell - grid
    else:
        low = positions.min(axis=0)
        voxel = np.floor((positions - low) / stride).astype(np.int64)
        grid = low + (voxel + 0.5) * stride
        delta = positions - grid
    distance = np.einsum('ij,ij->i', delta, delta)
    keys = np.ravel_multi_index((voxel - voxel.min(axis=0)).T, tuple(np.ptp(voxel, axis=0) + 1))
    order = np.lexsort((distance, keys))
    first = np.ones(len(order), dtype=bool)
    first[1:] = keys[order][1:] != keys[order][:-1]
    return np.sort(order[first])


def windows(
    structure: AtomicStructure,
    *,
    stride: float = STRIDE,
    target_atoms: int = 128,
    seed: int = 0,
    progress: bool = False,
    isotropic: bool = False,
) -> tuple[Neighbourhood, list[Window], float]:
    """Find the lattice and cut the cluster of every window of ``structure`` (``stride`` in nearest-neighbour
    distances). Returns the neighbourhood (periodic images included), the windows and the nearest-neighbour distance.
    ``isotropic``: the block's shape of the ``'standard'`` orientation (:func:`cut_cluster`).
    """
    structure, hood, nn = _prepared(structure)
    centres = window_centres(structure.replace(positions=hood.points[: hood.n_atoms]), stride * nn)
    lattices = _local_lattices(hood, hood.points[centres], seed=seed)
    if progress:
        from tqdm.auto import tqdm

        lattices = tqdm(lattices, total=len(centres), desc='windows', unit='window')
    found = []
    for atom, lattice in zip(centres, lattices, strict=True):
        centre = hood.points[atom]
        cluster = None
        if lattice.found:
            try:
                label = f'{structure.label}: window {atom}'
                cluster = cut_cluster(hood, lattice, centre, target_atoms, label, isotropic=isotropic)
            except StructureError:
                cluster = None
        found.append(Window(int(atom), centre, lattice, cluster))
    return hood, found, nn


def _templates(found: list[Window]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Nearest-neighbour vectors of each window's average crystal (padded), their counts and the crystals' d_nn."""
    vectors, counts, nns = [], [], []
    for window in found:
        lattice = window.lattice
        if window.cluster is None:
            vectors.append(np.zeros((0, 3)))
            counts.append(0)
            nns.append(1.0)
            continue
        sites = lattice.site_positions - lattice.site_positions[0]
        shifts = _SHIFTS @ lattice.primitive
        delta = (sites[None, :, None, :] - sites[:, None, None, :] + shifts[None, None, :, :]).reshape(-1, 3)
        length = np.linalg.norm(delta, axis=1)
        near = delta[(length > 1e-6) & (length < NEIGHBOUR_REACH * lattice.nn_distance)]
        near = np.unique(np.round(near, 6), axis=0)
        vectors.append(near)
        counts.append(len(near))
        nns.append(lattice.nn_distance)
    width = max([1, *counts])
    padded = np.zeros((len(found), width, 3))
    for row, (v, c) in enumerate(zip(vectors, counts, strict=True)):
        padded[row, :c] = v
    return padded, np.array(counts, dtype=np.int64), np.array(nns)


def assign(
    hood: Neighbourhood, found: list[Window], answers: list[dict[str, Any]], *, chunk: int = 65536
) -> tuple[np.ndarray, np.ndarray]:
    """Which window every atom belongs to (-1: none), and the window nearest it: see the module docstring.

    ``answers``: each window's answer (``label``). Returns ``(member, nearest)``, two (n_atoms,) int arrays of window
    indices into ``found``.
    """
    from scipy.spatial import cKDTree

    from . import _kernels

    n = hood.n_atoms
    # Window centres and their periodic images: a window near a face also serves the atoms across it.
    window_of_atom = np.full(n, -1, dtype=np.int64)
    window_of_atom[[w.atom for w in found]] = np.arange(len(found))
    owner = window_of_atom[hood.index]
    centre_points = np.flatnonzero(owner >= 0)
    tree = cKDTree(hood.points[centre_points]) if len(centre_points) else None
    templates, counts, nns = _templates(found)
    # Among the windows of the crystal an atom belongs to, the class that most of them name (each weighted by one
    # minus its uncertainty) wins: a window whose cluster reaches beyond the crystal may name another class, or be
    # called unknown by the open-set model, but it is outvoted by the windows inside. Unknown answers count only
    # where no eligible window names a class. The atom then joins the surest window of the winning answer.
    names = sorted({str(answer['label']) for answer in answers})
    code = np.array([names.index(str(answer['label'])) for answer in answers], dtype=np.int64).reshape(-1)
    opens = {'unknown', 'amorphous'}
    weight = np.array(
        [
            (1.0 if answer['label'] not in opens else 1e-3) * (1.0 - float(answer['uncertainty'])) + 1e-9
            for answer in answers
        ]
    ).reshape(-1)
    member = np.full(n, -1, dtype=np.int64)
    nearest = np.zeros(n, dtype=np.int64)
    if tree is None:
        return member, nearest
    k_windows = int(min(CANDIDATES, len(centre_points)))
    # Neighbours beyond the reach of every crystal are never compared: the k-d tree need not look for them (those it
    # leaves out come back at an infinite distance, with an index past the last point).
    reach = NEIGHBOUR_REACH * float(nns[counts > 0].max()) if (counts > 0).any() else np.inf
    for start in range(0, n, chunk):
        atoms = hood.points[start : min(n, start + chunk)]
        distances, neighbours = hood.tree.query(
            atoms, k=min(NEIGHBOURS + 1, len(hood.points)), distance_upper_bound=reach, workers=-1
        )
        vectors = hood.points[np.minimum(neighbours[:, 1:], len(hood.points) - 1)] - atoms[:, None, :]
        lengths = distances[:, 1:]
        _, hits = tree.query(atoms, k=k_windows, workers=-1)
        candidates = owner[centre_points[np.asarray(hits).reshape(len(atoms), k_windows)]]
        nearest[start : start + len(atoms)] = candidates[:, 0]
        scores = np.zeros(candidates.shape, dtype=np.float64)
        _kernels.match_scores(
            np.ascontiguousarray(vectors),
            np.ascontiguousarray(lengths),
            np.ascontiguousarray(candidates),
            templates,
            counts,
            nns,
            NEIGHBOUR_REACH,
            MATCH_RADIUS,
            scores,
        )
        eligible = (scores >= MATCH_SHARE) & (counts[candidates] > 0)
        votes = np.zeros((len(atoms), len(names)))
        rows = np.repeat(np.arange(len(atoms)), k_windows).reshape(len(atoms), k_windows)
        np.add.at(votes, (rows[eligible], code[candidates][eligible]), weight[candidates][eligible])
        winner = np.argmax(votes, axis=1)
        key = np.where(eligible & (code[candidates] == winner[:, None]), weight[candidates], -np.inf)
        best = np.argmax(key, axis=1)
        chosen = candidates[np.arange(len(atoms)), best]
        member[start : start + len(atoms)] = np.where(eligible.any(axis=1), chosen, -1)
    return member, nearest
