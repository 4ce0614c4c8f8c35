"""The classification node: predicted class, probabilities and uncertainty as attributes, for QueryBuilder filters."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from aiida import orm

__all__ = ('OPEN_SET_CLASSES', 'ClassificationData')

#: Answers beyond the model's classes: a crystal of none of them, or no long-range order at all.
OPEN_SET_CLASSES = ('unknown', 'amorphous')


class ClassificationData(orm.Data):
    """The prediction of a classifier for one structure.

    Attributes (all queryable): ``predicted_class`` (a class name of the model, ``'unknown'`` or ``'amorphous'``),
    ``probabilities`` ({class: p}, summing to 1), ``max_probability`` (the largest of them), ``uncertainty`` (a float,
    or None where the classifier gives none) and ``classes`` (the model's class order). Filter with e.g.
    ``{'attributes.predicted_class': 'bcc', 'attributes.max_probability': {'>': 0.95}}``. The node's own ``label``
    and ``description`` are free for the user, as on any node.

    :param probabilities: {class: probability} of the model's classes.
    :param predicted_class: the answer; by default the class of highest probability.
    :param uncertainty: how unsure the classifier is (None: not given).
    """

    def __init__(
        self,
        probabilities: Mapping[str, float] | None = None,
        predicted_class: str | None = None,
        uncertainty: float | None = None,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        if probabilities is not None:
            self.set_prediction(probabilities, predicted_class, uncertainty)

    def set_prediction(
        self, probabilities: Mapping[str, float], predicted_class: str | None = None, uncertainty: float | None = None
    ) -> None:
        """Set the probabilities, the predicted class (default: the argmax) and the uncertainty."""
        probabilities = {str(name): float(p) for name, p in probabilities.items()}
        _check_probabilities(probabilities)
        argmax = max(probabilities, key=probabilities.__getitem__)
        predicted_class = argmax if predicted_class is None else str(predicted_class)
        uncertainty = None if uncertainty is None else float(uncertainty)
        _check_prediction(probabilities, predicted_class, uncertainty)
        self.base.attributes.set_many(
            {
                'classes': list(probabilities),
                'probabilities': probabilities,
                'predicted_class': predicted_class,
                'max_probability': probabilities[argmax],
                'uncertainty': uncertainty,
            }
        )

    @property
    def predicted_class(self) -> str:
        """The answer: a class name of the model, ``'unknown'`` or ``'amorphous'``."""
        return self.base.attributes.get('predicted_class')

    @property
    def probabilities(self) -> dict[str, float]:
        return dict(self.base.attributes.get('probabilities'))

    @property
    def max_probability(self) -> float:
        return self.base.attributes.get('max_probability')

    @property
    def uncertainty(self) -> float | None:
        return self.base.attributes.get('uncertainty', None)

    @property
    def classes(self) -> list[str]:
        return list(self.base.attributes.get('classes'))

    def store(self, **kwargs: Any) -> ClassificationData:
        """Store the node after checking the probabilities, the predicted class and the uncertainty."""
        probabilities = self.base.attributes.get('probabilities', None)
        if not probabilities:
            raise ValueError('ClassificationData: no probabilities set')
        _check_probabilities(probabilities)
        attributes = self.base.attributes
        _check_prediction(probabilities, attributes.get('predicted_class', None), attributes.get('uncertainty', None))
        return super().store(**kwargs)


def _check_probabilities(probabilities: Mapping[str, float]) -> None:
    if not probabilities:
        raise ValueError('probabilities: empty mapping')
    values = list(probabilities.values())
    if not all(math.isfinite(p) and -1e-6 <= p <= 1 + 1e-6 for p in values):
        raise ValueError(f'probabilities: values must be finite and in [0, 1], got {probabilities}')
    if abs(sum(values) - 1.0) > 1e-3:
        raise ValueError(f'probabilities: values must sum to 1, got {sum(values):.6f}')


def _check_prediction(probabilities: Mapping[str, float], predicted_class: Any, uncertainty: Any) -> None:
    allowed = [*probabilities, *OPEN_SET_CLASSES]
    if not isinstance(predicted_class, str) or predicted_class not in allowed:
        raise ValueError(f'predicted_class: {predicted_class!r} is not one of {allowed}')
    if uncertainty is not None and not (isinstance(uncertainty, (int, float)) and math.isfinite(uncertainty)):
        raise ValueError(f'uncertainty: expected a finite float or None, got {uncertainty!r}')
