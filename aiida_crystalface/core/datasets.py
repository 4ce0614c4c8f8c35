"""Datasets of fingerprints on disk: one HDF5 file holding images, labels and per-item metadata.

Layout of a dataset file (``format = 'crystalface-dataset'``, ``format_version = 1``)::

    /images           (N, H, W) float16 (default) or float32, chunked and compressed, values in [0, 1]
    /labels           (N,) int16, index into the ``classes`` attribute
    /meta/<field>     (N,) one array per metadata field: strings (source, species, defect_kind, ...),
                      floats (defect_level, ...) or integers (seed, n_atoms, pristine_index, ...)
    attrs: format, format_version, classes (JSON list), settings (JSON of FingerprintSettings),
           settings_hash, package_version, description

The file is read lazily: :class:`FingerprintDataset` keeps the HDF5 handle open and reads images on demand, so a
dataset of 10^5 images never has to fit in memory. A writer never overwrites an existing file unless told to.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ('DatasetError', 'DatasetWriter', 'FingerprintDataset', 'open_dataset')

FORMAT = 'crystalface-dataset'
FORMAT_VERSION = 1


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


class DatasetWriter:
    """Append fingerprints, labels and metadata to a new dataset file.

    Usage::

        with DatasetWriter(path, classes=['fcc', 'diamond', 'bcc', 'sc'], settings=settings) as writer:
            writer.append(images, labels, {'species': [...], 'defect_kind': [...], 'seed': [...]})

    Metadata fields are fixed by the first call of :meth:`append`; every later call must give the same fields.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        classes: Sequence[str],
        settings: Any = None,
        *,
        image_shape: tuple[int, int] = (64, 64),
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
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.classes = list(classes)
        self._tmp = self.path.with_name(self.path.name + '.partial')
        self._file = h5py.File(self._tmp, 'w')
        settings_json, settings_hash = _settings_payload(settings)
        attrs = self._file.attrs
        attrs['format'] = FORMAT
        attrs['format_version'] = FORMAT_VERSION
        attrs['classes'] = json.dumps(self.classes)
        attrs['settings'] = settings_json
        attrs['settings_hash'] = settings_hash
        attrs['package_version'] = __version__
        attrs['description'] = description
        height, width = image_shape
        self._images = self._file.create_dataset(
            'images', shape=(0, height, width), maxshape=(None, height, width), dtype=dtype,
            chunks=(min(256, 4096 * 16 // (height * width) * 16 or 1), height, width), compression='lzf',
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

    def append(self, images: np.ndarray, labels: Sequence[int] | np.ndarray, meta: Mapping[str, Sequence] | None = None):
        """Append a batch: ``images`` (n, H, W), ``labels`` (n,) class indices, ``meta`` field -> n values."""
        import h5py

        images = np.asarray(images)
        labels = np.asarray(labels, dtype=np.int64).reshape(-1)
        n = len(images)
        if images.ndim != 3 or images.shape[1:] != self._images.shape[1:]:
            raise DatasetError(f'{self.path}: images must have shape (n, {self._images.shape[1]}, {self._images.shape[2]})')
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
    ``settings_hash`` (str), ``metadata`` (dict of numpy arrays, in memory), ``path``.
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
        if int(attrs['format_version']) > FORMAT_VERSION:
            self._file.close()
            raise DatasetError(f'{self.path}: dataset format version {attrs["format_version"]} is newer than this package')
        self.classes: list[str] = json.loads(attrs['classes'])
        self.settings: dict = json.loads(attrs['settings'])
        self.settings_hash: str = str(attrs['settings_hash'])
        self.package_version: str = str(attrs['package_version'])
        self.description: str = str(attrs.get('description', ''))
        self.images = self._file['images']
        self.labels = self._file['labels'][:].astype(np.int64)
        self.metadata = {}
        for field, column in self._file['meta'].items():
            values = column[:]
            if column.dtype.kind == 'O':
                values = np.array([v.decode() if isinstance(v, bytes) else str(v) for v in values], dtype=object)
            self.metadata[field] = values

    def __len__(self) -> int:
        return len(self.labels)

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
        """Read images as float32; ``indices`` may be unsorted (read in sorted order, returned as asked)."""
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
            'counts': {name: int(c) for name, c in zip(self.classes, counts)},
            'settings_hash': self.settings_hash,
            'package_version': self.package_version,
            'description': self.description,
        }
        if 'species' in self.metadata:
            summary['n_species'] = len(set(self.metadata['species']))
        if 'defect_kind' in self.metadata:
            kinds, kind_counts = np.unique(self.metadata['defect_kind'].astype(str), return_counts=True)
            summary['defect_kinds'] = {str(k): int(c) for k, c in zip(kinds, kind_counts)}
        return summary


def open_dataset(path: str | os.PathLike) -> FingerprintDataset:
    """Open a dataset file for lazy reading."""
    return FingerprintDataset(path)
