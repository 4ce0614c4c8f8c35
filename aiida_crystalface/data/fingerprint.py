"""The fingerprint image node: the array in the repository, the settings that made it in the attributes."""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

import numpy as np
from aiida import orm

from aiida_crystalface.caching import BatchNodeCaching
from aiida_crystalface.data.links import OutputNodeLinks

__all__ = ('FingerprintData',)

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


def put_in_object_store(node: orm.Node, path: str, handle: io.BytesIO) -> bool:
    """Write the only file of an unstored node straight into the profile's object store; ``False`` where it cannot.

    aiida-core writes the files of a new node into a sandbox folder (a folder, a file and their removal per node) and
    copies them into the object store when the node is stored. Here the file is written once, where it ends up: the
    node's repository becomes an ``aiida.repository.Repository`` on the profile's repository backend holding the
    file, which is how aiida-core itself gives a node stored from the cache its files (``NodeRepository._copy``).
    Storing the node then records the file's key as usual; its content, key and hash are the ones the sandbox path
    gives (the tests compare them). The one internal detail is the ``NodeRepository._repository`` property that
    holds a node's repository: where it is missing, or the node is stored or already has files, nothing is written
    and ``False`` sends the caller to the public path (``node.base.repository.put_object_from_filelike``).
    """
    from aiida.repository import Repository

    interface = node.base.repository
    holder = getattr(type(interface), '_repository', None)
    if node.is_stored or not isinstance(holder, property) or holder.fset is None or interface.list_object_names():
        return False
    repository = Repository(backend=node.backend.get_repository())
    repository.put_object_from_filelike(handle, path)
    interface._repository = repository
    return True


class FingerprintData(orm.ArrayData):
    """A two-dimensional diffraction fingerprint (float32, values in [0, 1]).

    Attributes: ``settings`` (the ``FingerprintSettings`` as a dict), ``settings_hash`` (16 hex characters),
    ``image_shape``; with the orientation step (the default), ``lattice_found``, ``lattice_score`` and the whole
    record as ``lattice`` (:meth:`set_lattice`). The image itself is the array ``image`` (an ``.npy`` file in the
    repository).
    """

    _CLS_NODE_LINKS = OutputNodeLinks
    _CLS_NODE_CACHING = BatchNodeCaching  # aiida-core's hash, computed faster (aiida_crystalface.caching)

    def __init__(self, image: np.ndarray | None = None, settings: Any = None, **kwargs: Any):
        super().__init__(**kwargs)
        if image is not None:
            self.set_image(image, settings)

    def set_image(self, image: np.ndarray, settings: Any = None, *, to_object_store: bool = False) -> None:
        """Set the image and the settings it was computed with.

        :param to_object_store: write the image file straight into the profile's object store instead of a sandbox
            folder that is copied there when the node is stored (see :func:`put_in_object_store`). For nodes that
            will be stored, such as the outputs of a calcfunction: a node never stored leaves an unreferenced
            object behind, which ``verdi storage maintain`` deletes.
        """
        image = np.ascontiguousarray(image, dtype=np.float32)
        if image.ndim not in (2, 3):
            raise ValueError(f'image: expected a 2D (H, W) or 3D (C, H, W) array, got shape {image.shape}')
        settings_dict, settings_hash = settings_as_dict(settings)
        # ArrayData.set_array goes through a NamedTemporaryFile; writing the .npy bytes from memory is the same
        # file format (get_array reads it) at a fraction of the cost, which matters at thousands of images per batch.
        buffer = io.BytesIO()
        np.save(buffer, image, allow_pickle=False)
        buffer.seek(0)
        if not (to_object_store and put_in_object_store(self, f'{ARRAY_NAME}.npy', buffer)):
            self.base.repository.put_object_from_filelike(buffer, f'{ARRAY_NAME}.npy')
        self.base.attributes.set(f'{self.array_prefix}{ARRAY_NAME}', list(image.shape))
        self.base.attributes.set('image_shape', list(image.shape))
        self.base.attributes.set('settings', settings_dict)
        self.base.attributes.set('settings_hash', settings_hash)
        self._written_image = image.copy()  # the caller may change its array before the node is stored

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
        """The fingerprint image as a float32 array."""
        return self.get_array(ARRAY_NAME)

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
        super().store(**kwargs)
        # ArrayData caches an array once it has read it back from the stored file; the array just written is that
        # content, so seed the cache with it: the predict step that follows in the same process then reads nothing
        # back from the repository (a file open per image otherwise).
        written = getattr(self, '_written_image', None)
        if written is not None:
            self._cached_arrays[ARRAY_NAME] = written
            self._written_image = None
        return self
