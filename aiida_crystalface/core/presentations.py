"""The same crystal in other cells and orientations, and structures with no lattice: the test cases of the orientation
step (:mod:`.orientation`), shared by the tests, ``benchmarks/orientation.py`` and anyone who wants to check it.
"""

from __future__ import annotations

import numpy as np

from .defects import displacements, vacancies
from .prototypes import prototype
from .structures import AtomicStructure, atomic_number, supercell

__all__ = ('amorphous', 'defective_presentations', 'random_rotation', 'rotated')


def random_rotation(seed: int) -> np.ndarray:
    """A random proper rotation (3 x 3), uniform over rotations, from ``seed``."""
    q, r = np.linalg.qr(np.random.default_rng(seed).normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return q


def rotated(structure: AtomicStructure, seed: int) -> AtomicStructure:
    """The structure rigidly rotated at random (cell and positions together)."""
    q = random_rotation(seed)
    return structure.replace(cell=structure.cell @ q.T, positions=structure.positions @ q.T)


def defective_presentations(
    species: str, label: str, repeats: int, vacancy: float = 0.0, sigma: float = 0.0, *, seed: int = 0
) -> dict[str, AtomicStructure]:
    """One defective periodic crystal, presented four ways.

    The crystal: the ``repeats``-fold conventional supercell of ``label`` (fcc, diamond, bcc, sc) of ``species``,
    with a fraction ``vacancy`` of its sites empty and Gaussian displacements of ``sigma`` angstrom (seeds derived from
    ``seed``). The presentations: ``'a'`` that conventional supercell; ``'b'`` the same crystal in a supercell of the
    primitive cell (2n primitive vectors are lattice vectors of the n-fold conventional supercell; sc: n), which
    holds 2 (fcc, diamond) or 4 (bcc) periodic copies; ``'c-a'`` and ``'c-b'`` those two rigidly rotated at random.
    """
    structure = supercell(prototype(species, label), repeats)
    if vacancy:
        structure = vacancies(structure, vacancy, seed=seed)
    if sigma:
        structure = displacements(structure, sigma, seed=seed + 1)
    primitive = prototype(species, label, representation='primitive').cell
    factor = repeats if label == 'sc' else 2 * repeats
    matrix = np.round((factor * primitive) @ np.linalg.inv(structure.cell)).astype(int)
    in_primitive = supercell(structure, matrix).replace(label=f'{structure.label}-primitive')
    return {
        'a': structure,
        'b': in_primitive,
        'c-a': rotated(structure, seed + 2).replace(label=f'{structure.label}-rotated'),
        'c-b': rotated(in_primitive, seed + 3).replace(label=f'{in_primitive.label}-rotated'),
    }


def amorphous(n: int, density: float, seed: int, min_distance: float = 2.0, species: str = 'Cu') -> AtomicStructure:
    """``n`` atoms at random in a cubic cell at ``density`` (atoms per cubic angstrom), none closer than
    ``min_distance`` (periodic images included): an amorphous solid at crystal density, a gas at low density.
    """
    rng = np.random.default_rng(seed)
    side = (n / density) ** (1 / 3)
    points: list[np.ndarray] = []
    for _ in range(1000 * n):
        if len(points) == n:
            break
        candidate = rng.random(3) * side
        if points:
            delta = np.array(points) - candidate
            delta -= side * np.round(delta / side)
            if np.min(np.einsum('ij,ij->i', delta, delta)) < min_distance**2:
                continue
        points.append(candidate)
    else:
        raise ValueError(f'cannot place {n} atoms {min_distance} A apart at density {density}')
    return AtomicStructure(np.eye(3) * side, np.array(points), np.full(n, atomic_number(species)), f'amorphous-{seed}')
