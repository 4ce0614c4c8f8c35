"""Datasets of fingerprints on disk: one HDF5 file holding images, labels and per-item metadata.

Layout of a dataset file (``format = 'crystalface-dataset'``, ``format_version = 1``)::

    /images           (N, H, W) float16 (default) or float32, chunked and compressed, values in [0, 1];
                      (N, C, H, W) for fingerprints of C channels (``channels=3``), then ``format_version = 2``
    /labels           (N,) int16, index into the ``classes`` attribute
    /meta/<field>     (N,) one array per metadata field: strings (source, species, defect_kind, ...),
                      floats (defect_level, ...) or integers (seed, n_atoms, pristine_index, ...)
    attrs: format, format_version, classes (JSON list), settings (JSON of FingerprintSettings),
           settings_hash, package_version, description

The stored image shape is that of the settings (``FingerprintSettings.image_shape``). A one-channel file is written
exactly as before (format version 1); a file of C > 1 channels has format version 2, so that an older package, which
would read it as one-channel images, refuses it instead. A reader refuses a file whose images do not have the shape
its stored settings give.

The file is read lazily: :class:`FingerprintDataset` keeps the HDF5 handle open and reads images on demand, so a
dataset of 10^5 images never has to fit in memory. A writer never overwrites an existing file unless told to.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = (
    'LINDEMANN_LEVELS',
    'OTHER',
    'PAPER_VARIANTS',
    'PROTOTYPE_FIELDS',
    'TRANSITION_LEVELS',
    'DatasetError',
    'DatasetWriter',
    'FingerprintDataset',
    'apply_defect',
    'build_defective_dataset',
    'build_lindemann_dataset',
    'build_pristine_dataset',
    'build_prototypes_dataset',
    'build_transition_dataset',
    'distinct_images',
    'open_dataset',
    'replicated_cell',
)

FORMAT = 'crystalface-dataset'
FORMAT_VERSION = 1
#: The format version of files whose images have a channel axis (N, C, H, W); the newest this package reads.
FORMAT_VERSION_CHANNELS = 2


class DatasetError(ValueError):
    """A dataset file that is missing, of the wrong kind or inconsistent."""


def _settings_payload(settings: Any) -> tuple[str, str]:
    """Return ``(json, hash)`` for a FingerprintSettings or a plain mapping of settings."""
    if settings is None:
        return '{}', ''
    if hasattr(settings, 'to_dict'):
        return json.dumps(settings.to_dict(), sort_keys=True), settings.hash
    if isinstance(settings, Mapping):
        payload = json.dumps(dict(settings), sort_keys=True)
        return payload, str(settings.get('hash', ''))
    raise TypeError(f'settings must be a FingerprintSettings or a mapping, not {type(settings).__name__}')


def _settings_image_shape(settings: Any) -> tuple[int, ...] | None:
    """The image shape that fingerprint settings give ((P, P) or (C, P, P)); None for a mapping without ``pixels``
    (synthetic data)."""
    if settings is None:
        return None
    if hasattr(settings, 'image_shape'):
        return tuple(int(n) for n in settings.image_shape)
    if isinstance(settings, Mapping) and 'pixels' in settings:
        pixels, channels = int(settings['pixels']), int(settings.get('channels', 1))
        return (pixels, pixels) if channels == 1 else (channels, pixels, pixels)
    return None


class DatasetWriter:
    """Append fingerprints, labels and metadata to a new dataset file.

    Usage::

        with DatasetWriter(path, classes=['fcc', 'diamond', 'bcc', 'sc'], settings=settings) as writer:
            writer.append(images, labels, {'species': [...], 'defect_kind': [...], 'seed': [...]})

    Metadata fields are fixed by the first call of :meth:`append`; every later call must give the same fields.
    ``image_shape``: (H, W), or (C, H, W) for fingerprints of C channels; by default that of ``settings``
    (``FingerprintSettings.image_shape``), else (64, 64). A shape other than the settings' is refused.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        classes: Sequence[str],
        settings: Any = None,
        *,
        image_shape: tuple[int, ...] | None = None,
        dtype: str = 'float16',
        description: str = '',
        overwrite: bool = False,
    ):
        import h5py

        from aiida_crystalface import __version__

        self.path = Path(path)
        if self.path.exists() and not overwrite:
            raise FileExistsError(f'{self.path}: the file exists; refusing to overwrite it (pass overwrite=True)')
        if dtype not in ('float16', 'float32'):
            raise ValueError(f'dtype must be float16 or float32, not {dtype!r}')
        expected = _settings_image_shape(settings)
        image_shape = tuple(int(n) for n in (image_shape if image_shape is not None else expected or (64, 64)))
        if len(image_shape) not in (2, 3) or min(image_shape) < 1:
            raise ValueError(f'{self.path}: image_shape must be (H, W) or (C, H, W), not {image_shape}')
        if expected is not None and image_shape != expected:
            raise ValueError(f'{self.path}: image_shape {image_shape} is not that of the settings, {expected}')
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.classes = list(classes)
        self._tmp = self.path.with_name(self.path.name + '.partial')
        self._file = h5py.File(self._tmp, 'w')
        settings_json, settings_hash = _settings_payload(settings)
        attrs = self._file.attrs
        attrs['format'] = FORMAT
        attrs['format_version'] = FORMAT_VERSION if len(image_shape) == 2 else FORMAT_VERSION_CHANNELS
        attrs['classes'] = json.dumps(self.classes)
        attrs['settings'] = settings_json
        attrs['settings_hash'] = settings_hash
        attrs['package_version'] = __version__
        attrs['description'] = description
        size = int(np.prod(image_shape))
        self._images = self._file.create_dataset(
            'images',
            shape=(0, *image_shape),
            maxshape=(None, *image_shape),
            dtype=dtype,
            chunks=(min(256, 4096 * 16 // size * 16 or 1), *image_shape),
            compression='lzf',
        )
        self._labels = self._file.create_dataset('labels', shape=(0,), maxshape=(None,), dtype='int16', chunks=(4096,))
        self._meta_fields: list[str] | None = None
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def __enter__(self) -> DatasetWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def append(
        self, images: np.ndarray, labels: Sequence[int] | np.ndarray, meta: Mapping[str, Sequence] | None = None
    ):
        """Append a batch: ``images`` (n, H, W) or (n, C, H, W), ``labels`` (n,) class indices, ``meta`` field -> n
        values."""
        import h5py

        images = np.asarray(images)
        labels = np.asarray(labels, dtype=np.int64).reshape(-1)
        n = len(images)
        if images.ndim != self._images.ndim or images.shape[1:] != self._images.shape[1:]:
            shape = ', '.join(str(k) for k in ('n', *self._images.shape[1:]))
            raise DatasetError(f'{self.path}: images must have shape ({shape}), not {images.shape}')
        if len(labels) != n:
            raise DatasetError(f'{self.path}: {n} images but {len(labels)} labels')
        if n and (labels.min() < 0 or labels.max() >= len(self.classes)):
            raise DatasetError(f'{self.path}: labels must be class indices in 0..{len(self.classes) - 1}')
        meta = dict(meta or {})
        if self._meta_fields is None:
            self._meta_fields = sorted(meta)
            group = self._file.create_group('meta')
            for field in self._meta_fields:
                values = np.asarray(meta[field])
                if values.dtype.kind in 'USO':
                    dtype = h5py.string_dtype()
                elif values.dtype.kind == 'f':
                    dtype = 'float64'
                elif values.dtype.kind == 'b':
                    dtype = 'bool'
                else:
                    dtype = 'int64'
                group.create_dataset(field, shape=(0,), maxshape=(None,), dtype=dtype, chunks=(4096,))
        elif sorted(meta) != self._meta_fields:
            raise DatasetError(f'{self.path}: metadata fields {sorted(meta)} differ from {self._meta_fields}')
        start, stop = self._count, self._count + n
        self._images.resize(stop, axis=0)
        self._images[start:stop] = images
        self._labels.resize(stop, axis=0)
        self._labels[start:stop] = labels
        for field in self._meta_fields:
            values = list(meta[field])
            if len(values) != n:
                raise DatasetError(f'{self.path}: metadata field {field!r} has {len(values)} values for {n} images')
            column = self._file['meta'][field]
            column.resize(stop, axis=0)
            if column.dtype.kind == 'O':
                column[start:stop] = [str(v) for v in values]
            else:
                column[start:stop] = np.asarray(values)
        self._count = stop

    def close(self) -> Path:
        """Finish the file and move it into place atomically."""
        if self._file is None:
            return self.path
        if self._meta_fields is None:
            self._file.create_group('meta')
        self._file.close()
        self._file = None
        os.replace(self._tmp, self.path)
        return self.path

    def abort(self) -> None:
        """Drop the partial file."""
        if self._file is not None:
            self._file.close()
            self._file = None
        self._tmp.unlink(missing_ok=True)


class FingerprintDataset:
    """A dataset file opened for reading, lazily. Also a sequence of ``(image, label)`` pairs.

    Attributes: ``classes`` (list of names), ``labels`` (int64 array, in memory), ``settings`` (dict),
    ``settings_hash`` (str), ``metadata`` (dict of numpy arrays, in memory), ``path``, ``image_shape`` ((H, W) or
    (C, H, W)). Images are read as (H, W) or (C, H, W) float32 arrays.
    """

    def __init__(self, path: str | os.PathLike):
        import h5py

        self.path = Path(path)
        if not self.path.is_file():
            raise DatasetError(f'{self.path}: no such dataset file')
        try:
            self._file = h5py.File(self.path, 'r')
        except OSError as exception:
            raise DatasetError(f'{self.path}: not a crystalface dataset (cannot open as HDF5: {exception})') from None
        attrs = self._file.attrs
        if attrs.get('format') != FORMAT:
            self._file.close()
            raise DatasetError(f'{self.path}: not a crystalface dataset (format attribute is {attrs.get("format")!r})')
        version = int(attrs['format_version'])
        if version > FORMAT_VERSION_CHANNELS:
            self._file.close()
            raise DatasetError(f'{self.path}: dataset format version {version} is newer than this package')
        self.classes: list[str] = json.loads(attrs['classes'])
        self.settings: dict = json.loads(attrs['settings'])
        self.settings_hash: str = str(attrs['settings_hash'])
        self.package_version: str = str(attrs['package_version'])
        self.description: str = str(attrs.get('description', ''))
        self.images = self._file['images']
        stored, expected = tuple(self.images.shape[1:]), _settings_image_shape(self.settings)
        if expected is not None and stored != expected:
            self._file.close()
            raise DatasetError(
                f'{self.path}: the stored images have shape {stored} but the stored settings give {expected} '
                f'(channels={self.settings.get("channels", 1)}, pixels={self.settings["pixels"]}): not a consistent '
                'dataset file'
            )
        if len(stored) not in (2, 3):
            self._file.close()
            raise DatasetError(f'{self.path}: the stored images have shape {stored}, neither (H, W) nor (C, H, W)')
        self.labels = self._file['labels'][:].astype(np.int64)
        self.metadata = {}
        for field, column in self._file['meta'].items():
            values = column[:]
            if column.dtype.kind == 'O':
                values = np.array([v.decode() if isinstance(v, bytes) else str(v) for v in values], dtype=object)
            self.metadata[field] = values

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def image_shape(self) -> tuple[int, ...]:
        """The shape of one image: (H, W), or (C, H, W) for fingerprints of C channels."""
        return tuple(int(n) for n in self.images.shape[1:])

    def __getitem__(self, index: int) -> tuple[np.ndarray, int]:
        return np.asarray(self.images[index], dtype=np.float32), int(self.labels[index])

    def __enter__(self) -> FingerprintDataset:
        return self

    def __exit__(self, *args) -> None:
        self.close()

    def __repr__(self) -> str:
        return f'<FingerprintDataset {self.path.name}: {len(self)} images, classes {self.classes}>'

    def close(self) -> None:
        self._file.close()

    def get_images(self, indices: Sequence[int] | np.ndarray | slice | None = None) -> np.ndarray:
        """Read images as float32, (n, H, W) or (n, C, H, W); ``indices`` may be unsorted (read in sorted order,
        returned as asked)."""
        if indices is None:
            return np.asarray(self.images[:], dtype=np.float32)
        if isinstance(indices, slice):
            return np.asarray(self.images[indices], dtype=np.float32)
        indices = np.asarray(indices, dtype=np.int64)
        if len(indices) == 0:
            return np.zeros((0, *self.images.shape[1:]), dtype=np.float32)
        order = np.argsort(indices)
        sorted_idx = indices[order]
        unique, inverse = np.unique(sorted_idx, return_inverse=True)
        block = np.asarray(self.images[unique], dtype=np.float32)[inverse]
        out = np.empty_like(block)
        out[order] = block
        return out

    def summary(self) -> dict:
        """A JSON-serialisable summary: size, classes, counts per class, species and defect kinds."""
        counts = np.bincount(self.labels, minlength=len(self.classes))
        summary = {
            'path': str(self.path),
            'n_items': len(self),
            'classes': self.classes,
            'counts': {name: int(c) for name, c in zip(self.classes, counts, strict=True)},
            'settings_hash': self.settings_hash,
            'package_version': self.package_version,
            'description': self.description,
        }
        if len(self.image_shape) == 3:
            summary['channels'] = self.image_shape[0]
        if 'species' in self.metadata:
            summary['n_species'] = len(set(self.metadata['species']))
        if 'defect_kind' in self.metadata:
            kinds, kind_counts = np.unique(self.metadata['defect_kind'].astype(str), return_counts=True)
            summary['defect_kinds'] = {str(k): int(c) for k, c in zip(kinds, kind_counts, strict=True)}
        return summary


def open_dataset(path: str | os.PathLike) -> FingerprintDataset:
    """Open a dataset file for lazy reading."""
    return FingerprintDataset(path)


# ----------------------------------------------------------------------------------------------------------------------
# Builders: the paper's datasets (pristine, defective, bcc -> sc transition, Lindemann series), one file each.
#
# Every item is fingerprinted from its *replicated pristine cell*: spglib's conventional standard cell of the pristine
# item repeated to the item's target size (exactly what ``fingerprint(item)`` builds for a user), with the defect
# applied to that periodic supercell, which is then scattered from as it is (no second standardisation or
# replication). Randomness: each item has its own seed, derived from the builder's seed and the item's position, and
# stored in the ``seed`` column, so that any item can be rebuilt alone.
# ----------------------------------------------------------------------------------------------------------------------

#: The paper's defective variants: (defect kind, level): 5 vacancy fractions, 3 sigmas (angstrom), 2 binary and
#: 3 ternary substitution fractions: 13 per pristine item.
PAPER_VARIANTS: tuple[tuple[str, float], ...] = (
    *(('vacancies', f) for f in (0.1, 0.2, 0.3, 0.4, 0.5)),
    *(('displacements', s) for s in (0.05, 0.10, 0.15)),
    *(('binary', f) for f in (0.25, 0.5)),
    *(('ternary', f) for f in (0.25, 0.5, 0.75)),
)
#: Share of body-centre atoms removed in the bcc -> sc series: 0 to 100 % in 10 % steps.
TRANSITION_LEVELS: tuple[float, ...] = tuple(round(0.1 * i, 2) for i in range(11))
#: Lindemann parameters of the disorder series: 0 to 0.4 in steps of 0.05.
LINDEMANN_LEVELS: tuple[float, ...] = tuple(round(0.05 * i, 2) for i in range(9))

META_FIELDS = (
    'source',
    'species',
    'label',
    'defect_kind',
    'defect_level',
    'seed',
    'pristine_index',
    'pristine_seed',
    'n_atoms',
    'spacegroup',
    'target_atoms',
    'lattice_constant',
    'representation',
    'sample',
    'substituents',
)
_CHUNK = 256  # pristine items per fingerprinting round (x13 structures for the defective set)


def apply_defect(structure, kind: str, level: float, seed: int):
    """Apply one defect of ``kind`` ('vacancies', 'displacements', 'binary', 'ternary', 'bcc_to_sc', 'lindemann')."""
    from . import defects

    makers = {
        'vacancies': defects.vacancies,
        'displacements': defects.displacements,
        'binary': lambda s, level, seed: defects.substitutions(s, level, seed, n_species=1),
        'ternary': lambda s, level, seed: defects.substitutions(s, level, seed, n_species=2),
        'bcc_to_sc': defects.bcc_to_sc,
        'lindemann': defects.lindemann,
    }
    if kind not in makers:
        raise ValueError(f'unknown defect kind {kind!r}: choose one of {sorted(makers)}')
    return makers[kind](structure, level, seed)


def _derived_seed(*parts: int) -> int:
    return int(np.random.SeedSequence([int(p) for p in parts]).generate_state(1, dtype=np.uint32)[0])


def _settings_or_default(settings: Any):
    from .diffraction import FingerprintSettings

    if settings is None:
        return FingerprintSettings()
    if isinstance(settings, Mapping):
        return FingerprintSettings.from_dict(dict(settings))
    return settings


def replicated_cell(item, symprec: float = 1e-3):
    """Return the pristine item's conventional standard cell (spglib) replicated to ``info['target_atoms']``."""
    from .cluster import replicate, standard_cell
    from .prototypes import SPACEGROUPS

    standard, number = standard_cell(item, symprec=symprec)
    expected = item.info.get('spacegroup') or SPACEGROUPS[item.info['label']]
    if number != expected:
        raise DatasetError(f'{item.label}: spglib finds space group {number}, not {expected} of {item.info["label"]}')
    item.info['spacegroup'] = number
    return replicate(standard, int(item.info['target_atoms']))


def _pristine_from_file(path: str | os.PathLike) -> list:
    """Rebuild the pristine items of a pristine dataset file from their stored parameters and seeds."""
    from .prototypes import DEFAULT_SCALE_RANGE, rebuild_item

    with open_dataset(path) as dataset:
        meta = dataset.metadata
        kinds = set(meta.get('defect_kind', np.array(['?'])).astype(str))
        if kinds != {'pristine'}:
            raise DatasetError(f'{path}: not a pristine dataset (defect kinds {sorted(kinds)})')
        description = json.loads(dataset.description or '{}')
    scale_range = tuple(description.get('parameters', {}).get('scale_range', DEFAULT_SCALE_RANGE))
    items = []
    for i in range(len(meta['source'])):
        item = rebuild_item(
            meta['species'][i],
            meta['label'][i],
            meta['representation'][i],
            target_atoms=int(meta['target_atoms'][i]),
            seed=int(meta['seed'][i]),
            scale_range=scale_range,
        )
        if abs(item.info['lattice_constant'] - float(meta['lattice_constant'][i])) > 1e-9:
            raise DatasetError(f'{path}: item {i} does not rebuild to its stored lattice constant')
        item.info.update(spacegroup=int(meta['spacegroup'][i]), index=int(meta['pristine_index'][i]))
        items.append(item)
    return items


def _resolve_pristine(pristine: Any, seed: int, species: Any, pristine_options: Mapping | None) -> list:
    """Pristine items from a pristine dataset file, a sequence of items, or (None) built afresh."""
    from .prototypes import pristine_items

    if pristine is None:
        # The builders run spglib on every item when they take its standard cell: no need to run it twice.
        return pristine_items(species, seed=seed, check=False, **dict(pristine_options or {}))
    if isinstance(pristine, (str, os.PathLike)):
        items = _pristine_from_file(pristine)
    else:
        items = list(pristine)
    if species is not None:
        from .structures import atomic_number, chemical_symbol

        wanted = {chemical_symbol(atomic_number(s)) for s in species}
        items = [item for item in items if item.info.get('species') in wanted]
    for item in items:
        missing = [k for k in ('label', 'species', 'target_atoms', 'index', 'seed') if k not in item.info]
        if missing:
            raise DatasetError(
                f'{item.label}: not a pristine item (info lacks {missing}); use prototypes.pristine_items'
            )
    return items


def _meta_row(item, structure, kind: str, level: float, *, seed: int, sample: int) -> dict:
    info = item.info
    substituents = structure.info.get('defect_params', {}).get('species', []) if kind in ('binary', 'ternary') else []
    source = info['source'] if kind == 'pristine' else f'{info["source"]}:{kind}={level:g}:sample={sample}'
    return {
        'source': source,
        'species': info['species'],
        'label': info['label'],
        'defect_kind': kind,
        'defect_level': float(level),
        'seed': int(seed),
        'pristine_index': int(info['index']),
        'pristine_seed': int(info['seed']),
        'n_atoms': len(structure),
        'spacegroup': int(info['spacegroup']),
        'target_atoms': int(info['target_atoms']),
        'lattice_constant': float(info['lattice_constant']),
        'representation': info['representation'],
        'sample': int(sample),
        'substituents': ','.join(substituents),
    }


class _Builder:
    """Fingerprint (structure, metadata) pairs in large batches and append them to one dataset file.

    By default (the paper's sets) the classes are the four cubic ones, the metadata columns :data:`META_FIELDS` and
    every structure is scattered from as given. The prototypes set passes its ``classes``, ``fields`` and ``targets``
    (label -> class index, for the labels that are no class name) and ``as_given=False``: each structure then takes
    the path of ``fingerprint(structure, settings)``, and the columns ``lattice_found`` / ``lattice_standard`` (when
    among ``fields``) say what the orientation step found.
    """

    def __init__(
        self,
        path,
        settings,
        *,
        description: dict,
        overwrite: bool,
        dtype: str,
        progress: bool,
        total: int,
        classes: Sequence[str] | None = None,
        fields: Sequence[str] = META_FIELDS,
        targets: Mapping[str, int] | None = None,
        as_given: bool = True,
    ):
        from .diffraction import fingerprint_batch
        from .prototypes import CLASSES

        self.settings = settings
        # Each structure is scattered from as given: a target of 2 atoms makes replicate() keep the 1 x 1 x 1 cell of
        # any structure of 2 atoms or more, and the replicated pristine cells are lattice-aligned already.
        self._scatter = dataclasses.replace(settings, target_atoms=2, orientation='none') if as_given else settings
        self._fingerprint_batch = fingerprint_batch
        self.classes = list(CLASSES if classes is None else classes)
        self.fields = tuple(fields)
        self.targets = {name: i for i, name in enumerate(self.classes)} | dict(targets or {})
        self.writer = DatasetWriter(
            path,
            self.classes,
            settings,
            image_shape=settings.image_shape,
            dtype=dtype,
            description=json.dumps(description, sort_keys=True),
            overwrite=overwrite,
        )
        self.errors: dict[str, str] = {}
        self.fingerprint_seconds = 0.0
        self._bar = None
        if progress:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=total, desc=Path(path).name, unit='item', smoothing=0.05)

    def add(self, structures: list, rows: list[dict], errors: Mapping[str, str]) -> None:
        """Fingerprint ``structures`` (one metadata row each) and append the good ones; keep the others' errors."""
        self.errors.update(errors)
        start = time.perf_counter()
        result = self._fingerprint_batch(structures, self._scatter)
        self.fingerprint_seconds += time.perf_counter() - start
        for index, message in result.errors.items():
            self.errors[rows[index]['source']] = message
        kept = [rows[i] for i in result.ok]
        if 'lattice_found' in self.fields:
            lattices = result.lattices or [None] * len(kept)
            for row, lattice in zip(kept, lattices, strict=True):
                found = lattice or {}
                row['lattice_found'] = bool(found.get('lattice_found', False))
                row['lattice_standard'] = str(found.get('lattice_standard', ''))
        if kept:
            labels = [self.targets[row['label']] for row in kept]
            self.writer.append(result.images, labels, {field: [row[field] for row in kept] for field in self.fields})
        if self._bar is not None:
            self._bar.update(len(structures) + len(errors))

    def close(self) -> Path:
        if self._bar is not None:
            self._bar.close()
        return self.writer.close()

    def abort(self) -> None:
        if self._bar is not None:
            self._bar.close()
        self.writer.abort()


def build_pristine_dataset(
    path: str | os.PathLike,
    *,
    seed: int = 0,
    species: Iterable[str | int] | None = None,
    settings: Any = None,
    targets: Sequence[int] | None = None,
    representations: Sequence[str] | None = None,
    scale_range: tuple[float, float] | None = None,
    progress: bool = True,
    overwrite: bool = False,
    dtype: str = 'float16',
) -> dict:
    """Build the pristine dataset (:func:`.prototypes.pristine_items`) and write it to ``path``; return a summary.

    Args:
        path: the output file (never overwritten unless ``overwrite``).
        seed: seed of the lattice-constant draws and origin shifts (each item's own seed is stored).
        species: chemical symbols or numbers; all species with a tabulated radius by default.
        settings: FingerprintSettings, a mapping of them, or None for the defaults: they fix the detector; each item
            is scattered from a cluster of its own size (``target_atoms`` column), not ``settings.target_atoms``.
        targets, representations, scale_range: the grid (None: the prototypes' defaults).
        progress: show a progress bar.
        dtype: 'float16' (default) or 'float32' images.
    """
    from .prototypes import DEFAULT_SCALE_RANGE, pristine_items

    started = time.perf_counter()
    options = {'targets': targets, 'representations': representations, 'scale_range': scale_range}
    options = {key: value for key, value in options.items() if value is not None}
    # No spglib here: the builder takes every item's standard cell and checks its space group in the same call.
    items = pristine_items(species, seed=seed, check=False, **options)
    options.setdefault('scale_range', DEFAULT_SCALE_RANGE)
    job = _Job('pristine', seed, [('pristine', 0.0)], 1, options, None)
    return _write(job, items, path, settings, progress=progress, overwrite=overwrite, dtype=dtype, started=started)


def build_defective_dataset(
    pristine: Any,
    path: str | os.PathLike,
    *,
    seed: int = 0,
    species: Iterable[str | int] | None = None,
    variants: Sequence[tuple[str, float]] = PAPER_VARIANTS,
    settings: Any = None,
    progress: bool = True,
    overwrite: bool = False,
    dtype: str = 'float16',
    pristine_options: Mapping | None = None,
) -> dict:
    """Build the paper's defective set: every pristine item x every variant (13 by default), one sample each.

    Args:
        pristine: a pristine dataset file (its items are rebuilt from their stored seeds), a sequence of pristine
            items, or None to build them here with ``seed``, ``species`` and ``pristine_options`` (keyword
            arguments of :func:`.prototypes.pristine_items`).
        path: the output file.
        seed: the builder's seed; pristine item ``i``'s variant ``v`` gets the seed derived from ``(seed, i, v, 0)``.
        species: keep only these species (all by default).
        variants: (kind, level) pairs; kinds as in :func:`apply_defect`.
        settings, progress, overwrite, dtype: as for :func:`build_pristine_dataset`.
    """
    started = time.perf_counter()
    items = _resolve_pristine(pristine, seed, species, pristine_options)
    variants = [(str(kind), float(level)) for kind, level in variants]
    job = _Job('defective', seed, variants, 1, dict(pristine_options or {}), pristine)
    return _write(job, items, path, settings, progress=progress, overwrite=overwrite, dtype=dtype, started=started)


def build_transition_dataset(
    pristine: Any,
    path: str | os.PathLike,
    *,
    seed: int = 0,
    species: Iterable[str | int] | None = None,
    n_structures: int = 25,
    samples: int = 5,
    levels: Sequence[float] = TRANSITION_LEVELS,
    target_atoms: int | None = 128,
    settings: Any = None,
    progress: bool = True,
    overwrite: bool = False,
    dtype: str = 'float16',
) -> dict:
    """Build the bcc -> sc series: ``n_structures`` random bcc items x ``levels`` x ``samples`` random removals.

    The defaults give 25 x 5 = 125 structures per step, as in the paper, over 11 steps (0 to 100 % of the body-centre
    atoms removed, :func:`.defects.bcc_to_sc`). ``target_atoms`` picks bcc items of that cluster size (None: any).
    ``pristine`` as for :func:`build_defective_dataset` (None builds only the bcc items needed). Labels stay 'bcc';
    the ``defect_level`` column holds the removed share.
    """
    started = time.perf_counter()
    subset = _bcc_subset(
        pristine, seed=seed, species=species, n_structures=n_structures, samples=samples, target_atoms=target_atoms
    )
    job = _Job('bcc_to_sc', seed, [('bcc_to_sc', float(v)) for v in levels], samples, {}, pristine)
    job.parameters.update(n_structures=n_structures, target_atoms=target_atoms)
    return _write(job, subset, path, settings, progress=progress, overwrite=overwrite, dtype=dtype, started=started)


def build_lindemann_dataset(
    pristine: Any,
    path: str | os.PathLike,
    *,
    seed: int = 0,
    species: Iterable[str | int] | None = None,
    n_structures: int = 25,
    samples: int = 5,
    levels: Sequence[float] = LINDEMANN_LEVELS,
    target_atoms: int | None = 128,
    settings: Any = None,
    progress: bool = True,
    overwrite: bool = False,
    dtype: str = 'float16',
) -> dict:
    """Build the Lindemann series: random bcc items displaced at Lindemann parameters 0 to 0.4 in steps of 0.05
    (:func:`.defects.lindemann`), ``samples`` draws each: 25 x 5 = 125 per parameter by default. Arguments as for
    :func:`build_transition_dataset`. Labels stay 'bcc'; ``defect_level`` holds the Lindemann parameter.
    """
    started = time.perf_counter()
    subset = _bcc_subset(
        pristine, seed=seed, species=species, n_structures=n_structures, samples=samples, target_atoms=target_atoms
    )
    job = _Job('lindemann', seed, [('lindemann', float(v)) for v in levels], samples, {}, pristine)
    job.parameters.update(n_structures=n_structures, target_atoms=target_atoms)
    return _write(job, subset, path, settings, progress=progress, overwrite=overwrite, dtype=dtype, started=started)


#: The last class of the prototypes set: the target of every outsider and parent (whose ``label`` is 'unknown').
OTHER = 'other'
#: The metadata columns of the prototypes set (:func:`build_prototypes_dataset`).
PROTOTYPE_FIELDS = (
    'source',
    'index',
    'label',
    'kind',
    'variant',
    'seed',
    'species',
    'presentation',
    'aflow',
    'space_group',
    'parents',
    'n_atoms',
    'lattice_found',
    'lattice_standard',
)
_PARTS = ('train', 'calibration', 'test')


def build_prototypes_dataset(
    path: str | os.PathLike,
    *,
    part: str = 'train',
    seed: int = 0,
    classes: Sequence[str] | None = None,
    draws: int = 2,
    species_per_class: int | None = None,
    variants: Sequence[str] | None = None,
    outsiders: bool = True,
    n_random: int | None = None,
    parents: bool = False,
    settings: Any = None,
    progress: bool = True,
    overwrite: bool = False,
    dtype: str = 'float16',
) -> dict:
    """Build one part of the bulk prototype set (:func:`.bulkset.bulk_items`) and write it to ``path``.

    Labels: the file's ``classes`` are the asked classes in the order given (default: all of
    :data:`.classes.BULK_CLASSES`, in order) followed by ``'other'``, whatever items the part holds, so that the
    parts of one choice of classes share their class indices. A member's label is its class's index; an outsider's and
    a parent's is the index of ``'other'`` (the open-set target, as in :mod:`aiida_crystalface.ml.openset`), and
    their ``label`` column says ``'unknown'`` (what a model should answer), ``kind`` says which they are.

    Metadata columns (:data:`PROTOTYPE_FIELDS`): ``source`` (the structure's label), ``index`` (its position in
    ``bulk_items(part, seed, ...)`` with the same arguments, recorded in the description: the item can be rebuilt
    alone), ``label``, ``kind`` ('member', 'outsider' or 'parent'), ``variant``, ``seed`` (the item's own), ``species``
    (comma-joined, '' where the item has none: swapped-species outsiders), ``presentation`` ('' for outsiders),
    ``aflow`` and ``space_group`` ('' and -1 where unknown: pyxtal crystals have no AFLOW label), ``parents``
    (comma-joined classes of a parent), ``n_atoms``, ``lattice_found`` and ``lattice_standard`` (what the orientation
    step found; items where it found no lattice are kept).

    Args:
        path: the output file (never overwritten unless ``overwrite``; checked before any work).
        part, seed, classes, draws, species_per_class, variants, outsiders, n_random, parents: as for
            :func:`.bulkset.bulk_items` (``variants`` default: :data:`.bulkset.VARIANTS`).
        settings: FingerprintSettings or a mapping of them; default ``FingerprintSettings(orientation='standard',
            channels=3)``. Every structure takes the path of ``fingerprint(structure, settings)``.
        progress, dtype: as for :func:`build_pristine_dataset`.
    """
    from . import bulkset
    from .classes import BULK_CLASSES
    from .diffraction import FingerprintSettings

    started = time.perf_counter()
    if part not in _PARTS:
        raise ValueError(f'part must be one of {_PARTS}, not {part!r}')
    names = list(BULK_CLASSES) if classes is None else [str(name) for name in classes]
    unknown = [name for name in names if name not in BULK_CLASSES]
    if unknown or not names or len(set(names)) != len(names):
        raise ValueError(f'classes must be distinct names of bulk classes ({list(BULK_CLASSES)}), not {names}')
    variants = bulkset.VARIANTS if variants is None else tuple(str(v) for v in variants)
    bad = [v for v in variants if v not in bulkset.VARIANTS]
    if bad or not variants:
        raise ValueError(f'variants must be among {list(bulkset.VARIANTS)}, not {list(variants)}')
    if int(draws) < 1:
        raise ValueError(f'draws must be at least 1, not {draws}')
    settings = FingerprintSettings(orientation='standard', channels=3) if settings is None else settings
    settings = _settings_or_default(settings)
    if Path(path).exists() and not overwrite:
        raise FileExistsError(f'{path}: the file exists; refusing to overwrite it (pass overwrite=True)')
    parameters = {
        'classes': names,
        'draws': int(draws),
        'species_per_class': species_per_class,
        'variants': list(variants),
        'outsiders': bool(outsiders),
        'n_random': n_random,
        'parents': bool(parents),
    }
    items = bulkset.bulk_items(part, seed, **{**parameters, 'variants': variants})
    if not items:
        raise DatasetError(f'{path}: part {part!r} of the prototype set holds no items with these options')
    description = {
        'builder': 'prototypes',
        'part': part,
        'seed': int(seed),
        'parameters': parameters,
        'labels': f"class index; {OTHER!r} (the last class) for outsiders and parents, labelled 'unknown'",
        'rebuild': 'aiida_crystalface.core.bulkset.bulk_items(part, seed, **parameters)[index]',
    }
    classes_out = [*names, OTHER]
    builder = _Builder(
        path,
        settings,
        description=description,
        overwrite=overwrite,
        dtype=dtype,
        progress=progress,
        total=len(items),
        classes=classes_out,
        fields=PROTOTYPE_FIELDS,
        targets={'unknown': len(names)},
        as_given=False,
    )
    try:
        for start in range(0, len(items), _CHUNK):
            chunk = items[start : start + _CHUNK]
            rows = [_prototype_row(item, start + i) for i, item in enumerate(chunk)]
            builder.add(chunk, rows, {})
    except BaseException:
        builder.abort()
        raise
    written = builder.close()
    seconds = time.perf_counter() - started
    summary = {
        'path': str(written),
        'builder': 'prototypes',
        'part': part,
        'seed': int(seed),
        'n_classes': len(names),
        'n_items': len(builder.writer),
        'n_errors': len(builder.errors),
        'errors': dict(list(builder.errors.items())[:20]),
        'settings_hash': settings.hash,
        'image_shape': list(settings.image_shape),
        'file_size_bytes': written.stat().st_size,
        'seconds': round(seconds, 3),
        'seconds_fingerprints': round(builder.fingerprint_seconds, 3),
    }
    with open_dataset(written) as dataset:
        summary['counts_by_class'] = {k: v for k, v in dataset.summary()['counts'].items() if v}
        kinds, counts = np.unique(dataset.metadata['kind'].astype(str), return_counts=True)
        summary['counts_by_kind'] = {str(k): int(c) for k, c in zip(kinds, counts, strict=True)}
        summary['no_lattice'] = int((~dataset.metadata['lattice_found'].astype(bool)).sum())
    return summary


def _prototype_row(item, index: int) -> dict:
    """The metadata row of one item of :func:`.bulkset.bulk_items` (``index``: its position in that list)."""
    info = item.info

    def joined(value) -> str:
        if value is None:
            return ''
        return value if isinstance(value, str) else ','.join(str(v) for v in value)

    label = str(info['label'])
    return {
        'source': str(item.label),
        'index': int(index),
        'label': label,
        'kind': str(info.get('kind', 'member' if label != 'unknown' else 'outsider')),
        'variant': str(info.get('variant', '')),
        'seed': int(info.get('seed', -1)),
        'species': joined(info.get('species')),
        'presentation': str(info.get('presentation', '')),
        'aflow': str(info.get('aflow', '')),
        'space_group': int(info.get('space_group') or -1),
        'parents': joined(info.get('parents')),
        'n_atoms': len(item),
    }


def _bcc_subset(pristine, *, seed: int, species, n_structures: int, samples: int, target_atoms: int | None) -> list:
    """``n_structures`` bcc pristine items of ``target_atoms`` atoms, chosen at random with ``seed``."""
    if n_structures < 1 or samples < 1:
        raise ValueError(f'n_structures and samples must be at least 1, not {n_structures} and {samples}')
    options = {'classes': ('bcc',)}
    if target_atoms is not None:
        options['targets'] = (int(target_atoms),)
    items = [item for item in _resolve_pristine(pristine, seed, species, options) if item.info['label'] == 'bcc']
    if target_atoms is not None:
        items = [item for item in items if int(item.info['target_atoms']) == int(target_atoms)]
    if not items:
        raise DatasetError(f'no bcc pristine items with target_atoms={target_atoms} to build the series from')
    rng = np.random.default_rng(_derived_seed(seed, 0xBCC))
    chosen = np.sort(rng.choice(len(items), size=min(n_structures, len(items)), replace=False))
    return [items[i] for i in chosen]


@dataclasses.dataclass
class _Job:
    """What a builder makes: its name, seed, (kind, level) variants, samples per variant and its parameters."""

    name: str
    seed: int
    variants: list[tuple[str, float]]
    samples: int
    parameters: dict
    pristine: Any

    def description(self) -> dict:
        pristine = str(self.pristine) if isinstance(self.pristine, (str, os.PathLike)) else None
        return {
            'builder': self.name,
            'seed': int(self.seed),
            'variants': [list(v) for v in self.variants],
            'samples': int(self.samples),
            'parameters': {k: list(v) if isinstance(v, tuple) else v for k, v in self.parameters.items()},
            'pristine_file': pristine,
            'geometry': 'each structure is the replicated pristine cell (defect applied to it), scattered as given',
        }


def _write(job: _Job, items: list, path, settings, *, progress, overwrite, dtype, started: float) -> dict:
    """Generate every (item, variant, sample) structure chunk by chunk, fingerprint and append it; summarise."""
    if not items:
        raise DatasetError(f'{path}: no pristine items to build the {job.name} dataset from')
    for kind, level in job.variants:
        if kind != 'pristine':
            apply_defect(_probe_structure(kind), kind, level, 0)  # a bad kind or level fails before any work
    settings = _settings_or_default(settings)
    total = len(items) * len(job.variants) * job.samples
    builder = _Builder(
        path, settings, description=job.description(), overwrite=overwrite, dtype=dtype, progress=progress, total=total
    )
    try:
        for structures, rows, errors in _batches(items, job, settings.symprec):
            builder.add(structures, rows, errors)
    except BaseException:
        builder.abort()
        raise
    written = builder.close()
    seconds = time.perf_counter() - started
    summary = {
        'path': str(written),
        'builder': job.name,
        'seed': int(job.seed),
        'n_pristine': len(items),
        'n_items': len(builder.writer),
        'n_errors': len(builder.errors),
        'errors': dict(list(builder.errors.items())[:20]),
        'settings_hash': settings.hash,
        'file_size_bytes': written.stat().st_size,
        'seconds': round(seconds, 3),
        'seconds_fingerprints': round(builder.fingerprint_seconds, 3),
        'seconds_structures': round(seconds - builder.fingerprint_seconds, 3),
    }
    with open_dataset(written) as dataset:
        summary['counts_by_class'] = dataset.summary()['counts']
        summary['counts_by_variant'] = _variant_counts(dataset.metadata)
    return summary


def _variant_counts(meta: Mapping[str, np.ndarray]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for kind, level in zip(meta['defect_kind'].astype(str), meta['defect_level'], strict=True):
        key = kind if kind == 'pristine' else f'{kind}={level:g}'
        counts[key] = counts.get(key, 0) + 1
    return counts


def _probe_structure(kind: str):
    """A small structure on which a variant's parameters can be checked before the real work."""
    from .cluster import replicate
    from .prototypes import prototype

    return replicate(prototype('Fe', 'bcc'), 2) if kind == 'bcc_to_sc' else prototype('Cu', 'fcc')


def _batches(items: list, job: _Job, symprec: float) -> Iterator[tuple[list, list[dict], dict[str, str]]]:
    """Yield (structures, metadata rows, errors by source) for ``_CHUNK`` pristine items at a time."""
    for start in range(0, len(items), _CHUNK):
        structures, rows, errors = [], [], {}
        for item in items[start : start + _CHUNK]:
            try:
                cell = replicated_cell(item, symprec)
            except (DatasetError, ValueError) as exception:
                errors.update(
                    {f'{item.info["source"]}:{kind}={level:g}': str(exception) for kind, level in job.variants}
                )
                continue
            for v, (kind, level) in enumerate(job.variants):
                for sample in range(job.samples):
                    if kind == 'pristine':
                        seed, structure = int(item.info['seed']), cell
                    else:
                        seed, structure = _draw(
                            cell, kind, level, _derived_seed(job.seed, item.info['index'], v, sample)
                        )
                    structures.append(structure)
                    rows.append(_meta_row(item, structure, kind, level, seed=seed, sample=sample))
        yield structures, rows, errors


def _draw(cell, kind: str, level: float, seed: int, attempts: int = 1000):
    """Apply a defect; redraw a displacement that puts two atoms on top of each other. Return (seed used, structure).

    Gaussian displacements of 0.15 angstrom can bring two atoms of a small crystal (hydrogen: 0.5 angstrom apart)
    closer than the overlap limit of :meth:`AtomicStructure.validate` (0.1 angstrom), where no fingerprint is made.
    Such a draw is replaced by the next one (seed derived from the last), so every variant keeps its exact count; the
    displacements are then Gaussian conditioned on no overlap. The seed stored is the one that gave the structure.
    """
    from .structures import StructureError

    for _ in range(attempts):
        structure = apply_defect(cell, kind, level, seed)
        if kind not in ('displacements', 'lindemann'):
            return seed, structure
        try:
            structure.validate()
            return seed, structure
        except StructureError:
            seed = _derived_seed(seed, 1)
    return seed, structure  # reported as an error by the fingerprinting step


def distinct_images(images: np.ndarray, keys: Sequence[Any] | None = None, atol: float = 0.0) -> int:
    """Count the distinct images: an image within ``atol`` (max abs difference) of an earlier one is a duplicate.

    ``keys`` (one per image) restrict the comparison to images of the same key (e.g. class and cluster size), which
    keeps the greedy search fast; ``atol = 0`` counts exactly equal images.
    """
    images = np.asarray(images, dtype=np.float32).reshape(len(images), -1)
    keys = np.zeros(len(images), dtype=np.int64) if keys is None else np.asarray(keys)
    distinct = 0
    for key in np.unique(keys):
        block = images[keys == key]
        if atol == 0:
            distinct += len(np.unique(block, axis=0))
            continue
        representatives = np.empty((0, block.shape[1]), dtype=np.float32)
        for image in block:
            if len(representatives) == 0 or np.abs(representatives - image).max(axis=1).min() > atol:
                representatives = np.vstack([representatives, image])
        distinct += len(representatives)
    return distinct
