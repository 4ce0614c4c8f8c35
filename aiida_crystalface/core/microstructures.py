"""Test structures for per-atom classification: polycrystals, nanoparticles, solid-liquid interfaces, big crystals.

Every generator returns a :class:`Microstructure`: the ``ase.Atoms``, the true class of every atom (``labels``:
``'fcc'``, ``'bcc'``, ``'hcp'``, ``'diamond'``, ``'sc'`` or ``'amorphous'``), its distance in angstrom to the nearest
grain boundary, interface or free surface (``depth``; ``inf`` where there is none), its grain index, the seed and the
parameters. Every random step draws from ``numpy.random.default_rng(seed)``: the same arguments give the same
structure, atom for atom.

* :func:`polycrystal`: a periodic cubic box cut into ``grains`` periodic Voronoi cells around uniformly random seed
  points; grain ``g`` gets the phase ``phases[g % len(phases)]`` in a uniformly random orientation, with a lattice
  point on its seed. Lattice points are kept where the grain's seed is their nearest seed under the minimum image,
  so a grain that crosses the box face continues through it without a seam. At the boundaries, of every pair of atoms
  closer than 0.75 x the smaller of the two phases' nearest-neighbour distances one is removed (chosen at random);
  then a random ``vacancies`` fraction of the atoms is removed and Gaussian noise of ``noise`` angstrom per Cartesian
  component is added. ``depth`` is the distance (before the noise) to the nearest Voronoi bisector plane, the
  periodic images of every seed included (a grain may touch its own image).
* :func:`nanoparticle`: a free particle, ``pbc`` False and a zero cell: a sphere cut from a randomly rotated and
  shifted crystal (``depth`` = radius - distance from the centre), or an fcc octahedron of
  :class:`ase.cluster.Octahedron`, randomly rotated (``depth`` = distance to the nearest face of the convex hull).
* :func:`solid_liquid`: a periodic orthorhombic box, a randomly rotated crystal in ``0 <= z < Lz / 2`` and an
  amorphous dense packing above it. The amorphous half starts as uniformly random points at the crystal's number
  density and is relaxed by steepest descent on a harmonic repulsion between atoms closer than 0.9 x the
  nearest-neighbour distance, the crystal held fixed (a jammed soft-sphere glass at packing fraction about
  0.74 x 0.9^3 = 0.54 for fcc, below random close packing, so the overlaps vanish); ``info`` records the density
  reached and the smallest distance. The rotated crystal does not match its periodic images across the x and y box
  faces: those two seams are boundaries too, and ``depth`` of a crystal atom is its distance to the nearest interface
  plane (z = 0, z = Lz / 2) or seam (x = 0, y = 0); pass ``rotate=False`` for a cube-oriented crystal in a box of
  whole cells (no seams). The amorphous atoms' ``depth`` is their distance to the interface planes.
* :func:`noisy_crystal`: the near-cubic supercell closest to ``n_atoms`` with Gaussian noise, for scaling runs
  (10^6 atoms in about a second); ``depth`` is ``inf``.

Lattices: ``'fcc'``, ``'bcc'``, ``'sc'``, ``'diamond'`` (cubic constant ``a``) and ``'hcp'`` (``a``, and ``c`` =
1.633 ``a``, the ideal ratio, unless a phase is given as ``(element, 'hcp', a, c)``). The module imports numpy only;
ASE and SciPy are imported inside the functions.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = (
    'LATTICES',
    'Microstructure',
    'density',
    'nanoparticle',
    'nearest_neighbour_distance',
    'noisy_crystal',
    'polycrystal',
    'solid_liquid',
)

#: The lattices the generators build.
LATTICES = ('fcc', 'bcc', 'hcp', 'diamond', 'sc')
IDEAL_C_OVER_A = 1.633
#: Pairs closer than this fraction of the smaller nearest-neighbour distance lose one atom at a grain boundary.
CLEAN_FRACTION = 0.75


@dataclasses.dataclass
class Microstructure:
    """A generated structure with its per-atom truth.

    ``labels`` (N,) str: the true class of each atom; ``depth`` (N,) float: distance in angstrom to the nearest grain
    boundary, interface or free surface (``inf``: none); ``grain`` (N,) int: the grain (or region) of each atom;
    ``seed``: the seed of every random step; ``info``: the generator's parameters and what it measured.
    """

    atoms: Any
    labels: np.ndarray
    depth: np.ndarray
    grain: np.ndarray
    seed: int
    info: dict = dataclasses.field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.labels)

    def interior(self, min_depth: float = 4.0) -> np.ndarray:
        """Boolean mask of the atoms deeper than ``min_depth`` angstrom below every boundary."""
        return self.depth > min_depth


# -- lattices ----------------------------------------------------------------------------------------------------------


def _check_lattice(lattice: str) -> str:
    if lattice not in LATTICES:
        raise ValueError(f'lattice must be one of {LATTICES}, got {lattice!r}')
    return lattice


def _check_positive(value: float, name: str) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(f'{name} must be a number, got {value!r}') from None
    if not np.isfinite(value) or value <= 0:
        raise ValueError(f'{name} must be a positive finite number, got {value!r}')
    return value


def _check_noise(noise: float) -> float:
    try:
        noise = float(noise)
    except (TypeError, ValueError):
        raise ValueError(f'noise must be a number of angstrom, got {noise!r}') from None
    if not np.isfinite(noise) or noise < 0:
        raise ValueError(f'noise must be a finite number >= 0 (angstrom), got {noise!r}')
    return noise


def _check_seed(seed: Any) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f'seed must be a non-negative integer, got {seed!r}')
    return int(seed)


def _check_element(element: Any) -> int:
    from ase.data import atomic_numbers

    if element not in atomic_numbers or not isinstance(element, str):
        raise ValueError(f'unknown chemical element {element!r}')
    return atomic_numbers[element]


def _cell_and_basis(lattice: str, a: float, c: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The orthorhombic conventional cell (3,) lengths and its basis (M, 3) in Cartesian angstrom."""
    if lattice == 'hcp':
        c = a * IDEAL_C_OVER_A if c is None else c
        lengths = np.array([a, np.sqrt(3.0) * a, c])
        frac = np.array([[0, 0, 0], [0.5, 0.5, 0], [0.5, 1 / 6, 0.5], [0, 2 / 3, 0.5]])
        return lengths, frac * lengths
    frac = {
        'sc': [[0, 0, 0]],
        'bcc': [[0, 0, 0], [0.5, 0.5, 0.5]],
        'fcc': [[0, 0, 0], [0, 0.5, 0.5], [0.5, 0, 0.5], [0.5, 0.5, 0]],
        'diamond': [[0, 0, 0], [0, 0.5, 0.5], [0.5, 0, 0.5], [0.5, 0.5, 0]],
    }[lattice]
    frac = np.asarray(frac, dtype=float)
    if lattice == 'diamond':
        frac = np.concatenate([frac, frac + 0.25])
    lengths = np.full(3, float(a))
    return lengths, frac * lengths


