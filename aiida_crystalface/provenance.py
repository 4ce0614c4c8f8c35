"""Provenance helpers: QueryBuilder recipes over the nodes of the plugin (see docs/queries.md).

Every helper follows exact links of the graph (calcfunction inputs and outputs), never heuristics: a prediction is
joined to its fingerprint through the ``predict`` calcfunction that created it, a fingerprint to its structure
through ``compute_fingerprints`` with the same link label; a per-atom classification to its structure through the
``classify_atoms`` calcfunction (or to its trajectory through ``classify_trajectory``).
"""

from __future__ import annotations

from typing import Any

from aiida import orm
from aiida.common.links import LinkType

from aiida_crystalface.data import (
    ClassificationData,
    ConvNetModelData,
    FingerprintData,
    FingerprintDatasetData,
    LocalClassificationData,
)

__all__ = (
    'classification_results',
    'local_results',
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


def local_results(
    label: str | None = None, min_fraction: float | None = None, model: ConvNetModelData | None = None
) -> list[tuple[orm.Data, LocalClassificationData]]:
    """Per-atom classifications whose fraction of atoms labelled ``label`` exceeds ``min_fraction``, with the
    structure (or trajectory) each was made from; by ``model`` when given.

    :param label: a class name of the model, ``'unknown'`` or ``'amorphous'``; None: every per-atom classification.
    :param min_fraction: the fraction that ``label`` must exceed (strictly); by default 0 (at least one atom).
    :param model: only the classifications made with this model.
    :returns: ``(source, classification)`` pairs, oldest first: ``source`` is the StructureData, or the
        TrajectoryData of a frame (its index is ``classification.frame``).

    The recipe, for a query of one's own (every label is in ``fractions``, 0.0 where absent, so no existence test is
    needed)::

        builder = orm.QueryBuilder()
        builder.append(LocalClassificationData, filters={'attributes.fractions.bcc': {'>': 0.2}}, tag='local')
        builder.append(orm.CalcFunctionNode, with_outgoing='local', edge_project='label', tag='calc')
        builder.append(ConvNetModelData, with_outgoing='calc', filters={'id': model.pk})  # optional

    The structure is the input of that calcfunction linked under the output's label (``classify_atoms`` names each
    output after its structure); the trajectory, its input ``trajectory`` (``classify_trajectory``).
    """
    if label is None and min_fraction is not None:
        raise ValueError('min_fraction: give the label whose fraction it bounds')
    filters: dict[str, Any] = {}
    if label is not None:
        if not label.isidentifier():
            raise ValueError(f'label: a class name such as bcc, not {label!r}')
        filters[f'attributes.fractions.{label}'] = {'>': float(min_fraction or 0.0)}
    builder = orm.QueryBuilder()
    builder.append(LocalClassificationData, filters=filters, project='*', tag='local')
    builder.append(
        orm.CalcFunctionNode,
        with_outgoing='local',
        edge_filters={'type': LinkType.CREATE.value},
        edge_project='label',
        project='id',
        tag='calc',
    )
    if model is not None:
        builder.append(ConvNetModelData, with_outgoing='calc', filters={'id': model.pk})
    rows = [(r['local']['*'], r['calc']['id'], r['local--calc']['label']) for r in builder.iterdict()]
    if not rows:
        return []
    sources = orm.QueryBuilder()
    sources.append(orm.CalcFunctionNode, filters={'id': {'in': sorted({c for _, c, _ in rows})}}, project='id', tag='c')
    sources.append(
        (orm.StructureData, orm.TrajectoryData),
        with_outgoing='c',
        edge_filters={
            'type': LinkType.INPUT_CALC.value,
            'label': {'in': sorted({n for _, _, n in rows} | {'trajectory'})},
        },
        edge_project='label',
        project='*',
        tag='source',
    )
    by_link = {(r['c']['id'], r['c--source']['label']): r['source']['*'] for r in sources.iterdict()}
    pairs = []
    for node, calc, name in sorted(rows, key=lambda row: row[0].pk):
        source = by_link.get((calc, name), by_link.get((calc, 'trajectory')))
        if source is not None:
            pairs.append((source, node))
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


# --- Queries of the command line (aiida-crystalface query / classify). Self-contained: they read the predicted class
# through predicted_class_key(), so that they work whether the attribute is called 'label' or 'predicted_class'.


def predicted_class_key() -> str:
    """The attribute of a ClassificationData holding its predicted class (``predicted_class``, formerly ``label``)."""
    return 'predicted_class' if hasattr(ClassificationData, 'predicted_class') else 'label'


def predicted_class(prediction: orm.Data) -> str:
    """The predicted class of a ClassificationData node, whatever the attribute's name."""
    attributes = prediction.base.attributes
    return attributes.get('predicted_class', None) or attributes.get('label')


def predictions_of_structures(
    structure_pks: Any, model: orm.Data, *, precision: str = 'float32'
) -> dict[int, ClassificationData]:
    """structure pk -> the newest prediction that ``model`` made for it, for each of ``structure_pks`` that has one.

    Only predictions made at ``precision`` count (a ``predict`` call with no ``precision`` input ran in float32).
    Follows the chain structure -> compute_fingerprints -> fingerprint -> predict (with ``model`` as input) ->
    prediction through the link labels (each batched calcfunction names its outputs after its inputs), one query per
    link, each restricted to the labels it needs.
    """
    pks = sorted(set(structure_pks))
    if not pks:
        return {}
    # structure -> (compute_fingerprints id, label)
    qb = orm.QueryBuilder()
    qb.append(orm.StructureData, filters={'id': {'in': pks}}, project='id', tag='structure')
    qb.append(
        orm.CalcFunctionNode,
        with_incoming='structure',
        filters={'attributes.process_label': 'compute_fingerprints'},
        edge_filters={'type': LinkType.INPUT_CALC.value},
        edge_project='label',
        project='id',
        tag='calc',
    )
    structure_of = {(r['calc']['id'], r['structure--calc']['label']): r['structure']['id'] for r in qb.iterdict()}
    # fingerprint id -> structure pk
    fingerprint_structure = {fp: pk for pk, fp in _outputs_by_name(structure_of, FingerprintData, 'id')}
    if not fingerprint_structure:
        return {}
    # fingerprint -> (predict id, label), only for predict calcfunctions that had ``model`` as input
    qb = orm.QueryBuilder()
    qb.append(FingerprintData, filters={'id': {'in': sorted(fingerprint_structure)}}, project='id', tag='fingerprint')
    qb.append(
        orm.CalcFunctionNode,
        with_incoming='fingerprint',
        filters={'attributes.process_label': 'predict'},
        edge_filters={'type': LinkType.INPUT_CALC.value},
        edge_project='label',
        project='id',
        tag='predict',
    )
    qb.append(orm.Data, with_outgoing='predict', filters={'id': model.pk})
    fingerprint_of = {
        (r['predict']['id'], r['fingerprint--predict']['label']): r['fingerprint']['id'] for r in qb.iterdict()
    }
    if fingerprint_of:
        ran_at = _precisions({calc for calc, _ in fingerprint_of})
        fingerprint_of = {key: fp for key, fp in fingerprint_of.items() if ran_at.get(key[0], 'float32') == precision}
    found: dict[int, ClassificationData] = {}
    for prediction_fp, prediction in _outputs_by_name(fingerprint_of, ClassificationData, '*'):
        structure = fingerprint_structure[prediction_fp]
        if structure not in found or prediction.ctime > found[structure].ctime:
            found[structure] = prediction
    return found


def _precisions(calcs: set[int]) -> dict[int, str]:
    """predict id -> the value of its ``precision`` input, for those of ``calcs`` that have one."""
    qb = orm.QueryBuilder()
    qb.append(orm.CalcFunctionNode, filters={'id': {'in': sorted(calcs)}}, project='id', tag='calc')
    qb.append(
        orm.Str,
        with_outgoing='calc',
        edge_filters={'type': LinkType.INPUT_CALC.value, 'label': 'precision'},
        project='attributes.value',
    )
    return {calc: str(value) for calc, value in qb.all()}


def _outputs_by_name(sources: dict[tuple[int, str], int], cls: type, project: str) -> list[tuple[int, Any]]:
    """For ``{(calc id, label): source}``, the outputs of class ``cls`` that each calc created under the same label:
    ``[(source, output)]`` (the output's id, or the node when ``project='*'``)."""
    if not sources:
        return []
    qb = orm.QueryBuilder()
    qb.append(orm.CalcFunctionNode, filters={'id': {'in': sorted({c for c, _ in sources})}}, project='id', tag='calc')
    qb.append(
        cls,
        with_incoming='calc',
        edge_filters={'type': LinkType.CREATE.value, 'label': {'in': sorted({n for _, n in sources})}},
        edge_project='label',
        project=project,
        tag='output',
    )
    pairs = []
    for row in qb.iterdict():
        key = (row['calc']['id'], row['calc--output']['label'])
        if key in sources:
            pairs.append((sources[key], row['output'][project]))
    return pairs


def query_predictions(
    *, label: str | None = None, min_probability: float = 0.0, model: str | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    """The newest predictions matching the filters (at most ``limit``), each with its structure and model.

    Each row: ``prediction_uuid``, ``label``, ``probability``, ``uncertainty`` (``None`` when the node has none),
    ``model_pk``, ``model_uuid``, ``structure_pk``, ``structure_uuid``, ``structure_label`` (the file or item it came
    from) and ``formula``. ``model`` is a model node's PK or (a prefix of) its UUID.
    """
    key = predicted_class_key()
    filters: dict[str, Any] = {}
    if label is not None:
        filters[f'attributes.{key}'] = label
    if min_probability > 0:
        filters['attributes.max_probability'] = {'>=': float(min_probability)}
    qb = orm.QueryBuilder()
    qb.append(ClassificationData, tag='prediction', filters=filters, project='*')
    qb.append(orm.CalcFunctionNode, with_outgoing='prediction', tag='predict', project=['id'], edge_project=['label'])
    if model is not None:
        model_filters = {'id': int(model)} if str(model).isdigit() else {'uuid': {'like': f'{model}%'}}
        qb.append(ConvNetModelData, with_outgoing='predict', filters=model_filters)
    qb.order_by({'prediction': {'ctime': 'desc'}}).limit(limit)
    predictions = [
        (row['prediction']['*'], row['predict']['id'], row['prediction--predict']['label']) for row in qb.iterdict()
    ]
    if not predictions:
        return []
    fingerprints = _inputs_by_name({(calc, name) for _, calc, name in predictions})
    models = _model_of_calcs({calc for _, calc, _ in predictions})
    model_uuids = dict(
        orm.QueryBuilder()
        .append(ConvNetModelData, filters={'id': {'in': sorted(set(models.values()))}}, project=['id', 'uuid'])
        .all()
    )
    creators = _creators(set(fingerprints.values()))
    structures = _inputs_by_name(set(creators.values()), project_structure=True)
    rows = []
    for prediction, calc, name in predictions:
        structure = structures.get(creators.get(fingerprints.get((calc, name))))
        if structure is None:
            continue
        attributes = prediction.base.attributes
        rows.append(
            {
                'prediction_uuid': prediction.uuid,
                'label': predicted_class(prediction),
                'probability': float(attributes.get('max_probability')),
                'uncertainty': attributes.get('uncertainty', None),
                'model_pk': models.get(calc),
                'model_uuid': model_uuids.get(models.get(calc)),
                'structure_pk': structure.pk,
                'structure_uuid': structure.uuid,
                'structure_label': structure.label,
                'formula': structure.get_formula(),
            }
        )
    return rows


def models_overview() -> list[dict[str, Any]]:
    """Every stored model, newest first: ``pk``, ``uuid``, ``created`` (ISO), ``classes``, ``settings_hash``,
    ``test_accuracy`` (``None`` when unknown) and ``predictions`` (how many predictions it made)."""
    builder = orm.QueryBuilder().append(ConvNetModelData, project='*', tag='model')
    rows = []
    for node in builder.order_by({'model': {'ctime': 'desc'}}).all(flat=True):
        metrics = node.metrics or {}
        accuracy = metrics.get('test_accuracy', (metrics.get('test') or {}).get('accuracy'))
        rows.append(
            {
                'pk': node.pk,
                'uuid': node.uuid,
                'created': node.ctime.isoformat(),
                'classes': [str(c) for c in node.classes],
                'settings_hash': str(node.settings_hash),
                'test_accuracy': None if accuracy is None else float(accuracy),
                'predictions': _count_predictions(node.pk),
            }
        )
    return rows


def _count_predictions(model_pk: int) -> int:
    builder = orm.QueryBuilder().append(ConvNetModelData, filters={'id': model_pk}, tag='model')
    builder.append(orm.CalcFunctionNode, with_incoming='model', tag='predict')
    return builder.append(ClassificationData, with_incoming='predict').count()


def predictions_of_workchain(workchain: orm.WorkflowNode) -> dict[str, ClassificationData]:
    """Input name -> prediction, for every input that a ``ClassifyStructuresWorkChain`` classified, in one query.

    The lean sibling of :func:`classification_results` for many structures: it loads only the prediction nodes (not
    the structures and fingerprints), following the ``predict`` calcfunctions the WorkChain called, whose outputs are
    named after the inputs; it works whether or not the WorkChain returned its outputs.
    """
    builder = orm.QueryBuilder()
    builder.append(orm.WorkflowNode, filters={'id': workchain.pk}, tag='workchain')
    builder.append(
        orm.CalcFunctionNode,
        with_incoming='workchain',
        edge_filters={'type': LinkType.CALL_CALC.value},
        filters={'attributes.process_label': 'predict'},
        tag='calc',
    )
    builder.append(
        ClassificationData,
        with_incoming='calc',
        edge_filters={'type': LinkType.CREATE.value},
        edge_project='label',
        project='*',
        tag='prediction',
    )
    return {row['calc--prediction']['label']: row['prediction']['*'] for row in builder.iterdict()}
