"""The trained ConvNet node: one ``.safetensors`` file (weights + JSON metadata) and its queryable metadata."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from aiida import orm

__all__ = ('ConvNetModelData', 'md5_of_file')

FILENAME = 'model.safetensors'


def md5_of_file(path: str | os.PathLike) -> str:
    """Return the md5 hex digest of a file, read in chunks."""
    digest = hashlib.md5()
    with open(path, 'rb') as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b''):
            digest.update(chunk)
    return digest.hexdigest()


class ConvNetModelData(orm.SinglefileData):
    """A trained classifier saved by :meth:`aiida_crystalface.ml.classifier.Classifier.save`.

    Attributes: ``classes``, ``settings`` (the fingerprint settings the model was trained on), ``settings_hash``,
    ``package_version``, ``metrics`` and ``md5`` (of the file). Use :meth:`get_or_create` so that one model file is
    stored once, and :meth:`load_classifier` to get a :class:`~aiida_crystalface.ml.classifier.Classifier`.
    """

    def __init__(self, file: str | os.PathLike | None = None, filename: str | None = None, **kwargs: Any):
        super().__init__(file=None, **kwargs)
        if file is not None:
            self.set_model_file(file)

    def set_model_file(self, path: str | os.PathLike) -> None:
        """Set the model file and read its metadata (through ``ml.classifier``; the file is never unpickled)."""
        path = Path(path)
        if not path.is_file():
            raise ValueError(f'model file {path}: no such file')
        classifier = _load_classifier(path)
        metadata = dict(getattr(classifier, 'metadata', {}) or {})
        from aiida_crystalface import __version__

        self.set_file(str(path), filename=FILENAME)
        self.base.attributes.set_many(
            {
                'classes': list(classifier.classes),
                'settings': dict(classifier.settings or {}),
                'settings_hash': str(classifier.settings_hash or ''),
                'package_version': str(metadata.get('package_version', __version__)),
                'metrics': _jsonable(metadata.get('metrics', {})),
                'md5': md5_of_file(path),
                'int8': bool(metadata.get('int8')),
            }
        )

    @classmethod
    def get_or_create(cls, path: str | os.PathLike, *, store: bool = True) -> ConvNetModelData:
        """Return the stored model node holding this exact file (same md5), or create (and store) a new one."""
        md5 = md5_of_file(path)
        builder = orm.QueryBuilder().append(cls, filters={'attributes.md5': md5}, project='*')
        existing = builder.first(flat=True)
        if existing is not None:
            return existing
        node = cls(file=path)
        return node.store() if store else node

    @property
    def classes(self) -> list[str]:
        return list(self.base.attributes.get('classes'))

    @property
    def settings(self) -> dict:
        return dict(self.base.attributes.get('settings', {}))

    @property
    def settings_hash(self) -> str:
        return self.base.attributes.get('settings_hash', '')

    @property
    def has_int8(self) -> bool:
        """Whether the model file stores int8 quantization parameters (``precision='int8'`` works from it alone)."""
        stored = self.base.attributes.get('int8', None)
        if stored is None:  # a node made before the attribute existed: read the file's metadata
            return bool(self.load_classifier().metadata.get('int8'))
        return bool(stored)

    @property
    def metrics(self) -> dict:
        return dict(self.base.attributes.get('metrics', {}))

    def load_classifier(self) -> Any:
        """Return the :class:`~aiida_crystalface.ml.classifier.Classifier` held by this node (imports torch)."""
        import tempfile

        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / FILENAME
            with self.open(mode='rb') as source, open(path, 'wb') as target:
                target.write(source.read())
            return _load_classifier(path)

    def store(self, **kwargs: Any) -> ConvNetModelData:
        """Store after checking the invariants: a file, its md5, the class names and the settings hash."""
        if self.filename != FILENAME:
            raise ValueError(f'ConvNetModelData: expected the file {FILENAME!r}, got {self.filename!r}')
        for key in ('classes', 'settings_hash', 'md5', 'package_version'):
            if not self.base.attributes.get(key, None):
                raise ValueError(f'ConvNetModelData: the attribute {key!r} is missing or empty')
        with self.open(mode='rb') as handle:
            digest = hashlib.md5(handle.read()).hexdigest()
        if digest != self.base.attributes.get('md5'):
            raise ValueError('ConvNetModelData: the md5 attribute does not match the file content')
        return super().store(**kwargs)


def _load_classifier(path: Path) -> Any:
    from aiida_crystalface.ml.classifier import Classifier

    try:
        return Classifier.load(path)
    except Exception as exception:
        raise ValueError(f'model file {path}: not a valid crystalface model ({exception})') from exception


def _jsonable(value: Any) -> Any:
    """Metrics as plain JSON types (floats, ints, strings, lists, dicts)."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if hasattr(value, 'item'):
        return value.item()
    return value