def nearest_neighbour_distance(lattice: str, a: float, c: float | None = None) -> float:
    """The nearest-neighbour distance of the ideal lattice (angstrom)."""
    _check_lattice(lattice)
    factor = {'fcc': np.sqrt(0.5), 'bcc': np.sqrt(3.0) / 2, 'sc': 1.0, 'diamond': np.sqrt(3.0) / 4, 'hcp': 1.0}
    if lattice == 'hcp' and c is not None:
        return float(min(a, np.sqrt(a * a / 3 + c * c / 4)))
    return float(factor[lattice] * a)


def density(lattice: str, a: float, c: float | None = None) -> float:
    """Atoms per cubic angstrom of the ideal lattice."""
    lengths, basis = _cell_and_basis(_check_lattice(lattice), a, c)
    return len(basis) / float(np.prod(lengths))


def _points_in_sphere(lattice: str, a: float, c: float | None, radius: float, offset: np.ndarray) -> np.ndarray:
    """Lattice points (unrotated frame, a lattice point at ``-offset``) within ``radius`` of the origin."""
    lengths, basis = _cell_and_basis(lattice, a, c)
    n = np.ceil(radius / lengths).astype(int) + 1
    grids = [np.arange(-k, k + 1) * length for k, length in zip(n, lengths, strict=True)]
    cells = np.stack(np.meshgrid(*grids, indexing='ij'), axis=-1).reshape(-1, 3)
    points = (cells[:, None, :] + basis[None, :, :]).reshape(-1, 3) - offset
    return points[np.einsum('ij,ij->i', points, points) <= radius * radius]


