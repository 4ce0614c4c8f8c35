"""Calcfunction: a model and a batch of structures -> one per-atom classification per structure."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from aiida import orm
from aiida.engine import calcfunction

from aiida_crystalface._internals import batched_links
from aiida_crystalface.calculations.utils import finish_batch
from aiida_crystalface.data.model import ConvNetModelData

__all__ = ('BAD_STRUCTURE_ERRORS', 'classify_atoms', 'classify_one', 'local_classifier', 'window_options')

#: What a structure the classifier cannot read raises: a failure of that structure, reported with the others' results.
#: Anything else (a bug) propagates: the calcfunction is EXCEPTED, with its traceback.
BAD_STRUCTURE_ERRORS = (ValueError, KeyError, TypeError)


@functools.lru_cache(maxsize=4)
def local_classifier(uuid: str):
    """Load a model once per process: a WorkChain classifies batch after batch with the same model."""
    return orm.load_node(uuid).load_classifier()


def window_options(options: orm.Dict | None) -> dict[str, Any]:
    """The keyword arguments of ``Classifier.classify_atoms`` held by the ``options`` input (none by default)."""
    return {} if options is None else dict(options.get_dict())


def classify_one(classifier: Any, structure: Any, options: Mapping[str, Any], frame: int | None = None) -> orm.Data:
    """Classify the atoms of one structure; a :class:`LocalClassificationData` (unstored) of the answer.

    :raises: one of :data:`BAD_STRUCTURE_ERRORS` for a structure the classifier cannot read. An answer that breaks
        the node's invariants raises too (a ``ValueError`` from the node): the caller reports it as that structure's
        failure, with the message.
    """
    from aiida_crystalface.data.local import LocalClassificationData

    result = classifier.classify_atoms(structure, **options)
    return LocalClassificationData.from_result(result, classifier.classes, frame=frame)


@batched_links
@calcfunction
def classify_atoms(model: ConvNetModelData, options: orm.Dict | None = None, **structures: orm.StructureData):
    """Classify every atom of every structure of the batch with the model (``Classifier.classify_atoms``).

    :param model: the trained ConvNet (a ``crystalface.model`` node).
    :param options: the window options, passed as keyword arguments to ``Classifier.classify_atoms``; by default
        the classifier's own.
    :param structures: the structures, by name; each output (a ``crystalface.local_classification`` node) has the
        name of its structure. A structure the classifier cannot read is reported as failed, with the reason, and
        every other one is classified; a periodic or finite structure is classified as its ``pbc`` says.
    """
    classifier = local_classifier(model.uuid)
    kwargs = window_options(options)
    outputs, errors = {}, {}
    for key, node in structures.items():
        try:
            outputs[key] = classify_one(classifier, node, kwargs)
        except BAD_STRUCTURE_ERRORS as exception:
            errors[key] = f'{key} (StructureData<{node.pk}>): {exception}'
    return finish_batch(outputs, errors, 'structures')
