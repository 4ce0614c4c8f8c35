"""Calcfunction: predictions of a series of structures -> mean and spread of the probabilities per step."""

from __future__ import annotations

import re

import numpy as np
from aiida import orm
from aiida.engine import calcfunction

from aiida_crystalface.calculations.links import linear_links

__all__ = ('summarize_series',)

_KEY = re.compile(r'^step_(\d+)_sample_(\d+)$')


@linear_links
@calcfunction
def summarize_series(levels: orm.List, **predictions: orm.Data) -> orm.Dict:
    """Average the classifications of each step of a series (bcc -> sc, Lindemann).

    :param levels: the defect level of each step.
    :param predictions: classifications named ``step_<i>_sample_<j>``.
    :returns: a Dict with ``levels``, ``classes``, ``n`` (samples per step), ``mean`` and ``std`` ({class: [per
        step]}) of the probabilities and ``fraction`` ({class: [per step]}) of the samples given each label.
    """
    values = list(levels.get_list())
    classes: list[str] | None = None
    rows: list[list[list[float]]] = [[] for _ in values]
    labels: list[list[str]] = [[] for _ in values]
    for key, node in predictions.items():
        match = _KEY.match(key)
        if match is None or int(match.group(1)) >= len(values):
            raise ValueError(
                f'predictions: unexpected name {key!r}; expected step_<i>_sample_<j> with i < {len(values)}'
            )
        classes = classes or list(node.base.attributes.get('classes'))
        probabilities = node.base.attributes.get('probabilities')
        rows[int(match.group(1))].append([probabilities[c] for c in classes])
        labels[int(match.group(1))].append(node.base.attributes.get('label'))
    classes = classes or []
    result = {'levels': values, 'classes': classes, 'n': [len(r) for r in rows], 'mean': {}, 'std': {}, 'fraction': {}}
    for index, name in enumerate(classes):
        # A step without samples gets None (JSON has no NaN).
        column = [np.asarray(r, dtype=float)[:, index] if r else None for r in rows]
        result['mean'][name] = [None if c is None else float(np.mean(c)) for c in column]
        result['std'][name] = [None if c is None else float(np.std(c)) for c in column]
        result['fraction'][name] = [labels[i].count(name) / max(1, len(labels[i])) for i in range(len(values))]
    return orm.Dict(result)