def _phase(spec: Any) -> tuple[str, str, float, float | None]:
    if isinstance(spec, str) or not isinstance(spec, Sequence) or len(spec) not in (3, 4):
        raise ValueError(
            f"a phase is (element, lattice, a) or (element, 'hcp', a, c), e.g. ('Cu', 'fcc', 3.61); got {spec!r}"
        )
    element, lattice, a = spec[0], spec[1], spec[2]
    _check_element(element)
    _check_lattice(lattice)
    a = _check_positive(a, f'lattice constant of {spec!r}')
    c = _check_positive(spec[3], f'c of {spec!r}') if len(spec) == 4 else None
    if c is not None and lattice != 'hcp':
        raise ValueError(f'only an hcp phase takes a c constant, got {spec!r}')
    return str(element), str(lattice), a, c


def _atoms(numbers: np.ndarray, positions: np.ndarray, cell: Any, pbc: bool):
    from ase import Atoms

    return Atoms(numbers=numbers, positions=positions, cell=cell, pbc=pbc)


# -- polycrystal -------------------------------------------------------------------------------------------------------


def _bisector_depth(relative: np.ndarray, neighbours: np.ndarray) -> np.ndarray:
    """Distance from points ``relative`` (to their own seed) to the nearest bisector plane with ``neighbours``.

    ``neighbours`` (K, 3) are the other seeds (and images) relative to the own seed: the plane of seed t is at
    distance |t| / 2 - x . t / |t| from x.
    """
    norms = np.linalg.norm(neighbours, axis=1)
    units = neighbours / norms[:, None]
    depth = np.full(len(relative), np.inf)
    for start in range(0, len(relative), 65536):  # bounded memory for big boxes
        block = relative[start : start + 65536]
        depth[start : start + len(block)] = np.min(norms / 2 - block @ units.T, axis=1)
    return depth


def _remove_close_pairs(positions, nn, box, rng) -> np.ndarray:
    """Keep-mask after removing one atom (at random) of every pair closer than CLEAN_FRACTION x the smaller nn."""
    from scipy.spatial import cKDTree

    tree = cKDTree(np.mod(positions, box), boxsize=box)
    pairs = tree.query_pairs(CLEAN_FRACTION * float(nn.max()), output_type='ndarray')
    keep = np.ones(len(positions), dtype=bool)
    if len(pairs) == 0:
        return keep
    delta = positions[pairs[:, 0]] - positions[pairs[:, 1]]
    delta -= box * np.round(delta / box)
    distance = np.linalg.norm(delta, axis=1)
    pairs = pairs[distance < CLEAN_FRACTION * np.minimum(nn[pairs[:, 0]], nn[pairs[:, 1]])]
    pairs = pairs[rng.permutation(len(pairs))]
    which = rng.integers(0, 2, size=len(pairs))
    for (i, j), w in zip(pairs, which, strict=True):
        if keep[i] and keep[j]:
            keep[j if w else i] = False
    return keep


