"""The two-dimensional diffraction fingerprint D(q) (paper, Eq. 1-2) and its settings.

Geometry (defaults = the paper's; ``docs/fingerprint.md`` has the figure and the derivations):

* A plane wave of wavelength ``wavelength`` travels along +z and hits a flat detector of ``pixels`` x ``pixels``
  square pixels of side ``pixel_size`` at ``distance`` along z. Image row ``i`` is y, column ``j`` is x; the beam
  hits the detector centre, pixel ((pixels - 1) / 2, (pixels - 1) / 2) = (31.5, 31.5), between four pixels.
* Pixel offsets (px, py) from the centre give p = sqrt(px^2 + py^2 + D^2) and the scattering vector on the Ewald
  sphere H = (1/lambda) (px/p, py/p, D/p - 1), q = 2 pi H, expressed in 1/angstrom.
* The cluster (:mod:`.cluster`: lattice-aligned, centred, positions in units of the mean nearest-neighbour distance
  and read as angstrom, as the original did) is rotated by ``rotation_deg`` = +45 degrees about the y axis, a
  right-handed rotation (:func:`rotation_matrix`: x' = R x, R = [[c, 0, s], [0, 1, 0], [-s, 0, c]]), so the beam
  (+z) makes 45 degrees with the crystal's x and z axes and is perpendicular to its y axis ("45 degrees to one
  axis, in the plane of two").
  The kernels rotate the scattering vectors instead of the atoms: H . (R x) = (R^T H) . x.
* Eq. 1: Psi(q) = sum_atoms f_Z(|H|) exp(-i q . x) with the Waasmaier-Kirfel form factors (:mod:`.scattering`); the
  constant r0 / r of the paper cancels in the normalisation and is dropped.
* Eq. 2: D = A Omega |Psi|^gamma, Omega = pixel_size^2 D / p^3 the solid angle of the pixel (when
  ``solid_angle``), A such that the brightest unmasked pixel is 1; masked pixels are 0.
* Mask: pixels whose centre lies closer than ``mask_inner`` pixels to the beam centre, or farther than
  ``mask_outer``, are 0. ``mask_inner = 4``: the undiffracted beam (the q = 0 peak of a 128-atom cluster, N times
  brighter than any Bragg peak in amplitude) is about 2.5 pixels wide to its first zero (one pixel is 0.08 / angstrom,
  the cluster is about 5 nearest-neighbour distances across), while the nearest Bragg spots of the four cubic classes
  sit 9 (diamond 111) to 25 pixels from the centre, so 4 pixels remove the beam without touching a spot (the later
  original code used 10, which hides diamond's 111 spots). ``mask_outer = 32``: the disc inscribed in the detector,
  which removes the corners, where only some azimuths reach, so the image is the same disc of reciprocal space in
  every direction (the original used 30).

**Three channels** (``channels = 3``; ``docs/fingerprint.md``, "Any lattice"): one image per crystal axis a = x, y,
z, the sum of the patterns of the rotations by +``rotation_deg`` and -``rotation_deg`` about a, so that the beam is
perpendicular to a and makes 45 degrees with the two other axes. Channel a is the paper's geometry applied to the
cluster with its axes renamed cyclically so that a plays the role of y (:data:`VIEWS`: a proper rotation, a
symmetry of every cubic crystal, so the three channels of a cubic crystal are equal but for the finite block); the
y channel's +45 part is the one-channel image. The six patterns are computed in one call of the kernel (six blocks
of pixels) and normalised together: the brightest pixel of the whole (3, H, W) image is 1.

The hot path is Numba: :func:`_batch_kernel` runs in parallel over structures; within a structure, atoms are grouped
by species (one form factor per species and pixel) and the phase is reduced to turns in [-1/2, 1/2] and expanded in
polynomials, plain arithmetic that LLVM vectorises (no SVML here, so ``np.sin`` in a loop would not).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

import numpy as np

from .cluster import ORIENTATIONS, Cluster, build_cluster
from .scattering import form_factor
from .structures import StructureError

__all__ = (
    'BatchResult',
    'FingerprintSettings',
    'fingerprint',
    'fingerprint_batch',
    'fingerprint_clusters',
    'fingerprints',
    'rotation_matrix',
)

ANGSTROM = 1.0e-10
#: The fields added after the paper's settings, with their defaults. A field at its default is left out of
#: :meth:`FingerprintSettings.to_dict` and so of :attr:`FingerprintSettings.hash`: the settings of the paper keep the
#: hash and the stored dictionaries they had before the field existed.
NEW_FIELDS = {'channels': 1}
#: Three-channel images: the axis each channel is viewed across, and the cyclic renaming of the cluster's axes
#: (x' = P x) that puts that axis where the one-channel geometry has y. Both are proper rotations (det +1).
VIEWS = {
    'x': np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]),  # (x', y', z') = (z, x, y)
    'y': np.eye(3),
    'z': np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]),  # (x', y', z') = (y, z, x)
}


@dataclasses.dataclass(frozen=True)
class FingerprintSettings:
    """Everything that determines a fingerprint (frozen, hashable; ``.hash`` is stable across runs and machines).

    Lengths in metres (the detector) except where named; radii of the mask in pixels. ``orientation`` is how the
    structure is turned before its cluster is cut (:mod:`.cluster`): ``'lattice'`` (default: the lattice found from
    the structure's own diffraction, any cell, any orientation, defects or not), ``'spglib'`` (spglib's standard
    cell when it finds a cubic group, at ``symprec``), ``'none'`` (the cell as given, for standardised cells) or
    ``'standard'`` (the lattice found, in the standard conventional orientation of its crystal system:
    :func:`.orientation.standard_setting`). ``channels``: 1 (the paper's one image) or 3 (one image per crystal axis,
    the patterns of +/- ``rotation_deg`` about it summed; ``rotation_axis`` must then be left at ``'y'``).
    """

    wavelength: float = 5.0e-12
    pixels: int = 64
    pixel_size: float = 4.0e-4
    distance: float = 0.1
    rotation_axis: str = 'y'
    rotation_deg: float = 45.0
    gamma: float = 1.5
    solid_angle: bool = True
    mask_inner: float = 4.0
    mask_outer: float = 32.0
    target_atoms: int = 128
    orientation: str = 'lattice'
    symprec: float = 1e-3
    channels: int = 1

    def __post_init__(self):
        positive = ('wavelength', 'pixel_size', 'distance', 'gamma', 'symprec')
        for name in positive:
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and np.isfinite(value) and value > 0):
                raise ValueError(f'FingerprintSettings.{name} must be a positive number, not {value!r}')
        if int(self.pixels) != self.pixels or self.pixels < 2:
            raise ValueError(f'FingerprintSettings.pixels must be an integer >= 2, not {self.pixels!r}')
        if int(self.target_atoms) != self.target_atoms or self.target_atoms < 2:
            raise ValueError(f'FingerprintSettings.target_atoms must be an integer >= 2, not {self.target_atoms!r}')
        if self.orientation not in ORIENTATIONS:
            raise ValueError(f'FingerprintSettings.orientation must be one of {ORIENTATIONS}, not {self.orientation!r}')
        if self.rotation_axis not in ('x', 'y', 'z'):
            raise ValueError(f"FingerprintSettings.rotation_axis must be 'x', 'y' or 'z', not {self.rotation_axis!r}")
        if isinstance(self.channels, bool) or self.channels not in (1, 3):
            raise ValueError(f'FingerprintSettings.channels must be 1 or 3, not {self.channels!r}')
        if self.channels == 3 and self.rotation_axis != 'y':
            raise ValueError(
                'FingerprintSettings: with channels=3 every axis is a rotation axis in turn; leave rotation_axis '
                f"at 'y', not {self.rotation_axis!r}"
            )
        if not 0 <= self.mask_inner < self.mask_outer:
            raise ValueError(
                f'FingerprintSettings: need 0 <= mask_inner < mask_outer, got {self.mask_inner} and {self.mask_outer}'
            )

    @property
    def image_shape(self) -> tuple[int, ...]:
        """(pixels, pixels), or (3, pixels, pixels) with ``channels=3``."""
        square = (int(self.pixels), int(self.pixels))
        return square if self.channels == 1 else (int(self.channels), *square)

    def to_dict(self) -> dict[str, Any]:
        """The settings as a dict; the fields of :data:`NEW_FIELDS` only where they differ from their defaults."""
        data = dataclasses.asdict(self)
        for name, default in NEW_FIELDS.items():
            if data[name] == default:
                del data[name]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FingerprintSettings:
        data = dict(data)
        if 'standardize' in data and 'orientation' not in data:  # the setting before the orientation step
            data['orientation'] = 'spglib' if data.pop('standardize') else 'none'
        known = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known - {'hash'})
        if unknown:
            raise ValueError(f'FingerprintSettings.from_dict: unknown setting(s) {unknown}')
        return cls(**{key: value for key, value in data.items() if key in known})

    @property
    def hash(self) -> str:
        """First 16 hex digits of the SHA-256 of the canonical JSON of the settings."""
        payload = {
            key: (float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v)
            for key, v in self.to_dict().items()
        }
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def rotation_matrix(axis: str, degrees: float) -> np.ndarray:
    """Return the right-handed rotation matrix by ``degrees`` about ``axis`` (acting on column vectors)."""
    t = np.deg2rad(degrees)
    c, s = np.cos(t), np.sin(t)
    i, j = {'x': (1, 2), 'y': (2, 0), 'z': (0, 1)}[axis]
    matrix = np.eye(3)
    matrix[i, i] = matrix[j, j] = c
    matrix[j, i], matrix[i, j] = s, -s
    return matrix


class _Geometry(NamedTuple):
    kept: np.ndarray  # flat indices of unmasked pixels
    hx: np.ndarray  # float32, rotated scattering vectors of the kept pixels, 1/angstrom
    hy: np.ndarray
    hz: np.ndarray
    h: np.ndarray  # float64 |H|
    omega: np.ndarray  # float32 solid angle (1 when solid_angle is off)


@functools.lru_cache(maxsize=16)
def _geometry(settings: FingerprintSettings) -> _Geometry:
    n = int(settings.pixels)
    centre = (n - 1) / 2.0
    rows, cols = np.meshgrid(np.arange(n) - centre, np.arange(n) - centre, indexing='ij')
    px, py = cols.ravel() * settings.pixel_size, rows.ravel() * settings.pixel_size
    p = np.sqrt(px**2 + py**2 + settings.distance**2)
    vectors = np.stack([px / p, py / p, settings.distance / p - 1.0], axis=1) / settings.wavelength * ANGSTROM
    radius = np.hypot(rows, cols).ravel()
    kept = np.flatnonzero((radius >= settings.mask_inner) & (radius <= settings.mask_outer))
    omega = settings.pixel_size**2 * settings.distance / p**3 if settings.solid_angle else np.ones_like(p)
    omega = omega / omega.max()  # a constant factor, cancelled by the normalisation; keeps float32 in range
    f32 = lambda a: np.ascontiguousarray(a, dtype=np.float32)  # noqa: E731
    if settings.channels == 1:
        rotated = vectors @ rotation_matrix(settings.rotation_axis, settings.rotation_deg)  # rows: R^T H
        h = np.linalg.norm(rotated, axis=1)
        return _Geometry(
            kept, f32(rotated[kept, 0]), f32(rotated[kept, 1]), f32(rotated[kept, 2]), h[kept], f32(omega[kept])
        )
    # Six blocks of the kept pixels: channel x (+, -), y (+, -), z (+, -). The cluster seen in view a is P_a x, rotated
    # by R: H . (R P_a x) = (P_a^T R^T H) . x, rows vectors @ R @ P_a.
    blocks = [
        (vectors @ rotation_matrix('y', sign * settings.rotation_deg) @ VIEWS[axis])[kept]
        for axis in 'xyz'
        for sign in (1.0, -1.0)
    ]
    rotated = np.concatenate(blocks)
    h = np.linalg.norm(rotated, axis=1)  # |H| is the same in every block
    return _Geometry(kept, f32(rotated[:, 0]), f32(rotated[:, 1]), f32(rotated[:, 2]), h, f32(np.tile(omega[kept], 6)))


def _load_kernels():
    from . import _kernels

    return _kernels


def fingerprint_clusters(clusters: Sequence[Cluster], settings: FingerprintSettings | None = None) -> np.ndarray:
    """Return the fingerprints (N, H, W) float32 of clusters built already (:func:`.cluster.build_cluster`).

    (N, 3, H, W) with ``settings.channels == 3``.
    """
    settings = settings or FingerprintSettings()
    geometry = _geometry(settings)
    images = np.zeros((len(clusters), *settings.image_shape), dtype=np.float32)
    if not clusters:
        return images
    species = np.unique(np.concatenate([c.numbers for c in clusters]))
    table = np.ascontiguousarray(form_factor(species, geometry.h), dtype=np.float32)  # (n_species, n_pixels)
    packed = _pack(clusters, species)
    values = np.empty((len(clusters), len(geometry.h)), dtype=np.float32)
    _load_kernels().batch_kernel(
        geometry.hx, geometry.hy, geometry.hz, geometry.omega, table, *packed, float(settings.gamma), values
    )
    if settings.channels == 1:
        images.reshape(len(clusters), -1)[:, geometry.kept] = values
        return images
    # The kernel scaled all six patterns of a cluster by one factor; the sums are scaled again so the brightest
    # pixel of the (3, H, W) image is 1 (one normalisation for the whole image: docs/fingerprint.md).
    pairs = values.reshape(len(clusters), 3, 2, len(geometry.kept)).sum(axis=2)
    peak = pairs.reshape(len(clusters), -1).max(axis=1)
    pairs /= np.where(peak > 0, peak, 1.0)[:, None, None]
    images.reshape(len(clusters), 3, -1)[:, :, geometry.kept] = pairs
    return images


def _pack(clusters: Sequence[Cluster], species: np.ndarray) -> tuple[np.ndarray, ...]:
    """Concatenate the clusters' atoms, sorted by species within each cluster, into flat arrays for the kernel."""
    positions, group_species, group_start, cluster_groups = [], [], [0], [0]
    for cluster in clusters:
        order = np.argsort(cluster.numbers, kind='stable')
        numbers = cluster.numbers[order]
        positions.append(cluster.positions[order])
        values, counts = np.unique(numbers, return_counts=True)
        group_species.append(np.searchsorted(species, values))
        group_start.extend(group_start[-1] + np.cumsum(counts))
        cluster_groups.append(cluster_groups[-1] + len(values))
    xyz = np.concatenate(positions).astype(np.float32)
    return (
        np.ascontiguousarray(xyz[:, 0]),
        np.ascontiguousarray(xyz[:, 1]),
        np.ascontiguousarray(xyz[:, 2]),
        np.concatenate(group_species).astype(np.int64),
        np.asarray(group_start, dtype=np.int64),
        np.asarray(cluster_groups, dtype=np.int64),
    )


