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
def predict(model: ConvNetModelData, precision: orm.Str | None = None, **fingerprints: orm.ArrayData):
    """Classify every fingerprint of the batch with the model: a class, ``unknown`` or ``amorphous`` for each.

    :param model: the trained ConvNet (a ``crystalface.model`` node).
    :param precision: of the network (:meth:`Classifier.logits`): absent for float32, or ``'bfloat16'`` or
        ``'int8'`` (the int8 parameters stored in the model file: ``Classifier.quantize``). Recorded as an input, so
        a prediction says how it was computed.
    :param fingerprints: fingerprint images (``crystalface.fingerprint`` nodes), by name; each output has the name
        of its fingerprint. The answer is :meth:`Classifier.decide`'s: a fingerprint in which the orientation step
        found no long-range order gets a classification ``amorphous`` (a result, not a failure); one whose settings
        differ from the model's is reported as failed, with the reason.
    """
    from aiida_crystalface.data.classification import ClassificationData

    classifier = _classifier(model.uuid)
    model_hash = model.settings_hash  # read once: each read of a stored node outside a transaction is a query
    keys, images, lattices, errors = [], [], [], {}
    for key, node in fingerprints.items():
        attributes = node.base.attributes
        node_hash = attributes.get('settings_hash', None)
        if node_hash != model_hash:
            errors[key] = (
                f'{key} (Node<{node.pk}>): fingerprint settings {node_hash} differ from the settings '
                f'{model_hash} the model was trained on'
            )
            continue
        lattice = attributes.get('lattice', None)
        keys.append(key)
        images.append(node.image)
        lattices.append(dict(lattice) if lattice else attributes.get('lattice_found', True) is not False)
    outputs = {}
    if images:
        classifier.check_settings(model_hash)
        answers = classifier.decide(np.stack(images), lattices, precision=precision.value if precision else 'float32')
        for key, answer in zip(keys, answers, strict=True):
            outputs[key] = ClassificationData(
                answer['probabilities'], predicted_class=answer['label'], uncertainty=answer['uncertainty']
            )
    return finish_batch(outputs, errors, 'fingerprints')
