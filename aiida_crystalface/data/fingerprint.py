"""The fingerprint image node: the array in the repository, the settings that made it in the attributes."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Mapping
from typing import Any

import numpy as np
from aiida import orm
from aiida.orm.nodes.caching import NodeCaching

from aiida_crystalface._internals import set_caching_class

__all__ = ('FingerprintCaching', 'FingerprintData')

ARRAY_NAME = 'image'


def settings_as_dict(settings: Any) -> tuple[dict, str]:
    """Return ``(settings dict, settings hash)`` of a ``FingerprintSettings``, a mapping or an AiiDA ``Dict``."""
    if settings is None:
        from aiida_crystalface.core.diffraction import FingerprintSettings

        settings = FingerprintSettings()
    if isinstance(settings, orm.Dict):
        settings = settings.get_dict()
    if hasattr(settings, 'to_dict') and hasattr(settings, 'hash'):
        return dict(settings.to_dict()), str(settings.hash)
    if isinstance(settings, Mapping):
        from aiida_crystalface.core.diffraction import FingerprintSettings

        parsed = FingerprintSettings.from_dict(dict(settings))
        return dict(parsed.to_dict()), str(parsed.hash)
    raise TypeError(f'settings: expected FingerprintSettings, a mapping or a Dict node, not {type(settings).__name__}')


class FingerprintData(orm.ArrayData):
    """A two-dimensional diffraction fingerprint (float32, values in [0, 1]).

    Attributes: ``settings`` (the ``FingerprintSettings`` as a dict), ``settings_hash`` (16 hex characters),
    ``image_shape``; with the orientation step (the default), ``lattice_found``, ``lattice_score`` and the whole
    record as ``lattice`` (:meth:`set_lattice`). The image itself is the array ``image`` (an ``.npy`` file in the
    repository).
    """

    def __init__(self, image: np.ndarray | None = None, settings: Any = None, **kwargs: Any):
        super().__init__(**kwargs)
        self._image: np.ndarray | None = None
        if image is not None:
            self.set_image(image, settings)

    def set_image(self, image: np.ndarray, settings: Any = None) -> None:
        """Set the image and the settings it was computed with."""
        image = np.ascontiguousarray(image, dtype=np.float32)
        if image.ndim not in (2, 3):
            raise ValueError(f'image: expected a 2D (H, W) or 3D (C, H, W) array, got shape {image.shape}')
        settings_dict, settings_hash = settings_as_dict(settings)
        # ArrayData.set_array goes through a NamedTemporaryFile; writing the .npy bytes from memory is the same
        # file format (get_array reads it) at a fraction of the cost, which matters at thousands of images per batch.
        buffer = io.BytesIO()
        np.save(buffer, image, allow_pickle=False)
        self.base.attributes.set('image_sha256', hashlib.sha256(buffer.getvalue()).hexdigest())
        buffer.seek(0)
        self.base.repository.put_object_from_filelike(buffer, f'{ARRAY_NAME}.npy')
        self.base.attributes.set(f'{self.array_prefix}{ARRAY_NAME}', list(image.shape))
        self.base.attributes.set('image_shape', list(image.shape))
        self.base.attributes.set('settings', settings_dict)
        self.base.attributes.set('settings_hash', settings_hash)
        # Kept in memory, read-only: the same content as the file (the caller's array may change, this copy cannot),
        # so that ``predict`` right after ``compute_fingerprints`` in the same process reads no file back.
        self._image = image.copy()
        self._image.setflags(write=False)

    def set_lattice(self, lattice: Mapping[str, Any] | None) -> None:
        """Record what the orientation step found (:meth:`aiida_crystalface.core.orientation.Lattice.to_dict`).

        ``lattice_found`` and ``lattice_score`` become attributes of their own (to filter on in a QueryBuilder), the
        whole record the attribute ``lattice``. None (orientation not ``'lattice'``) records nothing.
        """
        if lattice is None:
            return
        self.base.attributes.set('lattice_found', bool(lattice['lattice_found']))
        self.base.attributes.set('lattice_score', float(lattice['lattice_score']))
        self.base.attributes.set('lattice', dict(lattice))

    @property
    def lattice_found(self) -> bool | None:
        """Whether the orientation step found a lattice (None: it did not run, orientation not ``'lattice'``)."""
        return self.base.attributes.get('lattice_found', None)

    @property
    def lattice_score(self) -> float | None:
        """How well the lattice was found: 1 for a perfect crystal, 0 where none was found (None: not run)."""
        return self.base.attributes.get('lattice_score', None)

    @property
    def image(self) -> np.ndarray:
        """The fingerprint image as a float32 array (read-only where it is the copy kept in memory)."""
        image = getattr(self, '_image', None)
        return image if image is not None else self.get_array(ARRAY_NAME)

    @property
    def settings(self) -> dict:
        return dict(self.base.attributes.get('settings', {}))

    @property
    def settings_hash(self) -> str:
        return self.base.attributes.get('settings_hash', '')

    def store(self, **kwargs: Any) -> FingerprintData:
        """Store the node after checking that it holds one image and the hash of its settings."""
        if ARRAY_NAME not in self.get_arraynames():
            raise ValueError(f'{self.__class__.__name__}: no image set; call set_image() before storing')
        if not self.settings_hash:
            raise ValueError(f'{self.__class__.__name__}: the settings hash is missing')
        if not self.is_stored:
            content = self.base.repository.get_object_content(f'{ARRAY_NAME}.npy', mode='rb')
            if hashlib.sha256(content).hexdigest() != self.base.attributes.get('image_sha256', None):
                raise ValueError(f'{self.__class__.__name__}: the image_sha256 attribute does not match the image file')
        return super().store(**kwargs)


class FingerprintCaching(NodeCaching):
    """The hash of a fingerprint node: its class and attributes, where ``image_sha256`` stands for the image file.

    aiida-core's default adds the hash of the node's repository, which asks the object store whether each file exists
    (a new connection to its index per call), every time the node is hashed: when it is stored and again for every
    process that takes it as an input. The attribute ``image_sha256`` (checked against the file at storing) is the
    same information, as aiida-pseudo's ``md5`` is for a pseudopotential file.
    """

    def get_objects_to_hash(self) -> dict[str, Any]:
        node = self._node
        return {
            'class': str(node.__class__),
            'attributes': dict(node.base.attributes.items()),
            'computer_uuid': node.computer.uuid if node.computer is not None else None,
        }


set_caching_class(FingerprintData, FingerprintCaching)