def _cluster(structure: Any, settings: FingerprintSettings) -> Cluster:
    return build_cluster(structure, settings.target_atoms, settings.orientation, settings.symprec)


def fingerprint(structure: Any, settings: FingerprintSettings | None = None) -> np.ndarray:
    """Return the fingerprint (H, W) float32 in [0, 1] of one structure (pymatgen, ASE, AiiDA or internal form).

    (3, H, W) with ``settings.channels == 3``.
    """
    settings = settings or FingerprintSettings()
    return fingerprint_clusters([_cluster(structure, settings)], settings)[0]


class BatchResult(NamedTuple):
    """``images`` (len(ok), H, W) of the structures at indices ``ok``; ``errors`` maps index -> message.

    ``lattices`` (aligned with ``ok``): what the orientation step found for each image
    (:meth:`.orientation.Lattice.to_dict`: ``lattice_found``, ``lattice_score``, ...), ``species_count``, the
    number of elements in the structure's cluster, and ``species_fractions``, their shares of its atoms (largest
    first, to 4 decimals); None where the settings' orientation finds no lattice.
    """

    images: np.ndarray
    ok: list[int]
    errors: dict[int, str]
    lattices: list[dict | None] = []


def _chunks(items: list, size: int) -> Iterable[tuple[int, list]]:
    for start in range(0, len(items), size):
        yield start, items[start : start + size]


