"""Calcfunction: a model and a batch of fingerprints -> one classification per fingerprint."""

from __future__ import annotations

import functools

import numpy as np
from aiida import orm
from aiida.engine import calcfunction

from aiida_crystalface._internals import batched_links
from aiida_crystalface.calculations.utils import finish_batch
from aiida_crystalface.data.model import ConvNetModelData

__all__ = ('predict',)


@functools.lru_cache(maxsize=4)
def _classifier(uuid: str):
    """Load a model once per process: a WorkChain predicts batch after batch with the same model."""
    return orm.load_node(uuid).load_classifier()


@batched_links
@calcfunction
def predict(model: ConvNetModelData, **fingerprints: orm.ArrayData):
    """Classify every fingerprint of the batch with the model.

    :param model: the trained ConvNet (a ``crystalface.model`` node).
    :param fingerprints: fingerprint images (``crystalface.fingerprint`` nodes), by name; each output has the name
        of its fingerprint. A fingerprint in which the orientation step found no lattice gets no classification: it
        is reported as failed, with the reason.
    """
    from aiida_crystalface.core.orientation import no_lattice_message
    from aiida_crystalface.data.classification import ClassificationData

    classifier = _classifier(model.uuid)
    model_hash = model.settings_hash  # read once: each read of a stored node outside a transaction is a query
    keys, images, errors = [], [], {}
    for key, node in fingerprints.items():
        node_hash = node.base.attributes.get('settings_hash', None)
        if node_hash != model_hash:
            errors[key] = (
                f'{key} (Node<{node.pk}>): fingerprint settings {node_hash} differ from the settings '
                f'{model_hash} the model was trained on'
            )
            continue
        if node.base.attributes.get('lattice_found', True) is False:
            # Never a confident crystal class for a structure with no lattice (amorphous, gas, molecule, melt).
            lattice = node.base.attributes.get('lattice', {})
            errors[key] = f'{key} (Node<{node.pk}>): {no_lattice_message(lattice)}'
            continue
        keys.append(key)
        images.append(node.image)
    outputs = {}
    if images:
        probabilities = classifier.predict(np.stack(images), settings_hash=model_hash)
        classes = classifier.classes
        for key, row in zip(keys, probabilities, strict=True):
            outputs[key] = ClassificationData(dict(zip(classes, map(float, row), strict=True)))
    return finish_batch(outputs, errors, 'fingerprints')
