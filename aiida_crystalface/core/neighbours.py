"""Neighbour search in linear time: periodic images within a skin, a k-d tree, overlaps and vacuum.

Every neighbour query of the package goes through scipy's :class:`scipy.spatial.cKDTree` (a well-kept library; its
build is O(N log N) and a query of a fixed number of neighbours O(log N)), on the atoms of the structure and the
periodic images of those within ``skin`` of a face of the cell (:func:`periodic_images`). That works for any cell
(cKDTree's own periodic boxes are orthorhombic only) and for structures periodic along some directions only: a slab
(periodic in-plane), a wire, or a finite cluster with no cell at all.
"""

from __future__ import annotations

import dataclasses
import itertools
from typing import TYPE_CHECKING, Any

import numpy as np

from .structures import cell_heights

if TYPE_CHECKING:
    from .structures import AtomicStructure

__all__ = ('VACUUM_GAP', 'Neighbourhood', 'neighbourhood', 'overlapping_pair', 'periodic_images', 'vacuum_axes')

#: An empty slab across the whole cell, this wide (angstrom) and at least three nearest-neighbour distances, is vacuum:
#: the structure is not periodic along that axis (a surface slab or a cluster in a box). Interlayer gaps of layered
#: bulk crystals (graphite 3.35 A, MoS2 about 3 A) stay well below it.
VACUUM_GAP = 6.0
#: Cells of at most this many atoms look for overlapping atoms with an all-pairs kernel (:func:`overlapping_pair`).
SMALL_CELL = 512


def _fractional(cell: np.ndarray, positions: np.ndarray, pbc: np.ndarray) -> np.ndarray | None:
    """Fractional coordinates along the periodic axes (None when no axis is periodic)."""
    if not pbc.any():
        return None
    return np.linalg.lstsq(cell[pbc].T, positions.T, rcond=None)[0].T


def periodic_images(cell: np.ndarray, positions: np.ndarray, pbc: Any, skin: float) -> tuple[np.ndarray, np.ndarray]:
    """Return the atoms wrapped into the cell followed by every periodic image within ``skin`` of the cell.

    Along the periodic axes (``pbc``) atoms are wrapped into the cell; their images are added while they lie within
    ``skin`` angstrom (measured perpendicular to the faces) outside it, so that the ball of radius ``skin`` around any
    atom of the cell is complete. Returns ``points`` (M, 3), whose first N rows are the wrapped atoms in their order,
    and ``index`` (M,): the atom each point is an image of. Memory grows with N times (1 + 2 skin / height)^3.
    """
    positions = np.asarray(positions, dtype=np.float64).reshape(-1, 3)
    pbc = np.asarray(pbc, dtype=bool).reshape(3)
    n = len(positions)
    if not pbc.any() or n == 0:
        return positions.copy(), np.arange(n)
    cell = np.asarray(cell, dtype=np.float64)
    periodic = cell[pbc]
    frac = _fractional(cell, positions, pbc)
    shift = np.floor(frac)
    wrapped = positions - shift @ periodic
    frac = frac - shift
    heights = cell_heights(cell)[pbc] if pbc.all() else _partial_heights(periodic)
    reach = skin / heights
    steps = [np.arange(-int(np.ceil(r)), int(np.ceil(r)) + 1) for r in reach]
    points, index = [wrapped], [np.arange(n)]
    for step in itertools.product(*steps):
        image = np.array(step, dtype=np.float64)
        if not image.any():
            continue
        moved = frac + image
        keep = np.all((moved >= -reach) & (moved < 1.0 + reach), axis=1)
        if keep.any():
            points.append(wrapped[keep] + image @ periodic)
            index.append(np.flatnonzero(keep))
    return np.concatenate(points), np.concatenate(index)


def _partial_heights(periodic: np.ndarray) -> np.ndarray:
    """Face-to-face distances of a cell periodic along fewer than three axes (within the periodic subspace)."""
    if len(periodic) == 1:
        return np.linalg.norm(periodic, axis=1)
    a, b = periodic
    area = np.linalg.norm(np.cross(a, b))
    return np.array([area / np.linalg.norm(b), area / np.linalg.norm(a)])