#: Clusters per call of the image kernel in :func:`fingerprints` (see :func:`_run`).
PIPELINE_CHUNK = 64


def _run(structures: Iterable[Any], settings: FingerprintSettings, progress: bool, strict: bool) -> BatchResult:
    """Build the clusters in this thread and compute their images in a second one, chunk by chunk.

    The cluster step is per-structure Python and NumPy (one core); the image kernel is Numba, parallel over clusters
    and free of the GIL. Run one after the other, one core idles for most of the batch; pipelined (the images of
    chunk k while the clusters of chunk k + 1 are built) both cores work throughout. Only the worker thread launches
    the parallel kernel, one call at a time, so any Numba threading layer (workqueue included) is safe.
    """
    from concurrent.futures import ThreadPoolExecutor

    structures = list(structures)
    clusters, ok, errors = [], [], {}
    iterator = range(len(structures))
    if progress:
        from tqdm.auto import tqdm

        iterator = tqdm(iterator, desc='fingerprints', unit='structure')
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix='crystalface-images') as images_thread:
        parts, pending = [], []
        for index in iterator:
            try:
                pending.append(_cluster(structures[index], settings))
                ok.append(index)
            except (StructureError, TypeError, ValueError, ArithmeticError) as exception:
                if strict:
                    raise StructureError(f'structure {index}: {exception}') from exception
                errors[index] = f'structure {index}: {exception}'
            if len(pending) == PIPELINE_CHUNK:
                parts.append(images_thread.submit(fingerprint_clusters, pending, settings))
                clusters.extend(pending)
                pending = []
        if pending:
            parts.append(images_thread.submit(fingerprint_clusters, pending, settings))
            clusters.extend(pending)
        images = np.zeros((len(clusters), *settings.image_shape), dtype=np.float32)
        start = 0
        for part in parts:
            chunk = part.result()
            images[start : start + len(chunk)] = chunk
            start += len(chunk)
    lattices = [None if cluster.lattice is None else _lattice_record(cluster) for cluster in clusters]
    return BatchResult(images, ok, errors, lattices)


def _lattice_record(cluster: Cluster) -> dict:
    """What :class:`BatchResult` records of a cluster's lattice, its number of elements and their shares."""
    _, counts = np.unique(cluster.numbers, return_counts=True)
    shares = sorted((round(float(c) / len(cluster.numbers), 4) for c in counts), reverse=True)
    return {**cluster.lattice.to_dict(), 'species_count': int(counts.size), 'species_fractions': shares}


def fingerprints(
    structures: Iterable[Any], settings: FingerprintSettings | None = None, *, progress: bool = False
) -> np.ndarray:
    """Return the fingerprints (N, H, W) of ``structures``, computed in parallel over structures.

    Raises :class:`StructureError` naming the first structure that cannot be fingerprinted (index and label).
    """
    return _run(structures, settings or FingerprintSettings(), progress, strict=True).images


def fingerprint_batch(
    structures: Iterable[Any], settings: FingerprintSettings | None = None, *, progress: bool = False
) -> BatchResult:
    """Like :func:`fingerprints`, but one bad structure never costs the others: see :class:`BatchResult`."""
    return _run(structures, settings or FingerprintSettings(), progress, strict=False)
