"""Calcfunction: a batch of structures -> one fingerprint image per structure."""

from __future__ import annotations

from aiida import orm
from aiida.engine import calcfunction

from aiida_crystalface._internals import batched_links
from aiida_crystalface.calculations.utils import finish_batch, to_atomic

__all__ = ('compute_fingerprints',)


@batched_links
@calcfunction
def compute_fingerprints(settings: orm.Dict, **structures: orm.StructureData):
    """Compute the diffraction fingerprint of every structure of the batch.

    :param settings: the ``FingerprintSettings`` as a dict (``FingerprintSettings.to_dict()``).
    :param structures: the structures, by name; each output has the name of its structure.
    """
    from aiida_crystalface.core.diffraction import FingerprintSettings, fingerprint_batch
    from aiida_crystalface.data.fingerprint import FingerprintData

    fingerprint_settings = FingerprintSettings.from_dict(settings.get_dict())
    keys, atomics, errors = [], [], {}
    for key, node in structures.items():
        try:
            atomics.append(to_atomic(key, node))
            keys.append(key)
        except (ValueError, KeyError, TypeError) as exception:
            errors[key] = str(exception)
    outputs = {}
    if atomics:
        result = fingerprint_batch(atomics, fingerprint_settings)
        for index, message in result.errors.items():
            errors[keys[index]] = str(message)
        for image, index, lattice in zip(result.images, result.ok, result.lattices, strict=True):
            node = FingerprintData()
            node.set_image(image, fingerprint_settings)
            node.set_lattice(lattice)
            outputs[keys[index]] = node
    return finish_batch(outputs, errors, 'structures')
