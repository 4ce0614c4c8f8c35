"""The per-atom classification node: one label, probability row and uncertainty per atom of a structure or frame.

The arrays are ``.npy`` files in the node's repository (a frame of a large simulation has far too many atoms for
attributes); what a query filters on is in the attributes: ``n_atoms``, ``classes``, ``counts`` and ``fractions``
per label, the window ``settings`` and the ``frame``.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from aiida import orm

from aiida_crystalface.data.classification import OPEN_SET_CLASSES

__all__ = ('LocalClassificationData',)

#: The repository files of the three arrays (``numpy.save`` format, read back with ``allow_pickle=False``).
LABELS, PROBABILITIES, UNCERTAINTY = 'labels.npy', 'probabilities.npy', 'uncertainty.npy'

#: Slack for float32 rounding when checking that probabilities lie in [0, 1].
_TOLERANCE = 1e-6


class LocalClassificationData(orm.Data):
    """What a per-atom classifier answered for every atom of one structure (or one frame of a trajectory).

    Repository: ``labels.npy`` (int16 codes into the attribute ``labels_order``), ``probabilities.npy`` (float32,
    (N, C), C the model's classes in the order of ``classes``) and ``uncertainty.npy`` (float32, (N,)).

    Attributes (all queryable): ``n_atoms``, ``classes`` (the model's class order), ``labels_order`` (``classes``
    then ``'unknown'`` and ``'amorphous'``: the vocabulary of the labels), ``counts`` ({label: atoms}) and
    ``fractions`` ({label: atoms / n_atoms}), both with every label of ``labels_order`` (0 where absent, so that a
    filter such as ``{'attributes.fractions.bcc': {'>': 0.2}}`` needs no existence test), ``settings`` (the window
    options the classifier used, JSON) and ``frame`` (the frame of a trajectory, or None). The node's own ``label``
    and ``description`` are free for the user, as on any node.

    :param labels: one label per atom: a class of ``classes``, ``'unknown'`` or ``'amorphous'``.
    :param probabilities: (N, C) probabilities, finite and in [0, 1].
    :param uncertainty: (N,) uncertainty per atom, finite.
    :param classes: the model's class names, in the order of the columns of ``probabilities``.
    :param settings: the window options used (a JSON-friendly mapping).
    :param frame: the frame index in a trajectory (None for a structure).
    """

    def __init__(
        self,
        labels: Sequence[str] | None = None,
        probabilities: Any = None,
        uncertainty: Any = None,
        classes: Sequence[str] | None = None,
        *,
        settings: Mapping[str, Any] | None = None,
        frame: int | None = None,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        if labels is not None:
            self.set_result(labels, probabilities, uncertainty, classes, settings=settings, frame=frame)

    @classmethod
    def from_result(
        cls, result: Mapping[str, Any], classes: Sequence[str], frame: int | None = None
    ) -> LocalClassificationData:
        """A node from the dict of :meth:`Classifier.classify_atoms` (``labels``, ``probabilities``,
        ``uncertainty``, ``settings``)."""
        return cls(
            result['labels'],
            result['probabilities'],
            result['uncertainty'],
            classes,
            settings=result.get('settings'),
            frame=frame,
        )

    def set_result(
        self,
        labels: Sequence[str],
        probabilities: Any,
        uncertainty: Any,
        classes: Sequence[str] | None,
        *,
        settings: Mapping[str, Any] | None = None,
        frame: int | None = None,
    ) -> None:
        """Check the per-atom arrays against each other and the classes, then write the files and the attributes."""
        if classes is None or len(classes) == 0:
            raise ValueError('classes: the model class names are required')
        classes = [str(c) for c in classes]
        if set(classes) & set(OPEN_SET_CLASSES) or len(set(classes)) != len(classes):
            raise ValueError(f'classes: distinct class names, none of {list(OPEN_SET_CLASSES)}, expected: {classes}')
        order = [*classes, *OPEN_SET_CLASSES]
        labels = [str(label) for label in labels]
        bad = sorted(set(labels) - set(order))
        if bad:
            raise ValueError(f'labels: {bad} not among the classes {classes} or {list(OPEN_SET_CLASSES)}')
        n_atoms = len(labels)
        if n_atoms == 0:
            raise ValueError('labels: no atoms')
        probabilities = np.asarray(probabilities, dtype=np.float64)
        if probabilities.shape != (n_atoms, len(classes)):
            raise ValueError(
                f'probabilities: expected shape ({n_atoms}, {len(classes)}) (atoms, classes), got {probabilities.shape}'
            )
        if not np.all(np.isfinite(probabilities)) or probabilities.min() < -_TOLERANCE:
            raise ValueError('probabilities: values must be finite and in [0, 1]')
        if probabilities.max() > 1 + _TOLERANCE:
            raise ValueError(f'probabilities: values must be in [0, 1], got a maximum of {probabilities.max()}')
        uncertainty = np.asarray(uncertainty, dtype=np.float64)
        if uncertainty.shape != (n_atoms,):
            raise ValueError(f'uncertainty: expected shape ({n_atoms},) (one per atom), got {uncertainty.shape}')
        if not np.all(np.isfinite(uncertainty)):
            raise ValueError('uncertainty: values must be finite')
        if frame is not None and (isinstance(frame, bool) or int(frame) != frame or frame < 0):
            raise ValueError(f'frame: a non-negative integer or None, got {frame!r}')
        codes = np.array([order.index(label) for label in labels], dtype=np.int16)
        self._put(LABELS, codes)
        self._put(PROBABILITIES, np.clip(probabilities, 0.0, 1.0).astype(np.float32))
        self._put(UNCERTAINTY, uncertainty.astype(np.float32))
        counts = {label: int(np.count_nonzero(codes == code)) for code, label in enumerate(order)}
        self.base.attributes.set_many(
            {
                'n_atoms': n_atoms,
                'classes': classes,
                'labels_order': order,
                'counts': counts,
                'fractions': {label: count / n_atoms for label, count in counts.items()},
                'settings': _jsonable(dict(settings or {})),
                'frame': None if frame is None else int(frame),
            }
        )

    def _put(self, name: str, array: np.ndarray) -> None:
        buffer = io.BytesIO()
        np.save(buffer, np.ascontiguousarray(array), allow_pickle=False)
        buffer.seek(0)
        self.base.repository.put_object_from_filelike(buffer, name)

    def _get(self, name: str) -> np.ndarray:
        content = self.base.repository.get_object_content(name, mode='rb')
        return np.load(io.BytesIO(content), allow_pickle=False)

    @property
    def n_atoms(self) -> int:
        return int(self.base.attributes.get('n_atoms'))

    @property
    def classes(self) -> list[str]:
        """The model's class names, in the order of the columns of :attr:`probabilities`."""
        return list(self.base.attributes.get('classes'))

    @property
    def labels_order(self) -> list[str]:
        """The label vocabulary: the label of code ``i`` in ``labels.npy`` is ``labels_order[i]``."""
        return list(self.base.attributes.get('labels_order'))

    @property
    def labels(self) -> list[str]:
        """One label per atom (decoded from ``labels.npy``)."""
        order = self.labels_order
        return [order[code] for code in self._get(LABELS).tolist()]

    @property
    def probabilities(self) -> np.ndarray:
        """(N, C) float32 probabilities per atom, columns in the order of :attr:`classes`."""
        return self._get(PROBABILITIES)

    @property
    def uncertainty(self) -> np.ndarray:
        """(N,) float32 uncertainty per atom."""
        return self._get(UNCERTAINTY)

    @property
    def counts(self) -> dict[str, int]:
        return dict(self.base.attributes.get('counts'))

    @property
    def fractions(self) -> dict[str, float]:
        return dict(self.base.attributes.get('fractions'))

    @property
    def settings(self) -> dict:
        return dict(self.base.attributes.get('settings', {}))

    @property
    def frame(self) -> int | None:
        return self.base.attributes.get('frame', None)

    def store(self, **kwargs: Any) -> LocalClassificationData:
        """Store the node after checking that the three arrays are there and agree with ``n_atoms``."""
        names = set(self.base.repository.list_object_names())
        missing = sorted({LABELS, PROBABILITIES, UNCERTAINTY} - names)
        if missing or self.base.attributes.get('n_atoms', None) is None:
            raise ValueError(f'{self.__class__.__name__}: no result set (missing {missing}); call set_result() first')
        if not self.is_stored:
            n_atoms = self.n_atoms
            shapes = {name: self._get(name).shape for name in (LABELS, PROBABILITIES, UNCERTAINTY)}
            if shapes[LABELS] != (n_atoms,) or shapes[UNCERTAINTY] != (n_atoms,) or shapes[PROBABILITIES][0] != n_atoms:
                raise ValueError(f'{self.__class__.__name__}: arrays {shapes} disagree with n_atoms {n_atoms}')
        return super().store(**kwargs)


def _jsonable(value: Any) -> Any:
    """Window options as plain JSON types (numpy scalars and tuples included)."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value
