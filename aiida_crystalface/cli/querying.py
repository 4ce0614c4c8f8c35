"""Find stored predictions with the structure and model behind each, following the exact links.

The batched calcfunctions name each output after its input (structure ``s1`` -> fingerprint ``s1`` -> prediction
``s1``), so a prediction is joined to its own structure through the link labels. Ancestry cannot do it: in a batch
every prediction descends from every structure. A single join along the chain would return batch-size squared rows
per prediction, so the chain is followed in three queries, each restricted to the labels it needs.
"""

from __future__ import annotations

from typing import Any

__all__ = ('query_predictions',)


def query_predictions(
    *, label: str | None = None, min_probability: float = 0.0, model: str | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    """Return the newest predictions matching the filters (at most ``limit``), each with its structure and model."""
    from aiida import orm

    from aiida_crystalface.data.classification import ClassificationData
    from aiida_crystalface.data.model import ConvNetModelData

    filters: dict[str, Any] = {}
    if label is not None:
        filters['attributes.predicted_class'] = label
    if min_probability > 0:
        filters['attributes.max_probability'] = {'>=': float(min_probability)}
    qb = orm.QueryBuilder()
    qb.append(
        ClassificationData,
        tag='prediction',
        filters=filters,
        project=['uuid', 'attributes.predicted_class', 'attributes.max_probability'],
    )
    qb.append(orm.CalcFunctionNode, with_outgoing='prediction', tag='predict', project=['id'], edge_project=['label'])
    if model is not None:
        model_filters = {'id': int(model)} if model.isdigit() else {'uuid': {'like': f'{model}%'}}
        qb.append(ConvNetModelData, with_outgoing='predict', filters=model_filters)
    qb.order_by({'prediction': {'ctime': 'desc'}}).limit(limit)
    predictions = [
        {
            'uuid': row['prediction']['uuid'],
            'label': row['prediction']['attributes.predicted_class'],
            'probability': row['prediction']['attributes.max_probability'],
            'predict': row['predict']['id'],
            'name': row['prediction--predict']['label'],
        }
        for row in qb.iterdict()
    ]
    if not predictions:
        return []
    from aiida_crystalface.provenance import _creators, _inputs_by_name, _model_of_calcs

    fingerprints = _inputs_by_name({(p['predict'], p['name']) for p in predictions})
    models = _model_of_calcs({p['predict'] for p in predictions})
    creators = _creators({fp for fp in fingerprints.values()})
    structures = _inputs_by_name(set(creators.values()), project_structure=True)
    rows = []
    for p in predictions:
        fingerprint = fingerprints.get((p['predict'], p['name']))
        structure = structures.get(creators.get(fingerprint))
        if structure is None:
            continue
        rows.append(
            {
                'prediction_uuid': p['uuid'],
                'label': p['label'],
                'probability': p['probability'],
                'model_pk': models.get(p['predict']),
                'structure_pk': structure.pk,
                'formula': structure.get_formula(),
            }
        )
    return rows
