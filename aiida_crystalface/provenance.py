"""Provenance helpers: QueryBuilder recipes over the nodes of the plugin (see docs/queries.md).

Every helper follows exact links of the graph (calcfunction inputs and outputs), never heuristics: a prediction is
joined to its fingerprint through the ``predict`` calcfunction that created it, a fingerprint to its structure
through ``compute_fingerprints`` with the same link label.
"""

from __future__ import annotations

from typing import Any

from aiida import orm
from aiida.common.links import LinkType

from aiida_crystalface.data import ClassificationData, ConvNetModelData, FingerprintData, FingerprintDatasetData

__all__ = (
    'classification_results',
    'prediction_provenance',
    'predictions_of_model',
    'structures_by_class',
    'training_set_of_model',
)


def structures_by_class(
    label: str, min_probability: float = 0.0, model: ConvNetModelData | None = None
) -> list[tuple[orm.StructureData, ClassificationData]]:
    """Structures predicted as ``label`` with probability >= ``min_probability`` (by ``model`` when given).

    Returns (structure, prediction) pairs. The query walks prediction <- predict <- fingerprint <-
    compute_fingerprints <- structure; the structure is matched to the prediction by the shared link label.
    """
    builder = orm.QueryBuilder()
    builder.append(
        ClassificationData,
        tag='prediction',
        filters={'attributes.label': label, 'attributes.max_probability': {'>=': float(min_probability)}},
        project='*',
    )
    builder.append(
        orm.CalcFunctionNode, with_outgoing='prediction', tag='predict', edge_project='label', edge_tag='out'
    )
    if model is not None:
        builder.append(ConvNetModelData, with_outgoing='predict', filters={'id': model.pk})
    builder.append(FingerprintData, with_outgoing='predict', tag='fingerprint', edge_project='label', edge_tag='in_fp')
    builder.append(
        orm.CalcFunctionNode, with_outgoing='fingerprint', tag='fingerprints', edge_project='label', edge_tag='out_fp'
    )
    builder.append(
        orm.StructureData,
        with_outgoing='fingerprints',
        tag='structure',
        project='*',
        edge_project='label',
        edge_tag='in_s',
    )
    pairs = []
    for row in builder.iterdict():
        # Same name along the whole chain: the structure that made this fingerprint, the fingerprint behind this
        # prediction (a batch holds many structures, each linked under its own name).
        names = {row[tag]['label'] for tag in ('out', 'in_fp', 'out_fp', 'in_s')}
        if len(names) == 1:
            pairs.append((row['structure']['*'], row['prediction']['*']))
    return pairs


def prediction_provenance(prediction: ClassificationData) -> dict[str, Any]:
    """The model, fingerprint image, settings and structure behind one prediction."""
    predict = prediction.base.links.get_incoming(link_type=LinkType.CREATE).one()
    name = predict.link_label
    inputs = {t.link_label: t.node for t in predict.node.base.links.get_incoming(link_type=LinkType.INPUT_CALC).all()}
    fingerprint = inputs[name]
    creator = fingerprint.base.links.get_incoming(link_type=LinkType.CREATE).one()
    upstream = {t.link_label: t.node for t in creator.node.base.links.get_incoming(link_type=LinkType.INPUT_CALC).all()}
    return {
        'model': inputs['model'],
        'fingerprint': fingerprint,
        'image': fingerprint.image,
        'settings': fingerprint.settings,
        'settings_node': upstream.get('settings'),
        'structure': upstream.get(creator.link_label),
    }


def predictions_of_model(model: ConvNetModelData) -> list[ClassificationData]:
    """Every prediction made with ``model``."""
    builder = orm.QueryBuilder()
    builder.append(ConvNetModelData, filters={'id': model.pk}, tag='model')
    builder.append(orm.CalcFunctionNode, with_incoming='model', tag='predict')
    builder.append(ClassificationData, with_incoming='predict', project='*')
    return builder.all(flat=True)


def training_set_of_model(model: ConvNetModelData) -> dict[str, Any]:
    """The dataset node and the hyper-parameters the model was trained with (``None`` for a model not trained in
    this profile, such as the bundled one)."""
    incoming = model.base.links.get_incoming(link_type=LinkType.CREATE).all()
    if not incoming:
        return {'dataset': None, 'parameters': None, 'calculation': None}
    calculation = incoming[0].node
    inputs = {t.link_label: t.node for t in calculation.base.links.get_incoming(link_type=LinkType.INPUT_CALC).all()}
    dataset = inputs.get('dataset')
    parameters = inputs.get('parameters')
    return {
        'dataset': dataset if isinstance(dataset, FingerprintDatasetData) else None,
        'parameters': parameters.get_dict() if parameters is not None else {},
        'calculation': calculation,
    }


def classification_results(workchain: orm.WorkflowNode) -> dict[str, dict[str, Any]]:
    """The structure, fingerprint and prediction of every input of a ``ClassifyStructuresWorkChain``, by input name.

    Works whether or not the WorkChain returned its outputs (``return_outputs``): it follows the links of the
    calcfunctions the WorkChain called (``CALL_CALC``), so it is exact, and it costs four queries whatever the size.
    An input that failed has no entry (a failed fingerprint) or ``prediction`` set to ``None`` (a failed prediction).
    """
    fingerprints = _called_links(workchain, 'compute_fingerprints', FingerprintData, outgoing=True)
    structures = _called_links(workchain, 'compute_fingerprints', orm.StructureData, outgoing=False)
    inputs = _called_links(workchain, 'predict', FingerprintData, outgoing=False)
    predictions = _called_links(workchain, 'predict', ClassificationData, outgoing=True)
    by_fingerprint = {inputs[key].pk: predictions.get(key) for key in inputs}
    return {
        name: {
            'structure': structures[(calc, name)],
            'fingerprint': fingerprint,
            'prediction': by_fingerprint.get(fingerprint.pk),
        }
        for (calc, name), fingerprint in fingerprints.items()
    }


def _called_links(workchain: orm.WorkflowNode, label: str, cls: type, outgoing: bool) -> dict[tuple[int, str], Any]:
    """(calcfunction pk, link label) -> node, for the outputs or inputs of class ``cls`` of every calcfunction
    labelled ``label`` that ``workchain`` called."""
    builder = orm.QueryBuilder()
    builder.append(orm.WorkflowNode, filters={'id': workchain.pk}, tag='workchain')
    builder.append(
        orm.CalcFunctionNode,
        with_incoming='workchain',
        edge_filters={'type': LinkType.CALL_CALC.value},
        filters={'attributes.process_label': label},
        project='id',
        tag='calc',
    )
    link_type = LinkType.CREATE if outgoing else LinkType.INPUT_CALC
    relation = {'with_incoming': 'calc'} if outgoing else {'with_outgoing': 'calc'}
    builder.append(
        cls,
        **relation,
        edge_filters={'type': link_type.value},
        edge_project='label',
        edge_tag='link',
        project='*',
        tag='node',
    )
    return {(row['calc']['id'], row['link']['label']): row['node']['*'] for row in builder.iterdict()}
