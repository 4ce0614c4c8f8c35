"""From a periodic structure to the finite, centred, scaled cluster that the fingerprint scatters from.

The rule (paper, Methods; ``docs/fingerprint.md``):

1. **Orientation** (``orientation``, a fingerprint setting):

   * ``'lattice'`` (the default): :func:`.orientation.find_lattice` finds the lattice of the periodic structure from
     its coherent reflections, with no tolerance to choose, however defective the structure and whatever cell and
     orientation it comes in, and its most cubic conventional cell (the cubic cell for fcc, bcc, sc and diamond).
     The cluster is cut from the periodic structure as a block of n1 x n2 x n3 of those conventional cells (step 2),
     and rotated so that their edges lie along x, y and z. The block's origin sits one eighth of a cell diagonal
     before the lattice point of the average crystal's first site that is nearest to the centre of the given cell,
     so that its faces fall between atomic planes of all four classes. When no lattice is found (an amorphous
     solid, a gas, a molecule in a box) the cell as given is used, lattice-aligned, and the cluster says so
     (``cluster.lattice.found``).
   * ``'spglib'``: spglib (on arrays, ``symprec``) looks for the space group. When it finds a cubic one (195-230)
     the cluster is built from spglib's conventional standard cell; otherwise from the cell as given,
     lattice-aligned (a along x, b in the xy plane). A cell whose edges are mutually orthogonal is taken as given
     without asking spglib (its edges are the cubic axes of a cubic crystal; spglib costs milliseconds a call).
   * ``'none'``: the cell as given, lattice-aligned: for structures standardised already.
   * ``'standard'``: the lattice found as with ``'lattice'``, turned into the standard conventional orientation of
     its crystal system (:func:`.orientation.standard_setting`: spglib on the lattice alone; the same as
     ``'lattice'`` for a cubic lattice, c along z and a along x for hexagonal, trigonal and tetragonal ones, and so
     on: ``docs/fingerprint.md``, "Any lattice"). The block is cut in that conventional cell. A structure that is
     not one bulk cell, or of more than :data:`LOCAL_ABOVE` atoms, takes the local path of ``'lattice'``
     unchanged (its lattice, fitted to noisy positions, keeps its most cubic cell).

2. **Replicate.** The cell is repeated n1 x n2 x n3 times, with the atom count (for ``'lattice'``: the count of
   sites of the average crystal, which vacancies do not change) as close as possible to the target (128); ties go to
   the most isotropic block (smallest ratio of longest to shortest edge), then to the first in lexicographic order of
   (n1, n2, n3). Only ``'spglib'`` clusters carry a space-group number.
3. **Centre and scale.** Positions are shifted so that their centroid is the origin, and divided by the mean
   nearest-neighbour distance of the cluster (the mean over atoms of the distance to the nearest other atom), so that
   one nearest-neighbour distance reads as 1 angstrom in the diffraction step, whatever the element. With
   ``'lattice'``, the distance is that of the average crystal (its sites repeated by the lattice,
   :attr:`.orientation.Lattice.nn_distance`): the same for a pristine crystal, but neither shortened by displacements
   (the nearest of twelve displaced neighbours is closer than the average one) nor changed by where the block's faces
   cut a defective crystal (an atom whose neighbours are all vacant would count its second shell).

Every structure is validated first (:meth:`AtomicStructure.validate`): empty, NaN, zero volume, unknown elements and
overlapping atoms raise :class:`StructureError` naming the structure. A structure that is not one periodic bulk cell
(a finite cluster with ``pbc`` False, a slab, anything with vacuum across its cell) is fingerprinted from the
neighbourhood of its centre instead (:func:`.local.whole_cluster`: the same block, cut from the atoms around the
centre, in the orientation of the lattice found there). So is a bulk cell of more than :data:`LOCAL_ABOVE` atoms
(an MD snapshot), where the reflections of the whole cell would cost time and memory that grow faster than the atoms.
"""

from __future__ import annotations

import dataclasses
import functools
import warnings
from typing import Any

import numpy as np

from .orientation import Lattice, lattice_of, standard_setting
from .structures import AtomicStructure, StructureError, cell_heights, integer_grid, to_atomic_structure