def polycrystal(  # noqa: PLR0917
    box: float = 40.0,
    grains: int = 6,
    phases: Sequence[Sequence[Any]] = (('Cu', 'fcc', 3.61),),
    noise: float = 0.1,
    vacancies: float = 0.0,
    seed: int = 0,
) -> Microstructure:
    """A periodic cubic box of side ``box`` angstrom filled with ``grains`` Voronoi grains (see the module docstring).

    :param phases: ``(element, lattice, a)`` or ``(element, 'hcp', a, c)`` tuples; grain g gets ``phases[g % len]``.
    :param noise: standard deviation (angstrom) of the Gaussian displacement of every Cartesian component.
    :param vacancies: fraction in [0, 1) of the atoms removed at random after the boundary cleaning.
    """
    from scipy.spatial import cKDTree
    from scipy.spatial.transform import Rotation

    box = _check_positive(box, 'box')
    if isinstance(grains, bool) or not isinstance(grains, (int, np.integer)) or grains < 1:
        raise ValueError(f'grains must be a positive integer, got {grains!r}')
    if isinstance(phases, str) or not isinstance(phases, Sequence) or len(phases) == 0:
        raise ValueError(f'phases must be a non-empty sequence of (element, lattice, a) tuples, got {phases!r}')
    phases = [_phase(p) for p in phases]
    noise = _check_noise(noise)
    if not 0 <= float(vacancies) < 1:
        raise ValueError(f'vacancies must be a fraction in [0, 1), got {vacancies!r}')
    seed = _check_seed(seed)
    grains = int(grains)
    largest_nn = max(nearest_neighbour_distance(lat, a, c) for _, lat, a, c in phases)
    if box < 4 * largest_nn:
        raise ValueError(
            f'box = {box} angstrom is too small: at least 4 nearest-neighbour distances ({4 * largest_nn:.2f})'
        )

    rng = np.random.default_rng(seed)
    seeds = rng.uniform(0, box, size=(grains, 3))
    rotations = Rotation.random(grains, random_state=rng)
    tree = cKDTree(seeds, boxsize=box)
    half = box / 2
    shifts = np.stack(np.meshgrid(*[np.arange(-1, 2)] * 3, indexing='ij'), axis=-1).reshape(-1, 3) * box

    blocks, labels, numbers, nn, depth, grain_of = [], [], [], [], [], []
    for g in range(grains):
        element, lattice, a, c = phases[g % len(phases)]
        # the grain's lattice around its seed, in the cube of the seed's minimum images
        points = rotations[g].apply(_points_in_sphere(lattice, a, c, np.sqrt(3.0) * half + a, np.zeros(3)))
        points = points[np.all(np.abs(points) < half, axis=1)]
        _, nearest = tree.query(np.mod(points + seeds[g], box))
        points = points[nearest == g]
        others = seeds - seeds[g]
        others -= box * np.round(others / box)
        neighbours = (others[:, None, :] + shifts[None, :, :]).reshape(-1, 3)
        neighbours = neighbours[np.linalg.norm(neighbours, axis=1) > 1e-9]
        depth.append(_bisector_depth(points, neighbours))
        blocks.append(points + seeds[g])
        labels.append(np.full(len(points), lattice, dtype=object))
        numbers.append(np.full(len(points), _check_element(element)))
        nn.append(np.full(len(points), nearest_neighbour_distance(lattice, a, c)))
        grain_of.append(np.full(len(points), g))
    positions = np.mod(np.concatenate(blocks), box)
    labels, numbers, nn = np.concatenate(labels), np.concatenate(numbers), np.concatenate(nn)
    depth, grain_of = np.concatenate(depth), np.concatenate(grain_of)

    keep = _remove_close_pairs(positions, nn, np.full(3, box), rng)
    removed_at_boundaries = int((~keep).sum())
    if vacancies > 0:
        alive = np.flatnonzero(keep)
        keep[rng.choice(alive, size=round(float(vacancies) * len(alive)), replace=False)] = False
    positions, labels, numbers, depth, grain_of = (x[keep] for x in (positions, labels, numbers, depth, grain_of))
    if noise > 0:
        positions = np.mod(positions + rng.normal(0.0, noise, size=positions.shape), box)
    atoms = _atoms(numbers, positions, np.eye(3) * box, True)
    info = {
        'generator': 'polycrystal',
        'box': box,
        'grains': grains,
        'phases': [list(p) for p in phases],
        'noise': noise,
        'vacancies': float(vacancies),
        'removed_at_boundaries': removed_at_boundaries,
        'grain_seeds': seeds.tolist(),
        'rotations': rotations.as_quat().tolist(),
    }
    return Microstructure(atoms, labels.astype(str), depth, grain_of, seed, info)


# -- nanoparticle ------------------------------------------------------------------------------------------------------


