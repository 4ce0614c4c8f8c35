"""Run ClassifyStructuresWorkChain on structures from the command line and read its outputs back per structure."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import click

__all__ = ('ClassificationRun', 'classify_structures')


@dataclasses.dataclass
class ClassificationRun:
    """The workchain node, the model's class names and one result per input structure, in input order.

    A result is ``{'label', 'probabilities', 'uuid', 'image'}`` (``uuid`` of the prediction node, ``image`` the
    fingerprint array) or ``{'error'}``.
    """

    workchain: Any
    classes: list[str]
    results: list[dict[str, Any]]


def classify_structures(
    structures: Sequence, *, model: str | None, group_label: str | None = None
) -> ClassificationRun:
    """Store ``structures`` (internal form) as StructureData, classify them with provenance, return the results.

    ``group_label``: also add the stored structures to this group (created when missing).
    """
    from aiida import orm
    from aiida.engine import run_get_node
    from aiida.plugins import WorkflowFactory

    from .models_io import load_model_node

    nodes = {f's{i:06d}': _structure_node(structure) for i, structure in enumerate(structures)}
    for node in nodes.values():
        node.store()
    if group_label:
        group, _ = orm.Group.collection.get_or_create(group_label)
        group.add_nodes(list(nodes.values()))
    inputs: dict[str, Any] = {'structures': nodes}
    if model is not None:
        inputs['model'] = _model_node(model, load_model_node)
    workchain_class = WorkflowFactory('crystalface.classify')
    outputs, node = run_get_node(workchain_class, **inputs)
    predictions = outputs.get('predictions', {})
    fingerprints = outputs.get('fingerprints', {})
    failures = _failures(node)
    results = []
    for name, structure in zip(nodes, structures, strict=True):
        prediction = predictions.get(name)
        if prediction is None:
            results.append({'error': failures.get(name, f'{structure.label}: not classified (see {node.pk})')})
            continue
        fingerprint = fingerprints.get(name)
        results.append(
            {
                'label': prediction.predicted_class,
                'probabilities': prediction.probabilities,
                'uuid': prediction.uuid,
                'image': None if fingerprint is None else fingerprint.image,
            }
        )
    classes = next(iter(predictions.values())).base.attributes.get('classes') if predictions else []
    return ClassificationRun(node, list(classes), results)


def _structure_node(structure):
    """StructureData of an internal-form structure, labelled with the file (or item) it came from."""
    from aiida_crystalface.calculations.utils import structure_data

    node = structure_data(structure)
    node.label = structure.label[:255]
    return node


def _model_node(model: str, load_model_node):
    from pathlib import Path

    from aiida_crystalface.data.model import ConvNetModelData

    if Path(model).is_file():
        try:
            return ConvNetModelData.get_or_create(Path(model).resolve())
        except ValueError as exception:  # ModelFileError is a ValueError
            raise click.BadParameter(str(exception), param_hint='--model') from None
    return load_model_node(model)


def _failures(node) -> dict[str, str]:
    """Per-structure failure messages reported by the workchain (``failures`` output or the exit message)."""
    failures = node.outputs.failures.get_dict() if 'failures' in node.outputs else {}
    return {str(k): str(v) for k, v in failures.items()}
