"""Find stored predictions with the structure, fingerprint and model behind each, following the exact links.

The batched calcfunctions name each output after its input (structure ``s1`` -> fingerprint ``s1`` -> prediction
``s1``), so a prediction is joined to its own structure through the link labels, never by guessing among ancestors.
"""

from __future__ import annotations

from typing import Any

__all__ = ('query_predictions',)


def query_predictions(
    *, label: str | None = None, min_probability: float = 0.0, model: str | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    """Return the newest predictions matching the filters, each with its structure and model."""
    from aiida import orm

    from aiida_crystalface.data.classification import ClassificationData
    from aiida_crystalface.data.fingerprint import FingerprintData
    from aiida_crystalface.data.model import ConvNetModelData

    filters: dict[str, Any] = {}
    if label is not None:
        filters['attributes.label'] = label
    if min_probability > 0:
        filters['attributes.max_probability'] = {'>=': float(min_probability)}
    model_filters = {}
    if model is not None:
        model_filters = {'uuid': {'like': f'{model}%'}} if not model.isdigit() else {'id': int(model)}
    qb = orm.QueryBuilder()
    qb.append(
        ClassificationData,
        tag='prediction',
        filters=filters,
        project=['uuid', 'attributes.label', 'attributes.max_probability'],
    )
    qb.append(orm.CalcFunctionNode, with_outgoing='prediction', tag='predict', edge_project=['label'])
    qb.append(ConvNetModelData, with_outgoing='predict', filters=model_filters, tag='model', project=['id'])
    qb.append(FingerprintData, with_outgoing='predict', tag='fingerprint', edge_project=['label'])
    qb.append(orm.CalcFunctionNode, with_outgoing='fingerprint', tag='compute', edge_project=['label'])
    qb.append(orm.StructureData, with_outgoing='compute', tag='structure', edge_project=['label'], project=['*'])
    qb.order_by({'prediction': {'ctime': 'desc'}})
    rows = []
    for row in qb.iterdict():
        # Each link label ends with the structure's name: keep the one row where the four names agree.
        names = {
            _name(row[edge]['label'])
            for edge in ('prediction--predict', 'predict--fingerprint', 'fingerprint--compute', 'compute--structure')
        }
        if len(names) != 1:
            continue
        prediction, structure = row['prediction'], row['structure']['*']
        rows.append(
            {
                'prediction_uuid': prediction['uuid'],
                'label': prediction['attributes.label'],
                'probability': prediction['attributes.max_probability'],
                'model_pk': row['model']['id'],
                'structure_pk': structure.pk,
                'formula': structure.get_formula(),
            }
        )
        if len(rows) >= limit:
            break
    return rows


def _name(link_label: str) -> str:
    """The last part of a (possibly namespaced, ``a__b``) link label."""
    return link_label.rsplit('__', 1)[-1]