def nanoparticle(  # noqa: PLR0917
    element: str = 'Cu',
    lattice: str = 'fcc',
    a: float = 3.61,
    radius: float = 12.0,
    noise: float = 0.0,
    seed: int = 0,
    *,
    shape: str = 'sphere',
    c: float | None = None,
) -> Microstructure:
    """A free particle (``pbc`` False, zero cell) centred on the origin, in a random orientation.

    ``shape='sphere'``: the lattice points (a random offset of the lattice, seeded) within ``radius`` of the centre;
    ``depth = radius - |x|``. ``shape='octahedron'`` (fcc only): :class:`ase.cluster.Octahedron` with the edge of
    atoms whose vertices lie closest to ``radius`` from the centre; ``depth`` = distance to the nearest face of the
    convex hull (0 on the faces). Depths are those of the positions before the noise.
    """
    from scipy.spatial.transform import Rotation

    number = _check_element(element)
    _check_lattice(lattice)
    a = _check_positive(a, 'a')
    radius = _check_positive(radius, 'radius')
    noise = _check_noise(noise)
    seed = _check_seed(seed)
    if c is not None and lattice != 'hcp':
        raise ValueError('only an hcp lattice takes a c constant')
    rng = np.random.default_rng(seed)
    rotation = Rotation.random(random_state=rng)
    if shape == 'sphere':
        lengths, _ = _cell_and_basis(lattice, a, c)
        offset = rng.uniform(0, 1, size=3) * lengths
        positions = rotation.apply(_points_in_sphere(lattice, a, c, radius, offset))
        positions = positions[np.linalg.norm(positions, axis=1) < radius]
        depth = radius - np.linalg.norm(positions, axis=1)
        extra: dict = {}
    elif shape == 'octahedron':
        from ase.cluster import Octahedron
        from scipy.spatial import ConvexHull

        if lattice != 'fcc':
            raise ValueError(f"shape='octahedron' is built for an fcc lattice only, got {lattice!r}")
        # vertices at (length - 1) x a / 2 from the centre along the cube axes
        length = max(2, round(2 * radius / a) + 1)
        cluster = Octahedron(element, length, cutoff=0, latticeconstant=a)
        positions = cluster.get_positions()
        positions = rotation.apply(positions - positions.mean(axis=0))
        hull = ConvexHull(positions)
        depth = np.clip(-np.max(positions @ hull.equations[:, :3].T + hull.equations[:, 3], axis=1), 0.0, None)
        extra = {'length': length}
    else:
        raise ValueError(f"shape must be 'sphere' or 'octahedron', got {shape!r}")
    if noise > 0:
        positions = positions + rng.normal(0.0, noise, size=positions.shape)
    atoms = _atoms(np.full(len(positions), number), positions, np.zeros((3, 3)), False)
    info = {
        'generator': 'nanoparticle',
        'element': element,
        'lattice': lattice,
        'a': a,
        'c': c,
        'radius': radius,
        'noise': noise,
        'shape': shape,
        'rotation': rotation.as_quat().tolist(),
        **extra,
    }
    n = len(positions)
    return Microstructure(atoms, np.full(n, lattice).astype(str), depth, np.zeros(n, dtype=int), seed, info)


# -- solid-liquid interface --------------------------------------------------------------------------------------------


def _relax_soft_spheres(positions, fixed, box, d0, zrange, *, steps=400, tolerance=0.05, rate=0.5):
    """Steepest descent of sum over pairs closer than d0 of (d0 - r)^2 / 2; ``fixed`` atoms do not move.

    The moving atoms' z is held in ``zrange`` (a wall at the interface: without it, an atom pushed into the crystal
    can stay in an interstitial site, where the forces cancel).

    Stops when no pair with a moving atom is closer than (1 - tolerance) d0, or after ``steps`` steps; returns the
    positions (wrapped into the box) and the number of steps taken. A move is capped at 0.1 d0 per step.
    """
    from scipy.spatial import cKDTree

    skin = 0.3 * d0
    positions = positions.copy()
    moving = ~fixed
    n = len(positions)
    reference = None
    pairs = np.empty((0, 2), dtype=int)
    taken = 0
    for step in range(1, steps + 1):
        if reference is None or np.max(np.linalg.norm(positions - reference, axis=1)) > skin / 2:
            reference = positions.copy()
            tree = cKDTree(np.mod(positions, box), boxsize=box)
            pairs = tree.query_pairs(d0 + skin, output_type='ndarray')
            pairs = pairs[moving[pairs[:, 0]] | moving[pairs[:, 1]]]
        delta = positions[pairs[:, 0]] - positions[pairs[:, 1]]
        delta -= box * np.round(delta / box)
        r = np.linalg.norm(delta, axis=1)
        overlap = d0 - r
        if not np.any(overlap > tolerance * d0):
            break
        taken = step
        active = overlap > 0
        i, j = pairs[active, 0], pairs[active, 1]
        force = (overlap[active] / np.maximum(r[active], 1e-12))[:, None] * delta[active]
        total = np.stack(
            [np.bincount(i, force[:, k], minlength=n) - np.bincount(j, force[:, k], minlength=n) for k in range(3)],
            axis=1,
        )
        total[fixed] = 0
        move = rate * total
        length = np.linalg.norm(move, axis=1)
        move *= np.minimum(1.0, 0.1 * d0 / np.maximum(length, 1e-12))[:, None]
        positions += move
        positions[moving, 2] = np.clip(positions[moving, 2], *zrange)
    return np.mod(positions, box), taken


