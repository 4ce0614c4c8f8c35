"""One internal form for atomic structures, and conversions into it.

Every function of ``core`` works on :class:`AtomicStructure`: a cell (3 x 3, rows are the lattice vectors, in
angstrom), Cartesian positions (N x 3, angstrom) and atomic numbers (N,). Conversions from pymatgen, ASE and AiiDA
import those packages lazily, so that ``import aiida_crystalface.core`` stays cheap and never imports aiida.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import math
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = (
    'MAX_ATOMIC_NUMBER',
    'AtomicStructure',
    'StructureError',
    'atomic_number',
    'chemical_symbol',
    'load_structures',
    'read_structures',
    'save_structures',
    'supercell',
    'to_atomic_structure',
)

#: Largest atomic number the package knows (the form-factor table covers 1..98).
MAX_ATOMIC_NUMBER = 98

#: Atoms closer than this (angstrom) are taken to overlap.
MIN_INTERATOMIC_DISTANCE = 0.1

# fmt: off
_SYMBOLS = (
    'X', 'H', 'He', 'Li', 'Be', 'B', 'C', 'N', 'O', 'F', 'Ne', 'Na', 'Mg', 'Al', 'Si', 'P', 'S', 'Cl', 'Ar', 'K',
    'Ca', 'Sc', 'Ti', 'V', 'Cr', 'Mn', 'Fe', 'Co', 'Ni', 'Cu', 'Zn', 'Ga', 'Ge', 'As', 'Se', 'Br', 'Kr', 'Rb', 'Sr',
    'Y', 'Zr', 'Nb', 'Mo', 'Tc', 'Ru', 'Rh', 'Pd', 'Ag', 'Cd', 'In', 'Sn', 'Sb', 'Te', 'I', 'Xe', 'Cs', 'Ba', 'La',
    'Ce', 'Pr', 'Nd', 'Pm', 'Sm', 'Eu', 'Gd', 'Tb', 'Dy', 'Ho', 'Er', 'Tm', 'Yb', 'Lu', 'Hf', 'Ta', 'W', 'Re', 'Os',
    'Ir', 'Pt', 'Au', 'Hg', 'Tl', 'Pb', 'Bi', 'Po', 'At', 'Rn', 'Fr', 'Ra', 'Ac', 'Th', 'Pa', 'U', 'Np', 'Pu', 'Am',
    'Cm', 'Bk', 'Cf',
)
# fmt: on
_NUMBERS = {symbol: number for number, symbol in enumerate(_SYMBOLS) if number > 0}


class StructureError(ValueError):
    """A structure that cannot be fingerprinted; the message names the structure and the problem."""


def atomic_number(symbol: str | int) -> int:
    """Return the atomic number of ``symbol`` (a chemical symbol such as ``'Cu'``, or a number)."""
    if isinstance(symbol, (int, np.integer)):
        number = int(symbol)
        if not 1 <= number <= MAX_ATOMIC_NUMBER:
            raise StructureError(f'unknown element: atomic number {number} is outside 1..{MAX_ATOMIC_NUMBER}')
        return number
    try:
        return _NUMBERS[str(symbol).strip().capitalize()]
    except KeyError:
        raise StructureError(
            f'unknown element: {symbol!r} is not a chemical symbol of Z = 1..{MAX_ATOMIC_NUMBER}'
        ) from None


def chemical_symbol(number: int) -> str:
    """Return the chemical symbol of atomic number ``number``."""
    return _SYMBOLS[atomic_number(int(number))]


@dataclasses.dataclass(frozen=True, eq=False)
class AtomicStructure:
    """A structure: ``cell`` rows are lattice vectors (angstrom), ``positions`` Cartesian (angstrom).

    ``label`` names the structure in error messages (a file name, a node's uuid, a dataset item).
    ``info`` carries free metadata (source, defect kind, seed, ...); it never affects the physics.
    ``pbc``: along which cell vectors the structure is periodic (default: all three, a bulk crystal). A finite
    cluster (a nanoparticle, a molecule) has ``pbc`` all False and may have a zero cell; a slab is periodic along two.
    """

    cell: np.ndarray
    positions: np.ndarray
    numbers: np.ndarray
    label: str = 'structure'
    info: dict = dataclasses.field(default_factory=dict)
    pbc: tuple[bool, bool, bool] = (True, True, True)

    def __post_init__(self):
        pbc = np.broadcast_to(np.asarray(self.pbc, dtype=bool), (3,))
        object.__setattr__(self, 'pbc', tuple(bool(p) for p in pbc))
        object.__setattr__(self, 'cell', np.ascontiguousarray(self.cell, dtype=np.float64).reshape(3, 3))
        object.__setattr__(self, 'positions', np.ascontiguousarray(self.positions, dtype=np.float64).reshape(-1, 3))
        object.__setattr__(self, 'numbers', np.ascontiguousarray(self.numbers, dtype=np.int64).reshape(-1))
        if len(self.numbers) != len(self.positions):
            raise StructureError(
                f'{self.label}: {len(self.positions)} positions but {len(self.numbers)} atomic numbers'
            )

    def __len__(self) -> int:
        return len(self.numbers)

    def __repr__(self) -> str:
        return f'<AtomicStructure {self.label!r}: {self.formula}, {len(self)} atoms>'

    @property
    def volume(self) -> float:
        return float(abs(np.linalg.det(self.cell)))

    @property
    def periodic(self) -> bool:
        """Whether the structure is periodic along all three cell vectors (a bulk crystal's cell)."""
        return all(self.pbc)

    @property
    def symbols(self) -> list[str]:
        return [_SYMBOLS[int(z)] for z in self.numbers]

    @property
    def formula(self) -> str:
        if len(self) == 0:
            return '(empty)'
        values, counts = np.unique(self.numbers, return_counts=True)
        return ''.join(f'{_SYMBOLS[int(z)]}{c if c > 1 else ""}' for z, c in zip(values, counts, strict=True))

    @property
    def scaled_positions(self) -> np.ndarray:
        return np.linalg.solve(self.cell.T, self.positions.T).T

    def replace(self, **changes: Any) -> AtomicStructure:
        """Return a copy with some fields changed (``info`` is copied, never shared)."""
        changes.setdefault('info', dict(self.info))
        return dataclasses.replace(self, **changes)

    def validate(self, min_atoms: int = 1) -> AtomicStructure:
        """Check that the structure can be fingerprinted; raise :class:`StructureError` naming the problem.

        Checks: at least ``min_atoms`` atoms, finite cell and positions, cell vectors that span the periodic
        directions (a non-zero volume for a bulk crystal), known elements, no two atoms closer than
        ``MIN_INTERATOMIC_DISTANCE`` (periodic images included). A finite cluster (``pbc`` all False) needs at least
        two atoms and no cell.
        """
        name = self.label
        if len(self) == 0:
            raise StructureError(f'{name}: the structure is empty (no atoms)')
        if not np.all(np.isfinite(self.positions)):
            raise StructureError(f'{name}: atomic positions contain NaN or infinite values')
        if not np.all(np.isfinite(self.cell)):
            raise StructureError(f'{name}: the cell contains NaN or infinite values')
        pbc = np.array(self.pbc)
        if self.periodic and self.volume < 1e-6:
            if len(self) == 1:
                raise StructureError(
                    f'{name}: a single isolated atom (no periodic cell) has no crystal structure to fingerprint'
                )
            raise StructureError(f'{name}: the cell has zero volume (degenerate or missing lattice vectors)')
        if pbc.any() and not self.periodic:
            periodic = self.cell[pbc]
            if np.linalg.matrix_rank(periodic, tol=1e-6 * max(1.0, float(np.abs(periodic).max()))) < pbc.sum():
                raise StructureError(
                    f'{name}: the cell vectors of the periodic directions {np.flatnonzero(pbc).tolist()} are zero or '
                    'parallel'
                )
        if not pbc.any() and len(self) == 1:
            raise StructureError(f'{name}: a single isolated atom has no crystal structure to fingerprint')
        bad = [int(z) for z in np.unique(self.numbers) if not 1 <= z <= MAX_ATOMIC_NUMBER]
        if bad:
            raise StructureError(f'{name}: unknown element(s) with atomic number {bad} (known: 1..{MAX_ATOMIC_NUMBER})')
        if len(self) < min_atoms:
            raise StructureError(f'{name}: {len(self)} atom(s), but at least {min_atoms} are needed here')
        if self.periodic:
            width = float(cell_heights(self.cell).min())
            if width < 2 * MIN_INTERATOMIC_DISTANCE:
                raise StructureError(
                    f'{name}: the cell is only {width:.3g} A thick, so atoms overlap their own periodic images'
                )
        distance, i, j = _closest_pair(self)
        if distance < MIN_INTERATOMIC_DISTANCE:
            raise StructureError(
                f'{name}: atoms {i} and {j} overlap (distance {distance:.3g} A < {MIN_INTERATOMIC_DISTANCE} A)'
            )
        return self


def _closest_pair(structure: AtomicStructure) -> tuple[float, int, int]:
    """Return the closest pair of atoms closer than ``MIN_INTERATOMIC_DISTANCE``, or (inf, 0, 0) when none is.

    Linear in the number of atoms (:func:`.neighbours.overlapping_pair`: a k-d tree over the atoms and their periodic
    images within that distance of the cell), where an all-pairs loop grew as N^2.
    """
    from .neighbours import overlapping_pair

    if len(structure) < 2 and not any(structure.pbc):
        return (np.inf, 0, 0)
    pair = overlapping_pair(structure, MIN_INTERATOMIC_DISTANCE)
    return (np.inf, 0, 0) if pair is None else pair


def supercell(structure: AtomicStructure, matrix: Any) -> AtomicStructure:
    """Return the same periodic structure in the cell ``matrix @ structure.cell`` (``matrix``: 3 x 3 integers).

    The rows of the new cell are integer combinations of the old cell's rows, so the infinite crystal is unchanged:
    only the cell it is presented in (and the number of atoms in that cell, ``|det matrix|`` times as many) changes.
    Atoms are wrapped into the new cell; their order is by image, then by the original order.
    """
    matrix = np.asarray(matrix)
    if matrix.shape == ():
        matrix = np.full(3, matrix)
    if matrix.shape == (3,):
        matrix = np.diag(matrix)
    if matrix.shape != (3, 3) or not np.all(np.round(matrix) == matrix):
        raise ValueError(f'{structure.label}: a supercell matrix must be 3 x 3 integers, got {matrix.tolist()}')
    matrix = np.round(matrix).astype(np.int64)
    det = round(abs(np.linalg.det(matrix)))
    if det == 0:
        raise ValueError(f'{structure.label}: the supercell matrix {matrix.tolist()} is singular')
    corners = np.array([[i, j, k] for i in (0, 1) for j in (0, 1) for k in (0, 1)]) @ matrix
    grid = np.stack(
        np.meshgrid(
            *(np.arange(lo, hi + 1) for lo, hi in zip(corners.min(0), corners.max(0), strict=True)), indexing='ij'
        ),
        axis=-1,
    ).reshape(-1, 3)
    frac = structure.scaled_positions
    # Snap to the integer first: x - floor(x) of an x a hair below an integer is 1 - eps, which the snapping of
    # new_frac below would turn into 1 and drop.
    frac = np.where(np.abs(frac - np.round(frac)) < 1e-9, np.round(frac), frac)
    frac = frac - np.floor(frac)
    candidates = (grid[:, None, :] + frac[None, :, :]).reshape(-1, 3)  # in old fractional coordinates
    new_frac = candidates @ np.linalg.inv(matrix.astype(np.float64))
    new_frac = np.where(np.abs(new_frac - np.round(new_frac)) < 1e-9, np.round(new_frac), new_frac)
    keep = np.all((new_frac >= 0) & (new_frac < 1), axis=1)
    numbers = np.tile(structure.numbers, len(grid))[keep]
    if len(numbers) != det * len(structure):
        raise ValueError(
            f'{structure.label}: supercell {matrix.tolist()} gave {len(numbers)} atoms, expected {det * len(structure)}'
        )
    cell = matrix @ structure.cell
    return structure.replace(cell=cell, positions=new_frac[keep] @ cell, numbers=numbers)


def integer_grid(low: Any, high: Any) -> np.ndarray:
    """Return every integer triple (i, j, k) with low <= (i, j, k) <= high, as float64 rows, i slowest (read-only).

    The order of ``np.stack(np.meshgrid(..., indexing='ij'), -1).reshape(-1, 3)``; memoised on the bounds (the cell
    translations searched for each structure repeat the same few ranges).
    """
    bounds = tuple(int(v) for v in np.ravel(low)) + tuple(int(v) for v in np.ravel(high))
    return _integer_grid(bounds)


@functools.lru_cache(maxsize=256)
def _integer_grid(bounds: tuple[int, ...]) -> np.ndarray:
    ranges = (range(lo, hi + 1) for lo, hi in zip(bounds[:3], bounds[3:], strict=True))
    grid = np.array(list(itertools.product(*ranges)), dtype=np.float64).reshape(-1, 3)
    grid.flags.writeable = False
    return grid


def median(values: np.ndarray) -> float:
    """``np.median`` of a 1-d array: the same number, at a tenth of its overhead on the short arrays of a structure."""
    ordered = np.sort(np.asarray(values, dtype=np.float64).ravel())
    m = len(ordered)
    if m == 0:
        return float('nan')
    middle = m // 2
    return float(ordered[middle]) if m % 2 else float((ordered[middle - 1] + ordered[middle]) / 2.0)


def cell_heights(cell: Any) -> np.ndarray:
    """Return the distances between opposite faces of a cell (volume / face area); inf across a face of zero area.

    Row i is the height along cell vector i (the face spanned by the other two). Scalar arithmetic on the nine numbers:
    the fingerprint asks for the heights several times per structure, where ``np.cross``, ``np.linalg.norm`` and
    ``np.linalg.det`` on a 3 x 3 array cost about 100 microseconds together.
    """
    (a1, a2, a3), (b1, b2, b3), (c1, c2, c3) = np.asarray(cell, dtype=np.float64).reshape(3, 3).tolist()
    crosses = (  # b x c, c x a, a x b: the faces opposite a, b and c
        (b2 * c3 - b3 * c2, b3 * c1 - b1 * c3, b1 * c2 - b2 * c1),
        (c2 * a3 - c3 * a2, c3 * a1 - c1 * a3, c1 * a2 - c2 * a1),
        (a2 * b3 - a3 * b2, a3 * b1 - a1 * b3, a1 * b2 - a2 * b1),
    )
    bc = crosses[0]
    volume = abs(a1 * bc[0] + a2 * bc[1] + a3 * bc[2])
    heights = []
    for x, y, z in crosses:
        area = math.sqrt(x * x + y * y + z * z)
        heights.append(volume / area if area > 0 else math.inf)
    return np.array(heights)


def to_atomic_structure(obj: Any, label: str | None = None) -> AtomicStructure:
    """Convert a pymatgen ``Structure``, ASE ``Atoms``, AiiDA ``StructureData`` or mapping into the internal form.

    A mapping needs the keys ``cell``, ``positions`` (Cartesian) and ``numbers`` (or ``symbols``).
    """
    if isinstance(obj, AtomicStructure):
        return obj if label is None else obj.replace(label=label)
    module = type(obj).__module__
    if isinstance(obj, dict):
        numbers = obj.get('numbers')
        if numbers is None:
            numbers = [atomic_number(s) for s in obj['symbols']]
        cell = obj.get('cell')
        return AtomicStructure(
            np.zeros((3, 3)) if cell is None else cell,
            obj['positions'],
            numbers,
            label or obj.get('label', 'structure'),
            pbc=obj.get('pbc', (True, True, True) if cell is not None else (False, False, False)),
        )
    if module.startswith('pymatgen'):
        return _from_pymatgen(obj, label)
    if module.startswith('ase'):
        return _from_ase(obj, label)
    if module.startswith('aiida'):
        return _from_aiida(obj, label)
    raise TypeError(
        f'cannot convert an object of type {type(obj).__name__} to a structure: pass a pymatgen Structure, an ASE '
        'Atoms, an AiiDA StructureData or an AtomicStructure'
    )


def _from_pymatgen(structure: Any, label: str | None) -> AtomicStructure:
    """A pymatgen ``Structure`` (periodic) or ``Molecule`` (a finite cluster: no cell, ``pbc`` all False)."""
    numbers = []
    for site in structure:
        if not site.is_ordered:
            raise StructureError(
                f'{label or structure.formula}: disordered (partially occupied) sites are not supported'
            )
        numbers.append(atomic_number(site.specie.Z if hasattr(site.specie, 'Z') else str(site.specie)))
    name = label or structure.composition.reduced_formula
    if not hasattr(structure, 'lattice'):  # a Molecule
        return AtomicStructure(np.zeros((3, 3)), structure.cart_coords, numbers, name, pbc=(False, False, False))
    pbc = getattr(structure.lattice, 'pbc', (True, True, True))
    return AtomicStructure(structure.lattice.matrix, structure.cart_coords, numbers, name, pbc=pbc)


def _formula(numbers: np.ndarray) -> str:
    """Hill-ordered formula of the atomic numbers (cheaper than ASE's for a million atoms)."""
    values, counts = np.unique(np.asarray(numbers, dtype=np.int64), return_counts=True)
    symbols = {_SYMBOLS[int(z)]: int(c) for z, c in zip(values, counts, strict=True) if 1 <= z <= MAX_ATOMIC_NUMBER}
    order = (['C', 'H'] if 'C' in symbols else []) + sorted(s for s in symbols if 'C' not in symbols or s not in 'CH')
    return ''.join(f'{s}{symbols[s] if symbols[s] > 1 else ""}' for s in order if s in symbols)


def _from_ase(atoms: Any, label: str | None) -> AtomicStructure:
    numbers = atoms.get_atomic_numbers()
    if np.any(numbers < 1) or np.any(numbers > MAX_ATOMIC_NUMBER):
        bad = sorted({int(z) for z in numbers if not 1 <= z <= MAX_ATOMIC_NUMBER})
        raise StructureError(f'{label or atoms.get_chemical_formula()}: unknown element(s) with atomic number {bad}')
    return AtomicStructure(
        np.array(atoms.get_cell()),
        atoms.get_positions(),
        numbers,
        label or _formula(numbers) or 'atoms',
        pbc=tuple(bool(p) for p in atoms.get_pbc()),
    )


def _from_aiida(node: Any, label: str | None) -> AtomicStructure:
    # Read the raw attributes once: building Kind and Site objects costs several milliseconds per 128-atom node,
    # more than its fingerprint, and the AiiDA layer converts every structure it classifies.
    attributes = node.base.attributes.all
    name = label or f'StructureData<{node.uuid}>'
    numbers_of_kind = {}
    for kind in attributes.get('kinds', []):
        if len(kind['symbols']) != 1 or sum(kind['weights']) < 1.0 - 1e-8:
            raise StructureError(f'{name}: alloy or vacancy kinds ({kind["name"]}) are not supported')
        numbers_of_kind[kind['name']] = atomic_number(kind['symbols'][0])
    sites = attributes.get('sites', [])
    numbers = [numbers_of_kind[site['kind_name']] for site in sites]
    positions = np.array([site['position'] for site in sites], dtype=float).reshape(-1, 3)
    pbc = tuple(bool(attributes.get(f'pbc{i}', True)) for i in (1, 2, 3))
    return AtomicStructure(np.array(attributes['cell'], dtype=float), positions, numbers, name, pbc=pbc)


def read_structures(path: str | os.PathLike, fmt: str | None = None) -> list[AtomicStructure]:
    """Read every frame of a structure file (CIF, POSCAR, extxyz, and any format ASE or pymatgen reads).

    Frames are labelled ``file`` for a single frame and ``file@i`` for frame ``i`` of a trajectory.
    Raises :class:`StructureError` naming the file when it is missing or cannot be parsed.
    """
    path = Path(path)
    if not path.is_file():
        what = 'a folder, not a file' if path.is_dir() else 'no such file'
        raise StructureError(f'{path}: {what}; give the path of a structure file (CIF, POSCAR, extxyz, ...)')
    if path.stat().st_size == 0:
        raise StructureError(f'{path}: the file is empty; give a structure file (CIF, POSCAR, extxyz, ...)')
    errors = []
    try:
        import ase.io

        frames = ase.io.read(str(path), index=':', format=fmt)
        frames = frames if isinstance(frames, list) else [frames]
        if frames:
            return _label_frames([_from_ase(atoms, path.name) for atoms in frames], path.name)
        errors.append('ASE found no structure in it')
    except StructureError:
        raise
    except KeyError as exception:
        # ASE's readers raise KeyError(symbol) for a chemical symbol they do not know.
        symbol = str(exception.args[0]) if exception.args else ''
        if symbol and symbol.isalpha() and symbol.capitalize() not in _NUMBERS:
            raise StructureError(
                f'{path}: unknown element {symbol!r} (not a chemical symbol of Z = 1..{MAX_ATOMIC_NUMBER}); '
                'correct the element names in the file'
            ) from None
        errors.append(f'ASE: {_describe(exception, path)}')
    except Exception as exception:
        errors.append(f'ASE: {_describe(exception, path)}')
    try:
        from pymatgen.core import Structure

        structure = Structure.from_file(str(path))
        return [_from_pymatgen(structure, path.name)]
    except StructureError:
        raise
    except Exception as exception:
        errors.append(f'pymatgen: {_describe(exception, path)}')
    raise StructureError(
        f'{path}: not a structure file that ASE or pymatgen can read (tried both: {"; ".join(errors)}). Check that it '
        'is a structure file (CIF, POSCAR/CONTCAR, extxyz, or another format ASE reads) and that its name tells the '
        'format (e.g. Cu.cif, POSCAR, md.extxyz).'
    )


def _describe(exception: Exception, path: Path) -> str:
    """What a reader's exception says, in words: its message, or its type when the message is empty or a bare name."""
    text = str(exception).strip().strip('\'"')
    kind = type(exception).__name__
    if kind == 'UnknownFileTypeError' or text == path.suffix.lstrip('.'):
        return f'no reader for the file type {path.suffix or path.name!r}'
    if 'Unrecognized extension' in text:
        return f'does not know the file type {path.suffix or path.name!r}'
    if not text:
        return f'its reader failed ({kind}, with no message)'
    return text if len(text) <= 200 else text[:200] + '...'


def _label_frames(frames: Sequence[AtomicStructure], name: str) -> list[AtomicStructure]:
    if len(frames) == 1:
        return [frames[0].replace(label=name)]
    return [frame.replace(label=f'{name}@{i}') for i, frame in enumerate(frames)]


def as_structures(objs: Iterable[Any]) -> list[AtomicStructure]:
    """Convert each object with :func:`to_atomic_structure`."""
    return [to_atomic_structure(obj) for obj in objs]


#: Format of the files of :func:`save_structures`.
STRUCTURES_FORMAT = 'aiida-crystalface-structures'
STRUCTURES_FORMAT_VERSION = 1


def save_structures(
    path: str | os.PathLike, structures: Sequence[AtomicStructure], *, compact: bool = False, extra: Any = None
) -> Path:
    """Write ``structures`` (with their labels, ``info`` and ``pbc``) to one compressed ``.npz`` file; see
    :func:`load_structures`. No pickle: arrays and JSON text only, so loading a file never runs code.

    ``compact``: positions as 16-bit fractional coordinates (wrapped into the cell; a resolution of 1/65536 of each
    cell vector, under 0.001 angstrom for cells under 65 angstrom) instead of float64 Cartesian ones, about a third
    of the size, for periodic structures only (a structure with a non-periodic axis raises :class:`StructureError`).
    The rounding is small but not nothing: the orientation step's coherence test sits exactly on the structure
    factor of some ideal crystals (A15: ``|F| = N / 2``), and a rounded A15 crystal's lattice can go unfound where the
    exact one's is found (docs/bulk.md, "Network 4").
    ``info`` must be JSON-serialisable (tuples come back as lists). ``extra``: JSON-serialisable data stored with
    them (how they were made), returned by :func:`load_structures` with ``extra=True``.
    """
    import json

    path = Path(path)
    structures = list(structures)
    counts = np.array([len(s) for s in structures], dtype=np.int64)
    numbers = np.concatenate([s.numbers for s in structures]) if structures else np.zeros(0, dtype=np.int64)
    cells = np.array([s.cell for s in structures], dtype=np.float64).reshape(-1, 3, 3)
    arrays: dict[str, Any] = {
        'counts': counts,
        'numbers': numbers.astype(np.uint8),
        'cells': cells,
        'pbc': np.array([s.pbc for s in structures], dtype=bool).reshape(-1, 3),
    }
    if compact:
        fractions = []
        for structure in structures:
            if not all(structure.pbc):
                raise StructureError(
                    f'{structure.label}: not periodic along every axis (pbc {structure.pbc}); compact=True stores '
                    'fractional coordinates, which need a periodic cell: save it with compact=False'
                )
            frac = np.linalg.solve(structure.cell.T, structure.positions.T).T
            fractions.append(np.round((frac % 1.0) * 65536.0).astype(np.int64) % 65536)
        arrays['fractions'] = (np.concatenate(fractions) if fractions else np.zeros((0, 3))).astype(np.uint16)
    else:
        arrays['positions'] = (
            np.concatenate([s.positions for s in structures]) if structures else np.zeros((0, 3), dtype=np.float64)
        )
    header = {
        'format': STRUCTURES_FORMAT,
        'format_version': STRUCTURES_FORMAT_VERSION,
        'labels': [s.label for s in structures],
        'info': [s.info for s in structures],
        'extra': extra,
    }
    try:
        text = json.dumps(header)
    except TypeError as exception:
        raise StructureError(f"{path}: the structures' info is not JSON-serialisable ({exception})") from None
    arrays['header'] = np.frombuffer(text.encode(), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, 'wb') as stream:
        np.savez_compressed(stream, **arrays)
    return path


def load_structures(path: str | os.PathLike, *, extra: bool = False):
    """The structures of a file written by :func:`save_structures` (and, with ``extra=True``, ``(structures,
    extra)``). Raises :class:`StructureError` naming the file when it is missing or is not such a file."""
    import json
    import zipfile

    path = Path(path)
    if not path.is_file():
        raise StructureError(f'{path}: no such file (a structures file written by save_structures)')
    try:
        with np.load(path, allow_pickle=False) as data:
            header = json.loads(bytes(data['header']).decode())
            if header.get('format') != STRUCTURES_FORMAT:
                raise KeyError('format')
            if int(header.get('format_version', 0)) > STRUCTURES_FORMAT_VERSION:
                raise StructureError(
                    f'{path}: structures file format version {header["format_version"]} is newer than this package '
                    f'reads ({STRUCTURES_FORMAT_VERSION}); update aiida-crystalface'
                )
            counts, numbers, cells, pbc = (data[k] for k in ('counts', 'numbers', 'cells', 'pbc'))
            fractions = data['fractions'] if 'fractions' in data.files else None
            positions = None if fractions is not None else data['positions']
    except StructureError:
        raise
    except (KeyError, ValueError, OSError, zipfile.BadZipFile, UnicodeDecodeError) as exception:
        raise StructureError(
            f'{path}: not a structures file written by save_structures ({type(exception).__name__}: {exception})'
        ) from None
    ends = np.cumsum(counts)
    structures = []
    for i, (end, count) in enumerate(zip(ends, counts, strict=True)):
        rows = slice(int(end - count), int(end))
        if fractions is not None:
            xyz = (fractions[rows].astype(np.float64) / 65536.0) @ cells[i]
        else:
            xyz = positions[rows]
        structures.append(
            AtomicStructure(
                cells[i],
                xyz,
                numbers[rows].astype(np.int64),
                label=header['labels'][i],
                info=header['info'][i],
                pbc=tuple(bool(p) for p in pbc[i]),
            )
        )
    return (structures, header.get('extra')) if extra else structures