__all__ = (
    'ORIENTATIONS',
    'Cluster',
    'build_cluster',
    'cubic_block',
    'cut_block',
    'lattice_aligned',
    'mean_nearest_neighbour_distance',
    'replicate',
    'standard_cell',
)

CUBIC_SPACE_GROUPS = range(195, 231)
#: Above this many atoms (an MD snapshot), the lattice is found from the 512 atoms around the centre of the cell
#: (:func:`.local.whole_cluster`) rather than from the reflections of the whole cell: linear time, bounded memory.
LOCAL_ABOVE = 16384
#: The orientation rules (see the module docstring); the first is the default.
ORIENTATIONS = ('lattice', 'spglib', 'none', 'standard')
#: The rules that find the lattice from the structure's reflections (:func:`.orientation.lattice_of`).
_FOUND = ('lattice', 'standard')


@dataclasses.dataclass(frozen=True, eq=False)
class Cluster:
    """A finite cluster: ``positions`` (N, 3) centred and in units of ``nn_distance`` (angstrom)."""

    positions: np.ndarray
    numbers: np.ndarray
    nn_distance: float
    spacegroup: int | None
    repeats: tuple[int, int, int]
    label: str = 'structure'
    lattice: Lattice | None = None  # what the 'lattice' orientation found (None for the other rules)

    def __len__(self) -> int:
        return len(self.numbers)


def lattice_aligned(structure: AtomicStructure) -> AtomicStructure:
    """Rotate ``structure`` rigidly so that a lies along x and b in the xy plane (a proper rotation, never a mirror)."""
    q, r = np.linalg.qr(structure.cell.T)
    signs = np.sign(np.diag(r))
    signs[signs == 0] = 1.0
    # Choose the last sign so that the change of frame q * signs is a proper rotation (det +1).
    signs[2] = signs[0] * signs[1] * np.sign(np.linalg.det(q))
    rotation = q * signs  # columns scaled: cell.T = rotation @ (signs[:, None] * r)
    return structure.replace(cell=structure.cell @ rotation, positions=structure.positions @ rotation)


def standard_cell(structure: AtomicStructure, symprec: float = 1e-3) -> tuple[AtomicStructure, int | None]:
    """Return spglib's conventional standard cell and space-group number when it is cubic, else the aligned cell.

    See the module docstring for the rule. The returned structure keeps ``label`` and ``info``.
    """
    import spglib

    frac = structure.scaled_positions
    try:
        with warnings.catch_warnings():  # spglib 2.x warns about its own error-handling switch on every call
            warnings.simplefilter('ignore', DeprecationWarning)
            dataset = spglib.get_symmetry_dataset((structure.cell, frac, structure.numbers), symprec=symprec)
    except Exception:  # spglib signals failures through exceptions in some versions, through None in others
        dataset = None
    if dataset is None or dataset.number not in CUBIC_SPACE_GROUPS:
        return lattice_aligned(structure), None
    cell = np.asarray(dataset.std_lattice, dtype=np.float64)
    positions = np.asarray(dataset.std_positions, dtype=np.float64) @ cell
    numbers = np.asarray(dataset.std_types, dtype=np.int64)
    return structure.replace(cell=cell, positions=positions, numbers=numbers), int(dataset.number)


def _is_orthogonal(cell: np.ndarray, tol: float = 1e-6) -> bool:
    """Whether the three cell edges are mutually orthogonal (relative tolerance ``tol``)."""
    lengths = np.linalg.norm(cell, axis=1)
    if np.any(lengths <= 0):
        return False
    unit = cell / lengths[:, None]
    gram = unit @ unit.T
    return bool(np.all(np.abs(gram - np.eye(3)) < tol))


#: With ``isotropic`` (the ``'standard'`` orientation), the most isotropic block whose count is within this fraction of
#: the target is taken (see :func:`_choose_repeats`).
COUNT_SLACK = 0.25