def solid_liquid(  # noqa: PLR0917
    box: Sequence[float] = (40.0, 40.0, 40.0),
    element: str = 'Cu',
    lattice: str = 'fcc',
    a: float = 3.61,
    noise: float = 0.1,
    seed: int = 0,
    *,
    c: float | None = None,
    rotate: bool = True,
    steps: int = 1000,
) -> Microstructure:
    """A periodic box: a crystal (label ``lattice``) in ``0 <= z < Lz / 2`` under an amorphous packing.

    See the module docstring for the packing and for ``depth``. ``rotate=False``: the crystal's cell axes along the
    box axes, and Lx, Ly, Lz rounded to whole cells (Lz to an even number), so the crystal has no seam.
    """
    from scipy.spatial import cKDTree
    from scipy.spatial.transform import Rotation

    if isinstance(box, (int, float)):
        box = (box, box, box)
    if isinstance(box, str) or len(box) != 3:
        raise ValueError(f'box must be a number or three lengths (angstrom), got {box!r}')
    box = np.array([_check_positive(b, 'box length') for b in box])
    number = _check_element(element)
    _check_lattice(lattice)
    a = _check_positive(a, 'a')
    noise = _check_noise(noise)
    seed = _check_seed(seed)
    nn = nearest_neighbour_distance(lattice, a, c)
    if np.any(box < 8 * nn):
        raise ValueError(f'box = {box.tolist()} is too small: each side at least 8 nearest-neighbour distances')
    rng = np.random.default_rng(seed)
    lengths, _ = _cell_and_basis(lattice, a, c)
    if rotate:
        rotation = Rotation.random(random_state=rng)
        offset = rng.uniform(0, 1, size=3) * lengths
        points = rotation.apply(_points_in_sphere(lattice, a, c, np.linalg.norm(box) / 2 + a, offset)) + box / 2
        quaternion = rotation.as_quat().tolist()
    else:
        box = np.maximum(np.round(box / lengths), 2) * lengths
        box[2] = 2 * max(1, round(box[2] / lengths[2] / 2)) * lengths[2]
        points = _points_in_sphere(lattice, a, c, np.linalg.norm(box) + a, np.zeros(3))
        points = points + 1e-9 * lengths  # lattice planes on the faces fall inside
        quaternion = None
    top = box[2] / 2
    points = points[np.all((points >= 0) & (points < [box[0], box[1], top]), axis=1)]
    crystal = len(points)
    grain = np.zeros(crystal, dtype=int)
    if rotate:
        # remove one atom of each pair closer than CLEAN_FRACTION x nn across the x and y seams and the z = 0 face
        keep = _remove_close_pairs(points, np.full(crystal, nn), box, rng)
        points = points[keep]
        crystal = len(points)
        grain = grain[: len(points)]

    target = density(lattice, a, c)
    n_liquid = round(target * box[0] * box[1] * (box[2] - top))
    liquid = rng.uniform([0, 0, top], [box[0], box[1], box[2]], size=(n_liquid, 3))
    positions = np.concatenate([points, liquid])
    fixed = np.arange(len(positions)) < crystal
    d0 = 0.9 * nn
    positions, iterations = _relax_soft_spheres(positions, fixed, box, d0, (top, np.nextafter(box[2], 0)), steps=steps)
    tree = cKDTree(positions, boxsize=box)
    closest, _ = tree.query(positions[crystal:], k=2)
    smallest = float(closest[:, 1].min())

    z = positions[:, 2]
    to_planes = np.minimum.reduce([np.abs(z - top), z, box[2] - z])
    depth = to_planes.copy()
    if rotate:
        x, y = positions[:crystal, 0], positions[:crystal, 1]
        seams = np.minimum.reduce([x, box[0] - x, y, box[1] - y])
        depth[:crystal] = np.minimum(depth[:crystal], seams)
    labels = np.concatenate([np.full(crystal, lattice), np.full(n_liquid, 'amorphous')]).astype(str)
    grain = np.concatenate([grain, np.ones(n_liquid, dtype=int)])
    if noise > 0:
        positions = np.mod(positions + rng.normal(0.0, noise, size=positions.shape), box)
    atoms = _atoms(np.full(len(positions), number), positions, np.diag(box), True)
    info = {
        'generator': 'solid_liquid',
        'box': box.tolist(),
        'element': element,
        'lattice': lattice,
        'a': a,
        'c': c,
        'noise': noise,
        'rotate': bool(rotate),
        'rotation': quaternion,
        'relaxation': 'steepest descent, harmonic repulsion below 0.9 nn, crystal fixed, until no pair < 0.855 nn',
        'relaxation_steps': iterations,
        'amorphous_density': n_liquid / float(box[0] * box[1] * (box[2] - top)),
        'crystal_density': target,
        'smallest_amorphous_distance_over_nn': smallest / nn,
    }
    return Microstructure(atoms, labels, depth, grain, seed, info)


