"""Calcfunction: per-atom classifications -> the fraction of each label per structure or frame, and the totals."""

from __future__ import annotations

from aiida import orm
from aiida.engine import calcfunction

from aiida_crystalface._internals import batched_links

__all__ = ('summarize_local',)


@batched_links
@calcfunction
def summarize_local(**classifications: orm.Data) -> orm.Dict:
    """Summarise per-atom classifications (``crystalface.local_classification`` nodes) from their attributes alone.

    :param classifications: the nodes, by name (a structure's name or ``frame_<index>``).
    :returns: a Dict with ``labels`` (the label vocabulary: the model's classes, ``unknown``, ``amorphous``),
        ``names`` (sorted), ``frames`` and ``n_atoms`` ([per name]), ``fractions`` ({label: [per name]}) and
        ``totals`` (``n_atoms``, ``counts`` and ``fractions`` over every atom of every node).
    """
    names = sorted(classifications)
    attributes = [dict(classifications[name].base.attributes.items()) for name in names]
    labels: list[str] = list(attributes[0]['labels_order']) if attributes else []
    for name, item in zip(names, attributes, strict=True):
        if list(item['labels_order']) != labels:
            raise ValueError(f'{name}: labels {item["labels_order"]} differ from {labels} (another model?)')
    total_atoms = sum(int(item['n_atoms']) for item in attributes)
    counts = {label: sum(int(item['counts'][label]) for item in attributes) for label in labels}
    return orm.Dict(
        {
            'labels': labels,
            'names': names,
            'frames': [item.get('frame') for item in attributes],
            'n_atoms': [int(item['n_atoms']) for item in attributes],
            'fractions': {label: [float(item['fractions'][label]) for item in attributes] for label in labels},
            'totals': {
                'n_atoms': total_atoms,
                'counts': counts,
                'fractions': {label: count / total_atoms if total_atoms else 0.0 for label, count in counts.items()},
            },
        }
    )
