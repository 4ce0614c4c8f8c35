"""Calcfunction: predictions of a series of structures -> mean and spread of the probabilities per step."""

from __future__ import annotations

import re

import numpy as np
from aiida import orm
from aiida.engine import calcfunction

from aiida_crystalface._internals import batched_links

__all__ = ('summarize_series',)

_KEY = re.compile(r'^step_(\d+)_sample_(\d+)$')


@batched_links
@calcfunction
def summarize_series(levels: orm.List, no_lattice: orm.List | None = None, **predictions: orm.Data) -> orm.Dict:
    """Average the classifications of each step of a series (bcc -> sc, Lindemann).

    :param levels: the defect level of each step.
    :param no_lattice: names (``step_<i>_sample_<j>``) of the samples in which no lattice was found (a molten
        structure, say): they get no class, count in ``n`` and in ``no_lattice``, and as none of the classes.
    :param predictions: classifications named ``step_<i>_sample_<j>``.
    :returns: a Dict with ``levels``, ``classes``, ``n`` (samples per step), ``mean`` and ``std`` ({class: [per
        step]}) of the probabilities of the classified samples, ``fraction`` ({class: [per step]}) of the samples given
        each label, ``no_lattice`` ([per step]) the fraction of samples with no lattice (no failure record, or a
        classification ``amorphous``) and ``unknown`` ([per step]) the fraction answered ``unknown``.
    """
    values = list(levels.get_list())
    classes: list[str] | None = None
    rows: list[list[list[float]]] = [[] for _ in values]
    labels: list[list[str | None]] = [[] for _ in values]
    named = [(key, node) for key, node in predictions.items()]
    named += [(key, None) for key in (no_lattice.get_list() if no_lattice is not None else [])]
    for key, node in named:
        match = _KEY.match(key)
        if match is None or int(match.group(1)) >= len(values):
            raise ValueError(
                f'predictions: unexpected name {key!r}; expected step_<i>_sample_<j> with i < {len(values)}'
            )
        step = int(match.group(1))
        label = None if node is None else node.base.attributes.get('predicted_class')
        if node is None or label == 'amorphous':  # no long-range order: a sample with no lattice, out of the means
            labels[step].append(None)
            continue
        classes = classes or list(node.base.attributes.get('classes'))
        probabilities = node.base.attributes.get('probabilities')
        rows[step].append([probabilities[c] for c in classes])
        labels[step].append(label)
    classes = classes or []
    result = {
        'levels': values,
        'classes': classes,
        'n': [len(step) for step in labels],
        'mean': {},
        'std': {},
        'fraction': {},
        'no_lattice': [step.count(None) / max(1, len(step)) for step in labels],
        'unknown': [step.count('unknown') / max(1, len(step)) for step in labels],
    }
    for index, name in enumerate(classes):
        # A step without classified samples gets None (JSON has no NaN).
        column = [np.asarray(r, dtype=float)[:, index] if r else None for r in rows]
        result['mean'][name] = [None if c is None else float(np.mean(c)) for c in column]
        result['std'][name] = [None if c is None else float(np.std(c)) for c in column]
        result['fraction'][name] = [labels[i].count(name) / max(1, len(labels[i])) for i in range(len(values))]
    return orm.Dict(result)