# -- big noisy crystal -------------------------------------------------------------------------------------------------


def noisy_crystal(  # noqa: PLR0917
    n_atoms: int,
    element: str = 'Cu',
    lattice: str = 'fcc',
    a: float = 3.61,
    noise: float = 0.1,
    seed: int = 0,
    *,
    c: float | None = None,
) -> Microstructure:
    """The periodic supercell of the conventional cell, near-cubic, with the number of atoms closest to ``n_atoms``."""
    if isinstance(n_atoms, bool) or not isinstance(n_atoms, (int, np.integer)) or n_atoms < 1:
        raise ValueError(f'n_atoms must be a positive integer, got {n_atoms!r}')
    number = _check_element(element)
    _check_lattice(lattice)
    a = _check_positive(a, 'a')
    noise = _check_noise(noise)
    seed = _check_seed(seed)
    lengths, basis = _cell_and_basis(lattice, a, c)
    # near-cubic repeats: side ~ (n V / M)^(1/3); try the neighbours of the rounded repeats for the closest count
    side = (n_atoms / len(basis) * np.prod(lengths)) ** (1 / 3)
    guess = np.maximum(np.round(side / lengths).astype(int), 1)
    candidates = np.stack(np.meshgrid(*[np.arange(max(1, g - 1), g + 2) for g in guess], indexing='ij'), -1)
    candidates = candidates.reshape(-1, 3)
    counts = np.prod(candidates, axis=1) * len(basis)
    anisotropy = np.ptp(np.log(candidates * lengths), axis=1)
    repeats = candidates[np.lexsort((anisotropy, np.abs(counts - n_atoms)))[0]]
    grid = np.stack(np.meshgrid(*[np.arange(r) for r in repeats], indexing='ij'), axis=-1).reshape(-1, 3) * lengths
    positions = (grid[:, None, :] + basis[None, :, :]).reshape(-1, 3)
    rng = np.random.default_rng(seed)
    cell = repeats * lengths
    if noise > 0:
        positions += rng.normal(0.0, noise, size=positions.shape)
        positions = np.mod(positions, cell)
    n = len(positions)
    atoms = _atoms(np.full(n, number), positions, np.diag(cell), True)
    info = {
        'generator': 'noisy_crystal',
        'n_atoms_requested': int(n_atoms),
        'repeats': repeats.tolist(),
        'element': element,
        'lattice': lattice,
        'a': a,
        'c': c,
        'noise': noise,
    }
    return Microstructure(
        atoms, np.full(n, lattice).astype(str), np.full(n, np.inf), np.zeros(n, dtype=int), seed, info
    )