def _choose_repeats(
    n_atoms: float, lengths: np.ndarray, target_atoms: int, isotropic: bool = False
) -> tuple[int, int, int]:
    """Return (n1, n2, n3) with n1 n2 n3 n_atoms closest to the target; ties: most isotropic, then lexicographic.

    With ``isotropic`` (the ``'standard'`` orientation), the most isotropic block (smallest ratio of longest to
    shortest edge of the block) whose count is within :data:`COUNT_SLACK` of the target is taken instead (ties:
    nearest count, then lexicographic), and the closest count only where no block is within it. The paper's rule
    (closest count first) gives needles and slabs where the count per cell divides the target badly (1 x 43 x 1 for
    a rhombohedral cell of 3 sites, 2 x 4 x 4 for fcc), whose spots are twice as wide along the short edges: the
    three channels of the standard setting would then see different clusters along the three axes.
    """
    # Only the edge ratios matter, and datasets repeat the same few cell shapes: memoise on them.
    ratios = tuple(float(r) for r in np.round(np.asarray(lengths) / np.max(lengths), 9))
    count = int(n_atoms) if float(n_atoms).is_integer() else round(float(n_atoms), 9)
    return _choose_repeats_cached(count, ratios, int(target_atoms), bool(isotropic))


@functools.lru_cache(maxsize=4096)
def _choose_repeats_cached(
    n_atoms: float, ratios: tuple[float, float, float], target_atoms: int, isotropic: bool = False
) -> tuple[int, int, int]:
    lengths = np.array(ratios)
    limit = max(1, int(np.ceil(2 * target_atoms / n_atoms)))  # larger blocks are always farther from the target
    n = np.arange(1, limit + 1)
    n1, n2 = (grid.ravel() for grid in np.meshgrid(n, n, indexing='ij'))
    keep = n1 * n2 <= limit
    n1, n2 = n1[keep], n2[keep]
    ideal = target_atoms / (n_atoms * n1 * n2)
    n3 = np.concatenate([np.maximum(np.floor(ideal), 1), np.maximum(np.ceil(ideal), 1)]).astype(np.int64)
    reps = np.stack([np.tile(n1, 2), np.tile(n2, 2), n3], axis=1)
    miss = np.abs(reps.prod(axis=1) * n_atoms - target_atoms)
    extents = reps * lengths[None, :]
    anisotropy = np.round(extents.max(axis=1) / extents.min(axis=1), 9)
    best = np.lexsort((reps[:, 2], reps[:, 1], reps[:, 0], anisotropy, miss))[0]
    if isotropic:
        near = miss <= COUNT_SLACK * target_atoms
        if near.any():
            candidates = np.flatnonzero(near)
            order = np.lexsort(
                (
                    reps[candidates, 2],
                    reps[candidates, 1],
                    reps[candidates, 0],
                    miss[candidates],
                    anisotropy[candidates],
                )
            )
            best = candidates[order[0]]
    return tuple(int(v) for v in reps[best])


def replicate(structure: AtomicStructure, target_atoms: int = 128) -> AtomicStructure:
    """Return the periodic n1 x n2 x n3 supercell whose atom count is closest to ``target_atoms``.

    ``info['repeats']`` of the result holds (n1, n2, n3).
    """
    if target_atoms < 1:
        raise ValueError(f'target_atoms must be at least 1, not {target_atoms}')
    repeats = _choose_repeats(len(structure), np.linalg.norm(structure.cell, axis=1), int(target_atoms))
    grid = np.stack(np.meshgrid(*(np.arange(r) for r in repeats), indexing='ij'), axis=-1).reshape(-1, 3)
    shifts = grid.astype(np.float64) @ structure.cell
    positions = (shifts[:, None, :] + structure.positions[None, :, :]).reshape(-1, 3)
    numbers = np.tile(structure.numbers, len(grid))
    info = dict(structure.info, repeats=repeats)
    return AtomicStructure(structure.cell * np.array(repeats)[:, None], positions, numbers, structure.label, info)


