"""Calcfunction: accuracy and confusion matrices of a ConvNet and of the nearest-template baseline on a dataset."""

from __future__ import annotations

from aiida import orm
from aiida.engine import calcfunction

__all__ = ('evaluate_classifier',)

_CHUNK = 4096


@calcfunction
def evaluate_classifier(
    model: orm.Data, dataset: orm.Data, templates: orm.ArrayData, training_metrics: orm.Dict | None = None
) -> orm.Dict:
    """Classify the items of ``dataset`` with ``model`` and with the baseline; group the scores by defect variant.

    :param model: a ``crystalface.model`` node.
    :param dataset: a ``crystalface.dataset`` node.
    :param templates: ArrayData with ``templates`` (C, H, W) and the attribute ``classes``: the baseline.
    :param training_metrics: the training CalcJob's metrics: when given, only its ``test_indices`` are evaluated.
    :returns: a Dict: ``classes``, ``n_items``, ``convnet`` and ``baseline`` (accuracy, confusion matrix) over all
        items, and ``variants`` ({``kind=level``: the same per defect variant}).
    """
    import numpy as np

    from aiida_crystalface.ml.metrics import classification_metrics
    from aiida_crystalface.reproduce.baseline import NearestTemplateClassifier

    classifier = model.load_classifier()
    classes = list(classifier.classes)
    template_classes = list(templates.base.attributes.get('classes'))
    order = [template_classes.index(c) for c in classes]  # baseline indices in the model's class order
    baseline = NearestTemplateClassifier(templates.get_array('templates')[order], classes)
    data = dataset.open_dataset()
    try:
        indices = np.arange(len(data))
        if training_metrics is not None:
            indices = np.asarray(training_metrics['test_indices'], dtype=np.int64)
        to_model = np.array([classes.index(c) for c in data.classes], dtype=np.int64)
        labels = to_model[data.labels[indices]]
        convnet = np.empty(len(indices), dtype=np.int64)
        nearest = np.empty(len(indices), dtype=np.int64)
        for start in range(0, len(indices), _CHUNK):
            part = indices[start : start + _CHUNK]
            images = data.get_images(part)
            convnet[start : start + len(part)] = classifier.predict(images, settings_hash=data.settings_hash).argmax(1)
            nearest[start : start + len(part)] = baseline.predict_indices(images)
        kinds = data.metadata['defect_kind'][indices].astype(str)
        levels = data.metadata['defect_level'][indices].astype(float)
    finally:
        _close(data)
    keys = np.array([k if k == 'pristine' else f'{k}={lv:g}' for k, lv in zip(kinds, levels, strict=True)])

    def scores(mask):
        return {
            'convnet': _brief(classification_metrics(labels[mask], convnet[mask], classes)),
            'baseline': _brief(classification_metrics(labels[mask], nearest[mask], classes)),
        }

    result = {'classes': classes, 'n_items': len(indices), **scores(np.ones(len(indices), dtype=bool))}
    result['variants'] = {str(key): scores(keys == key) for key in dict.fromkeys(keys.tolist())}
    return orm.Dict(result)


def _close(data) -> None:
    """Close the dataset and delete the copy that ``FingerprintDatasetData.open_dataset`` made in a temporary folder."""
    import shutil

    data.close()
    shutil.rmtree(data.path.parent, ignore_errors=True)


def _brief(metrics: dict) -> dict:
    return {key: metrics[key] for key in ('n_items', 'accuracy', 'confusion_matrix')}
