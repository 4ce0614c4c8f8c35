"""Seeded, deterministic defects of periodic structures: vacancies, displacements, substitutions, bcc -> sc, Lindemann.

Every function takes a structure and a ``seed``, draws from ``numpy.random.default_rng(seed)`` only, and returns a new
:class:`~aiida_crystalface.core.structures.AtomicStructure` (the input is never changed) whose ``info`` holds the
defect: ``defect_kind``, ``defect_level`` (the fraction, sigma or Lindemann parameter), ``defect_seed`` and
``defect_params`` (every argument), on top of the input's own ``info``. The same seed gives the identical structure.

spglib cannot standardise a defective structure, so defects are meant for the replicated pristine cell (the
conventional standard cell repeated to the item's target size, :func:`aiida_crystalface.core.cluster.replicate`),
never for a cell that still has to be standardised.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .structures import MAX_ATOMIC_NUMBER, AtomicStructure, chemical_symbol

__all__ = (
    'DefectError',
    'bcc_to_sc',
    'displacements',
    'lindemann',
    'nearest_neighbour_distance',
    'substitutions',
    'vacancies',
)

#: Species that substitutions may bring in: every element of the form-factor table (Z = 1..98).
SUBSTITUTION_SPECIES = tuple(range(1, MAX_ATOMIC_NUMBER + 1))


class DefectError(ValueError):
    """A defect request that cannot be met (a bad fraction or sigma, bcc -> sc on a structure that is not bcc)."""


def _check_fraction(fraction: float, name: str = 'fraction', *, inclusive: bool = False) -> float:
    value = float(fraction)
    upper_ok = value <= 1 if inclusive else value < 1
    if not (np.isfinite(value) and value >= 0 and upper_ok):
        interval = '[0, 1]' if inclusive else '[0, 1)'
        raise DefectError(f'{name} must lie in {interval}, not {fraction!r}')
    return value


def _check_seed(seed: Any) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or int(seed) < 0:
        raise DefectError(f'seed must be a non-negative integer, not {seed!r}')
    return int(seed)


def _count(fraction: float, n: int) -> int:
    """Number of atoms a fraction of ``n`` means: the nearest integer (half up), so 50 % of 5 is 3."""
    return int(np.floor(fraction * n + 0.5))


def _defective(
    structure: AtomicStructure, kind: str, level: float, seed: int, params: dict, **fields
) -> AtomicStructure:
    info = dict(structure.info)
    info.update(defect_kind=kind, defect_level=float(level), defect_seed=int(seed), defect_params=dict(params))
    label = f'{structure.label}:{kind}={level:g}:seed={seed}'
    return structure.replace(label=label, info=info, **fields)


def vacancies(structure: AtomicStructure, fraction: float, seed: int) -> AtomicStructure:
    """Remove ``round(fraction * N)`` atoms chosen uniformly at random, without replacement.

    Args:
        structure: the periodic structure (the replicated pristine cell).
        fraction: share of the atoms to remove, in [0, 1).
        seed: seed of the random generator.
    """
    fraction, seed = _check_fraction(fraction), _check_seed(seed)
    rng = np.random.default_rng(seed)
    n = len(structure)
    removed = rng.choice(n, size=_count(fraction, n), replace=False)
    keep = np.ones(n, dtype=bool)
    keep[removed] = False
    return _defective(
        structure,
        'vacancies',
        fraction,
        seed,
        {'fraction': fraction},
        positions=structure.positions[keep],
        numbers=structure.numbers[keep],
    )


def displacements(structure: AtomicStructure, sigma: float, seed: int) -> AtomicStructure:
    """Displace every atom by an isotropic Gaussian vector: each Cartesian component ~ N(0, sigma^2).

    ``sigma`` is in angstrom and acts on the real structure, before the cluster is scaled by its
    nearest-neighbour distance (so 0.1 angstrom is a larger disorder for a small lattice constant).

    Args:
        structure: the periodic structure (the replicated pristine cell).
        sigma: standard deviation of each Cartesian component of the displacement (angstrom), >= 0.
        seed: seed of the random generator.
    """
    sigma, seed = _check_sigma(sigma, 'sigma'), _check_seed(seed)
    rng = np.random.default_rng(seed)
    positions = structure.positions + rng.normal(0.0, sigma, size=structure.positions.shape)
    return _defective(structure, 'displacements', sigma, seed, {'sigma': sigma}, positions=positions)


def _check_sigma(value: float, name: str) -> float:
    result = float(value)
    if not np.isfinite(result) or result < 0:
        raise DefectError(f'{name} must be a finite number >= 0, not {value!r}')
    return result


def nearest_neighbour_distance(structure: AtomicStructure) -> float:
    """Shortest interatomic distance of a periodic structure (angstrom), periodic images of every atom included.

    Exact for any cell: the minimum-image distance answers when it is below half the cell's thinnest width;
    otherwise every image within the shortest lattice vector (an upper bound of the answer) is searched.
    """
    cell = structure.cell
    if len(structure) == 0:
        raise DefectError(f'{structure.label}: the structure is empty (no atoms)')
    bound = float(np.min(np.linalg.norm(cell, axis=1)))
    widths = abs(np.linalg.det(cell)) / np.linalg.norm(np.cross(cell[[1, 2, 0]], cell[[2, 0, 1]]), axis=1)
    best = min(bound, _min_image_distance(structure, np.zeros((1, 3))))
    if best < widths.min() / 2:
        return best
    reach = np.ceil(bound / widths).astype(int)
    grid = np.meshgrid(*[np.arange(-n, n + 1) for n in reach], indexing='ij')
    return min(best, _min_image_distance(structure, np.stack(grid, axis=-1).reshape(-1, 3) @ cell))


def _min_image_distance(structure: AtomicStructure, shifts: np.ndarray) -> float:
    """Smallest distance between atom i and atom j + shift over all pairs (i, j) and shifts, self excluded."""
    frac = structure.scaled_positions
    best = np.inf
    for start in range(0, len(frac), 256):  # rows in blocks: memory stays small for large cells
        delta = frac[start : start + 256, None, :] - frac[None, :, :]
        delta = (delta - np.round(delta)) @ structure.cell
        for shift in shifts:
            squared = np.einsum('ijk,ijk->ij', delta + shift, delta + shift)
            if not shift.any():
                rows = np.arange(len(squared))
                squared[rows, start + rows] = np.inf
            best = min(best, float(np.sqrt(squared.min())))
    return best


def lindemann(structure: AtomicStructure, parameter: float, seed: int) -> AtomicStructure:
    """Displace atoms at a given Lindemann parameter ``L``, the rms displacement over the nearest-neighbour distance.

    Definition used here: every atom moves by an isotropic Gaussian vector ``u`` whose Cartesian components are
    independent with standard deviation ``sigma = L * d_nn / sqrt(3)``, where ``d_nn`` is the nearest-neighbour
    distance of the input (pristine) structure. Then ``sqrt(<|u|^2>) = L * d_nn``: the root-mean-square length of
    the displacement is ``L`` nearest-neighbour distances. (Lindemann's melting rule says a solid melts when this ratio
    exceeds about 0.1-0.2.)

    Args:
        structure: the pristine periodic structure (the replicated pristine cell).
        parameter: the Lindemann parameter ``L`` >= 0.
        seed: seed of the random generator.
    """
    parameter, seed = _check_sigma(parameter, 'Lindemann parameter'), _check_seed(seed)
    d_nn = nearest_neighbour_distance(structure)
    sigma = parameter * d_nn / np.sqrt(3)
    rng = np.random.default_rng(seed)
    positions = structure.positions + rng.normal(0.0, sigma, size=structure.positions.shape)
    params = {'parameter': parameter, 'nn_distance': d_nn, 'sigma': float(sigma)}
    return _defective(structure, 'lindemann', parameter, seed, params, positions=positions)


def substitutions(structure: AtomicStructure, fraction: float, seed: int, n_species: int = 1) -> AtomicStructure:
    """Replace ``round(fraction * N)`` random atoms by ``n_species`` other species (binary: 1, ternary: 2).

    The new species are drawn uniformly among the elements of the form-factor table (Z = 1..98) absent from the
    structure; the substituted atoms are split among them as evenly as possible (the first gets the remainder).

    Args:
        structure: the periodic structure (the replicated pristine cell).
        fraction: share of the atoms to substitute, in [0, 1).
        seed: seed of the random generator.
        n_species: number of new species, 1 (binary alloy of an elemental crystal) or 2 (ternary).
    """
    fraction, seed = _check_fraction(fraction), _check_seed(seed)
    if n_species not in (1, 2):
        raise DefectError(f'n_species must be 1 (binary) or 2 (ternary), not {n_species!r}')
    rng = np.random.default_rng(seed)
    present = set(np.unique(structure.numbers).tolist())
    candidates = np.array([z for z in SUBSTITUTION_SPECIES if z not in present])
    new_species = rng.choice(candidates, size=n_species, replace=False)
    n = len(structure)
    chosen = rng.choice(n, size=_count(fraction, n), replace=False)
    numbers = structure.numbers.copy()
    for part, z in zip(np.array_split(chosen, n_species), new_species, strict=True):
        numbers[part] = z
    kind = 'binary' if n_species == 1 else 'ternary'
    params = {'fraction': fraction, 'n_species': n_species, 'species': [chemical_symbol(z) for z in new_species]}
    return _defective(structure, kind, fraction, seed, params, numbers=numbers)


def body_centre_mask(structure: AtomicStructure, symprec: float = 1e-3) -> np.ndarray:
    """Boolean mask of the body-centre atoms of a bcc cell (spglib: Im-3m, 229); the other half are the corners.

    The positions are taken into spglib's conventional cubic frame; atoms on the same sublattice as atom 0 are the
    corners, those shifted by (1/2, 1/2, 1/2) the centres. Raises :class:`DefectError` when the structure is not
    bcc, or is a cell (such as the primitive one) in which corner and centre atoms are the same atoms.
    """
    from .prototypes import symmetry_dataset

    name = structure.label
    if len(np.unique(structure.numbers)) != 1:
        raise DefectError(f'{name}: bcc -> sc needs an elemental bcc crystal; this one has several species')
    dataset = symmetry_dataset(structure, symprec)
    number = None if dataset is None else int(dataset.number)
    if number != 229:
        raise DefectError(f'{name}: bcc -> sc needs a bcc crystal (spglib: Im-3m, 229), but spglib finds {number}')
    transformation = np.asarray(dataset.transformation_matrix)
    conventional = structure.scaled_positions @ transformation.T
    offset = conventional - conventional[0]
    centre = np.abs(offset - np.round(offset)).max(axis=1) > 0.25
    # Every cell vector must be a vector of the cubic lattice: a centring vector (1/2, 1/2, 1/2) among them, as in
    # the primitive cell, makes corners and centres images of each other.
    if not np.allclose(transformation, np.round(transformation), atol=1e-6) or centre.sum() * 2 != len(structure):
        raise DefectError(
            f'{name}: corner and body-centre atoms are not distinct in this cell ({len(structure)} atoms, '
            f'{int(centre.sum())} centres): pass the conventional cell or a supercell of it'
        )
    return centre


def bcc_to_sc(structure: AtomicStructure, fraction: float, seed: int) -> AtomicStructure:
    """Remove ``round(fraction * N_centre)`` body-centre atoms of a bcc crystal, chosen at random.

    0 % leaves the bcc crystal (229), 100 % leaves the simple-cubic lattice of the corners (221).

    Args:
        structure: an elemental bcc crystal whose cell holds corners and centres (a conventional supercell).
        fraction: share of the body-centre atoms to remove, in [0, 1] (inclusive: 1 gives sc).
        seed: seed of the random generator.
    """
    fraction, seed = _check_fraction(fraction, inclusive=True), _check_seed(seed)
    centres = np.flatnonzero(body_centre_mask(structure))
    rng = np.random.default_rng(seed)
    removed = rng.choice(centres, size=_count(fraction, len(centres)), replace=False)
    keep = np.ones(len(structure), dtype=bool)
    keep[removed] = False
    return _defective(
        structure,
        'bcc_to_sc',
        fraction,
        seed,
        {'fraction': fraction},
        positions=structure.positions[keep],
        numbers=structure.numbers[keep],
    )
