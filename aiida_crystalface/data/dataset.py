"""The dataset node: one HDF5 dataset file (see :mod:`aiida_crystalface.core.datasets`) and its summary."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from aiida import orm

__all__ = ('FingerprintDatasetData',)

FILENAME = 'dataset.h5'


class FingerprintDatasetData(orm.SinglefileData):
    """A fingerprint dataset file with summary attributes (``n_items``, ``classes``, ``counts``, ``settings_hash``,
    ``package_version``, and ``defect_kinds`` / ``n_species`` when the file has that metadata)."""

    def __init__(self, file: str | os.PathLike | None = None, filename: str | None = None, **kwargs: Any):
        super().__init__(file=None, **kwargs)
        if file is not None:
            self.set_dataset_file(file)

    def set_dataset_file(self, path: str | os.PathLike) -> None:
        """Set the dataset file; the file is opened (read-only) to fill the summary attributes."""
        from aiida_crystalface.core.datasets import open_dataset

        path = Path(path)
        if not path.is_file():
            raise ValueError(f'dataset file {path}: no such file')
        try:
            with open_dataset(path) as dataset:
                summary = dataset.summary()
        except Exception as exception:
            raise ValueError(f'dataset file {path}: not a valid crystalface dataset ({exception})') from exception
        summary.pop('path', None)
        self.set_file(str(path), filename=FILENAME)
        self.base.attributes.set_many(summary)

    @property
    def n_items(self) -> int:
        return int(self.base.attributes.get('n_items'))

    @property
    def classes(self) -> list[str]:
        return list(self.base.attributes.get('classes'))

    def open_dataset(self) -> Any:
        """Copy the file out of the repository and open it; the caller closes the returned dataset."""
        from aiida_crystalface.core.datasets import open_dataset

        folder = tempfile.mkdtemp(prefix='crystalface-dataset-')
        path = Path(folder) / FILENAME
        self.copy_to(path)
        return open_dataset(path)

    def copy_to(self, path: str | os.PathLike) -> Path:
        """Write the dataset file to ``path`` and return it."""
        path = Path(path)
        with self.open(mode='rb') as source, open(path, 'wb') as target:
            while chunk := source.read(1 << 20):
                target.write(chunk)
        return path

    def store(self, **kwargs: Any) -> FingerprintDatasetData:
        """Store after checking that the file and its summary are present."""
        if self.filename != FILENAME:
            raise ValueError(f'FingerprintDatasetData: expected the file {FILENAME!r}, got {self.filename!r}')
        if not self.base.attributes.get('classes', None) or self.base.attributes.get('n_items', 0) < 1:
            raise ValueError('FingerprintDatasetData: the dataset is empty or has no classes')
        return super().store(**kwargs)
