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
    predicted_class: str, min_probability: float = 0.0, model: ConvNetModelData | None = None
) -> list[tuple[orm.StructureData, ClassificationData]]:
    """Structures predicted as ``predicted_class`` (a class name, ``'unknown'`` or ``'amorphous'``) with
    ``max_probability`` >= ``min_probability`` (by ``model`` when given).

    Returns (structure, prediction) pairs. The chain prediction <- predict <- fingerprint <- compute_fingerprints <-
    structure is followed through the link labels (a batched calcfunction names each output after its input): one
    join along the whole chain would return batch-size squared rows per prediction, since in a batch every
    prediction descends from every structure, so the chain is followed in a few queries restricted to the labels.
    """
    builder = orm.QueryBuilder()
    builder.append(
        ClassificationData,
        tag='prediction',
        filters={
            'attributes.predicted_class': predicted_class,
            'attributes.max_probability': {'>=': float(min_probability)},
        },
        project='*',
    )
    builder.append(orm.CalcFunctionNode, with_outgoing='prediction', tag='predict', project='id', edge_project='label')
    if model is not None:
        builder.append(ConvNetModelData, with_outgoing='predict', filters={'id': model.pk})
    rows = [(r['prediction']['*'], r['predict']['id'], r['prediction--predict']['label']) for r in builder.iterdict()]
    if not rows:
        return []
    fingerprints = _inputs_by_name({(calc, name) for _, calc, name in rows})
    creators = _creators(set(fingerprints.values()))
    structures = _inputs_by_name(set(creators.values()), project_structure=True)
    pairs = []
    for prediction, calc, name in rows:
        structure = structures.get(creators.get(fingerprints.get((calc, name))))
        if structure is not None:
            pairs.append((structure, prediction))
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


def _inputs_by_name(pairs: set[tuple[int, str]], project_structure: bool = False) -> dict[tuple[int, str], Any]:
    """``(calc id, link label)`` -> the input node id (or the StructureData node) linked under that label."""
    from aiida import orm

    from aiida_crystalface.data.fingerprint import FingerprintData

    calcs, names = {c for c, _ in pairs}, {n for _, n in pairs}
    qb = orm.QueryBuilder()
    qb.append(orm.CalcFunctionNode, filters={'id': {'in': sorted(calcs)}}, tag='calc', project=['id'])
    cls = orm.StructureData if project_structure else FingerprintData
    qb.append(
        cls,
        with_outgoing='calc',
        tag='node',
        edge_filters={'label': {'in': sorted(names)}},
        edge_project=['label'],
        project=['*' if project_structure else 'id'],
    )
    found = {}
    for row in qb.iterdict():
        key = (row['calc']['id'], row['calc--node']['label'])
        if key in pairs:
            found[key] = row['node']['*' if project_structure else 'id']
    return found


def _creators(fingerprint_ids: set[int]) -> dict[int, tuple[int, str]]:
    """fingerprint id -> (id of the calcfunction that created it, the output link label)."""
    from aiida import orm

    from aiida_crystalface.data.fingerprint import FingerprintData

    qb = orm.QueryBuilder()
    qb.append(FingerprintData, filters={'id': {'in': sorted(fingerprint_ids)}}, tag='fp', project=['id'])
    qb.append(orm.CalcFunctionNode, with_outgoing='fp', tag='calc', project=['id'], edge_project=['label'])
    return {row['fp']['id']: (row['calc']['id'], row['fp--calc']['label']) for row in qb.iterdict()}


def _model_of_calcs(calc_ids: set[int]) -> dict[int, int]:
    """predict calcfunction id -> the pk of its model input."""
    from aiida import orm

    from aiida_crystalface.data.model import ConvNetModelData

    qb = orm.QueryBuilder()
    qb.append(orm.CalcFunctionNode, filters={'id': {'in': sorted(calc_ids)}}, tag='calc', project=['id'])
    qb.append(ConvNetModelData, with_outgoing='calc', project=['id'])
    return {calc: model for calc, model in qb.all()}