@dataclasses.dataclass(frozen=True, eq=False)
class Neighbourhood:
    """The atoms of a structure and their periodic images within ``skin``, in a k-d tree.

    ``points[:n_atoms]`` are the structure's atoms (wrapped into the cell along periodic axes), in order; ``index``
    maps every point to its atom; ``numbers`` are the points' atomic numbers.
    """

    points: np.ndarray
    index: np.ndarray
    numbers: np.ndarray
    n_atoms: int
    skin: float
    tree: Any

    def __len__(self) -> int:
        return len(self.points)


def neighbourhood(structure: AtomicStructure, skin: float) -> Neighbourhood:
    """Build the :class:`Neighbourhood` of ``structure`` (its periodic axes: ``structure.pbc``)."""
    from scipy.spatial import cKDTree

    points, index = periodic_images(structure.cell, structure.positions, structure.pbc, skin)
    return Neighbourhood(
        points=points,
        index=index,
        numbers=structure.numbers[index],
        n_atoms=len(structure),
        skin=float(skin),
        tree=cKDTree(points),
    )


def overlapping_pair(structure: AtomicStructure, distance: float) -> tuple[float, int, int] | None:
    """Return (d, i, j) of the closest pair of atoms closer than ``distance`` (periodic images included), or None.

    Linear in the number of atoms: a k-d tree over the atoms and their images within ``distance`` of the cell.
    An atom closer than ``distance`` to its own image (a cell that thin) is reported as the pair (i, i). A fully
    periodic cell of at most :data:`SMALL_CELL` atoms whose faces are more than ``2 distance`` apart takes an
    all-pairs minimum-image kernel instead (the same answer, without the set-up cost of the images and the tree).
    """
    from scipy.spatial import cKDTree

    cell = np.asarray(structure.cell, dtype=np.float64)
    n = len(structure)
    if 2 <= n <= SMALL_CELL and all(structure.pbc) and np.all(cell_heights(cell) > 2.0 * distance):
        from . import _kernels

        frac = np.linalg.solve(cell.T, np.asarray(structure.positions, dtype=np.float64).T).T
        d2, i, j = _kernels.closest_pair(np.ascontiguousarray(frac), cell)
        return (float(np.sqrt(d2)), int(i), int(j)) if d2 < distance**2 else None
    points, index = periodic_images(structure.cell, structure.positions, structure.pbc, distance)
    tree = cKDTree(points)
    pairs = tree.query_pairs(distance, output_type='ndarray')
    if len(pairs) == 0:
        return None
    lengths = np.linalg.norm(points[pairs[:, 0]] - points[pairs[:, 1]], axis=1)
    best = int(np.argmin(lengths))
    i, j = sorted((int(index[pairs[best, 0]]), int(index[pairs[best, 1]])))
    return float(lengths[best]), i, j


def vacuum_axes(structure: AtomicStructure, nn_distance: float | None = None) -> np.ndarray:
    """Which periodic axes hold a vacuum gap: an empty slab across the cell (see :data:`VACUUM_GAP`).

    Returns a (3,) bool array (False along non-periodic axes). ``nn_distance``: the structure's nearest-neighbour
    distance, when known (the gap must also be at least three of those).
    """
    pbc = np.asarray(structure.pbc, dtype=bool)
    gaps = np.zeros(3, dtype=bool)
    if len(structure) == 0 or not pbc.any():
        return gaps
    frac = np.linalg.solve(structure.cell.T, structure.positions.T).T if pbc.all() else None
    heights = cell_heights(structure.cell)
    minimum = max(VACUUM_GAP, 3.0 * nn_distance) if nn_distance else VACUUM_GAP
    for axis in np.flatnonzero(pbc):
        if frac is None:
            column = _fractional(structure.cell, structure.positions, pbc)[:, list(np.flatnonzero(pbc)).index(axis)]
        else:
            column = frac[:, axis]
        values = np.sort(column - np.floor(column))
        spacing = np.diff(np.concatenate([values, values[:1] + 1.0]))
        gaps[axis] = bool(spacing.max() * heights[axis] >= minimum)
    return gaps
