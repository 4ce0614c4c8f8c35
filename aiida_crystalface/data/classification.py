"""The classification node: label and probabilities as attributes, so that QueryBuilder filters on them."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from aiida import orm

from aiida_crystalface.caching import BatchNodeCaching
from aiida_crystalface.data.links import OutputNodeLinks

__all__ = ('ClassificationData',)


class ClassificationData(orm.Data):
    """The prediction of a classifier for one structure.

    Attributes: ``label`` (the most probable class), ``probabilities`` ({class: p}), ``max_probability`` and
    ``classes`` (the model's class order). Filter with e.g.
    ``{'attributes.label': 'bcc', 'attributes.max_probability': {'>': 0.95}}``.
    """

    _CLS_NODE_LINKS = OutputNodeLinks
    _CLS_NODE_CACHING = BatchNodeCaching  # aiida-core's hash, computed faster (aiida_crystalface.caching)

    def __init__(self, probabilities: Mapping[str, float] | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        if probabilities is not None:
            self.set_probabilities(probabilities)

    def set_probabilities(self, probabilities: Mapping[str, float]) -> None:
        """Set the probabilities ({class: p}); the label is the class of highest probability."""
        probabilities = {str(name): float(p) for name, p in probabilities.items()}
        _check(probabilities)
        label = max(probabilities, key=probabilities.__getitem__)
        self.base.attributes.set_many(
            {
                'classes': list(probabilities),
                'probabilities': probabilities,
                'label': label,
                'max_probability': probabilities[label],
            }
        )

    @property
    def label(self) -> str:
        return self.base.attributes.get('label')

    @property
    def probabilities(self) -> dict[str, float]:
        return dict(self.base.attributes.get('probabilities'))

    @property
    def max_probability(self) -> float:
        return self.base.attributes.get('max_probability')

    def store(self, **kwargs: Any) -> ClassificationData:
        """Store the node after checking the probabilities."""
        probabilities = self.base.attributes.get('probabilities', None)
        if not probabilities:
            raise ValueError('ClassificationData: no probabilities set')
        _check(probabilities)
        return super().store(**kwargs)


def _check(probabilities: Mapping[str, float]) -> None:
    if not probabilities:
        raise ValueError('probabilities: empty mapping')
    values = list(probabilities.values())
    if not all(math.isfinite(p) and -1e-6 <= p <= 1 + 1e-6 for p in values):
        raise ValueError(f'probabilities: values must be finite and in [0, 1], got {probabilities}')
    if abs(sum(values) - 1.0) > 1e-3:
        raise ValueError(f'probabilities: values must sum to 1, got {sum(values):.6f}')