def mean_nearest_neighbour_distance(positions: np.ndarray) -> float:
    """Return the mean over atoms of the distance to the nearest other atom (no periodic images)."""
    positions = np.asarray(positions, dtype=np.float64)
    n = len(positions)
    if n < 2:
        raise ValueError('the nearest-neighbour distance needs at least two atoms')
    squares = np.einsum('ij,ij->i', positions, positions)
    nearest = np.empty(n)
    chunk = max(1, 4_000_000 // n)
    for start in range(0, n, chunk):
        block = positions[start : start + chunk]
        d2 = squares[start : start + chunk, None] + squares[None, :] - 2.0 * block @ positions.T
        d2[np.arange(len(block)), start + np.arange(len(block))] = np.inf
        nearest[start : start + chunk] = d2.min(axis=1)
    return float(np.sqrt(np.maximum(nearest, 0.0)).mean())


def _block_origin(structure: AtomicStructure, lattice: Lattice) -> np.ndarray:
    """The Cartesian origin of the block (see the module docstring, step 1)."""
    centre = 0.5 * structure.cell.sum(axis=0)
    site = lattice.site_positions[0]
    frac = (centre - site) @ np.linalg.inv(lattice.primitive)
    return site + np.round(frac) @ lattice.primitive - 0.125 * lattice.conventional.sum(axis=0)


def _standard_origin(structure: AtomicStructure, lattice: Lattice) -> np.ndarray:
    """The block's origin in the ``'standard'`` orientation of a lattice that is not cubic: a site the crystal chooses.

    :func:`_block_origin` starts the block one eighth of a cell diagonal before the first site of the average
    crystal, the most populated one; when several sites are equally populated (the two of hcp, the four of alpha-Ga)
    which is first depends on the order of the atoms in the cell, and blocks started at two different sites are
    different clusters (a correlation of 0.94 between their images for hcp). Here every site k is a candidate start
    s_k - (1/8) diagonal, described by the contents of one conventional cell relative to it: U_k, the fractional
    coordinates (mod 1) of every site and lattice point with respect to that start, on a grid of 1/48 (the special
    positions, multiples of 1/24 plus the offset 1/8, are grid points, so displacements of up to 1/96 of a cell do
    not move them). The start whose contents keep farthest from the cell's faces is taken (the block's faces then fall
    between atomic planes, so noise cannot move a plane in or out of the block); ties go to the smallest U_k in
    lexicographic order. U_k depends only on the crystal, not on how its sites are listed, so two descriptions of
    the same crystal give the same start.
    """
    from .orientation import _SHIFTS

    conventional = lattice.conventional
    inverse = np.linalg.inv(conventional)
    sites = lattice.site_positions
    diagonal = conventional.sum(axis=0)
    points = _SHIFTS @ lattice.primitive @ inverse
    points = np.round(points - np.floor(points + 1e-9), 9) % 1.0
    points = np.array(sorted(set(map(tuple, points.tolist()))))  # the lattice points in one cell (np.unique's rows)
    best_key, best = None, 0
    for k in range(len(sites)):
        frac = (sites - sites[k] + 0.125 * diagonal) @ inverse
        cell = (frac[:, None, :] + points[None, :, :]).reshape(-1, 3)
        grid = np.round(48.0 * (cell - np.floor(cell + 1e-9))).astype(np.int64) % 48
        margin = int(np.minimum(grid, 48 - grid).min())
        key = (-margin, tuple(sorted(tuple(int(x) for x in row) for row in grid)))
        if best_key is None or key < best_key:
            best_key, best = key, k
    centre = 0.5 * structure.cell.sum(axis=0)
    site = sites[best]
    frac = (centre - site) @ np.linalg.inv(lattice.primitive)
    return site + np.round(frac) @ lattice.primitive - 0.125 * diagonal


def _sites_per_cell(lattice: Lattice) -> int:
    """Sites per conventional cell: lattice points times sites per point of the average crystal.

    Vacancies do not change it, so the block of a defective structure is the block of its pristine crystal, as in the
    package's defective datasets.
    """
    points = round(abs(np.linalg.det(lattice.conventional) / np.linalg.det(lattice.primitive)))
    return max(1, int(points * lattice.sites))


def cubic_block(per_cell: int, target_atoms: int) -> tuple[int, int, int]:
    """The block (n, n, n) of a cubic lattice in the ``'standard'`` orientation: n^3 per_cell closest to the target.

    Ties go to the smaller n. A cube of conventional cubes, started one eighth of a diagonal before a lattice point,
    is mapped onto itself by the cyclic renaming of the axes (a rotation of the cube), so the three channels of a cubic
    crystal are equal: fcc 3 x 3 x 3 (108 sites), bcc 4 x 4 x 4 (128), sc 5 x 5 x 5 (125), diamond 2 x 2 x 2 (64).
    """
    n = max(1, round((target_atoms / per_cell) ** (1.0 / 3.0)))
    best = min((abs(k**3 * per_cell - target_atoms), k) for k in (n - 1, n, n + 1) if k >= 1)[1]
    return (best, best, best)


#: The corners of the unit cube, i slowest (the block's corners in units of its edges).
_CORNERS = np.array([[i, j, k] for i in (0, 1) for j in (0, 1) for k in (0, 1)])


def cut_block(
    structure: AtomicStructure, lattice: Lattice, target_atoms: int = 128, *, isotropic: bool = False
) -> AtomicStructure:
    """Cut the block of n1 x n2 x n3 conventional cells of ``lattice`` from the periodic ``structure``, rotated.

    The block holds about ``target_atoms`` lattice sites (:func:`_sites_per_cell`); the result is a cell of the block
    in the standard orientation (``lattice.conventional @ lattice.rotation.T``: the conventional edges along x, y, z
    for the most cubic cell; any conventional cell, e.g. a hexagonal one, with :func:`.orientation.standard_setting`);
    ``info['repeats']`` holds (n1, n2, n3). ``isotropic`` (the ``'standard'`` orientation): the block's shape as in
    :func:`cubic_block` for a cubic lattice and :func:`_choose_repeats` otherwise, and for a lattice that is not cubic
    its start as in :func:`_standard_origin`.
    """
    conventional = lattice.conventional
    per_cell = _sites_per_cell(lattice)
    if isotropic and lattice.bravais:  # a cube of cubes: the three axes see the same cluster (cubic_block)
        repeats = cubic_block(per_cell, int(target_atoms))
    else:
        repeats = _choose_repeats(per_cell, np.linalg.norm(conventional, axis=1), int(target_atoms), isotropic)
    canonical = isotropic and lattice.bravais == '' and lattice.site_positions is not None
    origin = _standard_origin(structure, lattice) if canonical else _block_origin(structure, lattice)
    corners = _CORNERS * np.array(repeats)
    inverse_cell = np.linalg.inv(structure.cell)
    inverse_conventional = np.linalg.inv(conventional)
    middle = origin + 0.5 * (np.array(repeats)[:, None] * conventional).sum(axis=0)
    radius = float(np.linalg.norm(corners @ conventional + origin - middle, axis=1).max())
    if np.all(cell_heights(structure.cell) > 2.0 * radius):
        # A cell wider than the block: every atom's image nearest the block's centre is the only one that can be in
        # it, so one image per atom, not every image of every atom in the block's reach (linear, not N times more).
        frac = structure.scaled_positions
        frac = frac - np.round(frac - middle @ inverse_cell)
        candidates = frac @ structure.cell
        inside = (candidates - origin) @ inverse_conventional
        keep = np.all((inside >= 0) & (inside < np.array(repeats)), axis=1)
        return AtomicStructure(
            (conventional * np.array(repeats)[:, None]) @ lattice.rotation.T,
            (candidates[keep] - origin) @ lattice.rotation.T,
            structure.numbers[keep],
            structure.label,
            dict(structure.info, repeats=repeats),
        )
    reach = (origin + corners @ conventional) @ inverse_cell
    low, high = np.floor(reach.min(axis=0)).astype(int) - 1, np.ceil(reach.max(axis=0)).astype(int)
    shifts = integer_grid(low, high)
    from . import _kernels

    frac = structure.scaled_positions
    frac = frac - np.floor(frac)
    # Every image (shift + frac) of every atom, in the block's conventional coordinates; the kernel keeps those inside
    # the block without making the (images x atoms) array of candidates.
    to_block = structure.cell @ inverse_conventional
    start = origin @ inverse_conventional
    images, atoms = _kernels.block_members(
        np.ascontiguousarray(frac @ to_block - start), np.ascontiguousarray(shifts @ to_block), np.array(repeats, float)
    ).T
    rotation = lattice.rotation
    info = dict(structure.info, repeats=repeats)
    return AtomicStructure(
        (conventional * np.array(repeats)[:, None]) @ rotation.T,
        ((shifts[images] + frac[atoms]) @ structure.cell - origin) @ rotation.T,
        structure.numbers[atoms],
        structure.label,
        info,
    )


def build_cluster(
    structure: Any,
    target_atoms: int = 128,
    orientation: str = 'lattice',
    symprec: float = 1e-3,
    *,
    standardize: bool | None = None,
    seed: int = 0,
) -> Cluster:
    """Build the centred, scaled cluster of about ``target_atoms`` atoms that the fingerprint scatters from.

    ``structure`` is anything :func:`to_atomic_structure` converts; ``orientation`` one of :data:`ORIENTATIONS` (see
    the module docstring); ``seed`` is passed to :func:`.orientation.find_lattice`. ``standardize`` is the older
    spelling (True: ``'spglib'``, False: ``'none'``). Raises :class:`StructureError` naming the structure when it
    cannot be fingerprinted.
    """
    if standardize is not None:
        orientation = 'spglib' if standardize else 'none'
    if orientation not in ORIENTATIONS:
        raise ValueError(f'orientation must be one of {ORIENTATIONS}, not {orientation!r}')
    structure = to_atomic_structure(structure).validate()
    spacegroup, lattice = None, None
    from .local import is_bulk, whole_cluster

    if not structure.periodic or (orientation in _FOUND and not is_bulk(structure)):
        if orientation not in _FOUND:
            raise StructureError(
                f'{structure.label}: a structure that is not periodic along all three axes (pbc '
                f"{list(structure.pbc)}) needs the orientation 'lattice' or 'standard', not {orientation!r}"
            )
        cluster = whole_cluster(structure, target_atoms, seed, isotropic=orientation == 'standard')
        # A cell periodic along all three axes with an empty slab across it: a slab in vacuum, or a sparse bulk
        # crystal (a random crystal of low density can hold such a gap). The latter has no lattice around its centre
        # at the slab's scale; the periodic step below finds the lattice of its cell.
        if cluster.lattice.found or not structure.periodic:
            return cluster
    if orientation in _FOUND and len(structure) > LOCAL_ABOVE:
        # The reflections of a cell grow with its atoms, so the periodic search costs atoms x atoms' worth of
        # memory and time in a big cell; the cluster is cut at the centre anyway: find the lattice there.
        return whole_cluster(structure, target_atoms, seed, atoms=512, isotropic=orientation == 'standard')
    if orientation in _FOUND:
        lattice = lattice_of(structure, seed, molecular=orientation == 'standard')
        if orientation == 'standard':
            lattice = standard_setting(lattice)
        if lattice.found:
            block = cut_block(structure, lattice, target_atoms, isotropic=orientation == 'standard')
        else:
            block = replicate(lattice_aligned(structure), target_atoms)
    else:
        if orientation == 'spglib' and not _is_orthogonal(structure.cell):
            cell, spacegroup = standard_cell(structure, symprec=symprec)
        else:
            cell = lattice_aligned(structure)
        block = replicate(cell, target_atoms)
    if len(block) < 2:
        raise StructureError(f'{structure.label}: a cluster of one atom has no structure (raise target_atoms)')
    positions = block.positions - block.positions.mean(axis=0)
    if lattice is not None and lattice.found:
        nn_distance = lattice.nn_distance  # of the periodic structure: see the module docstring, step 3
    else:
        nn_distance = mean_nearest_neighbour_distance(positions)
    return Cluster(
        positions=np.ascontiguousarray(positions / nn_distance),
        numbers=block.numbers.copy(),
        nn_distance=nn_distance,
        spacegroup=spacegroup,
        repeats=block.info['repeats'],
        label=structure.label,
        lattice=lattice,
    )
