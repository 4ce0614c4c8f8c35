"""Classification metrics: accuracy, confusion matrix and per-class precision / recall, as plain JSON-able dicts.

``python -m aiida_crystalface.ml.metrics MODEL DATASET [-o metrics.json]`` evaluates a model file on a whole dataset
file (e.g. the defective set, which a model trained on pristine structures has never seen) and prints the result.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ('classification_metrics', 'evaluate_dataset', 'format_confusion')


def classification_metrics(labels: Sequence[int], predicted: Sequence[int], classes: Sequence[str]) -> dict[str, Any]:
    """Accuracy, confusion matrix (rows: true class, columns: predicted class) and per-class metrics."""
    labels = np.asarray(labels, dtype=np.int64)
    predicted = np.asarray(predicted, dtype=np.int64)
    n = len(classes)
    confusion = np.zeros((n, n), dtype=np.int64)
    np.add.at(confusion, (labels, predicted), 1)
    per_class = {}
    for i, name in enumerate(classes):
        support = int(confusion[i].sum())
        called = int(confusion[:, i].sum())
        per_class[name] = {
            'support': support,
            'recall': float(confusion[i, i] / support) if support else None,
            'precision': float(confusion[i, i] / called) if called else None,
        }
    return {
        'n_items': len(labels),
        'accuracy': float((labels == predicted).mean()) if len(labels) else None,
        'classes': list(classes),
        'confusion_matrix': confusion.tolist(),
        'per_class': per_class,
    }


def format_confusion(metrics: dict[str, Any]) -> str:
    """The confusion matrix as a small text table (rows: true, columns: predicted)."""
    classes = metrics['classes']
    width = max(8, *(len(c) + 1 for c in classes))
    lines = ['true \\ pred'.ljust(12) + ''.join(c.rjust(width) for c in classes)]
    for name, row in zip(classes, metrics['confusion_matrix'], strict=True):
        lines.append(name.ljust(12) + ''.join(str(v).rjust(width) for v in row))
    return '\n'.join(lines)


def evaluate_dataset(
    classifier: Any, dataset_path: str | os.PathLike, *, indices: Sequence[int] | None = None, chunk: int = 8192
) -> dict[str, Any]:
    """Metrics of ``classifier`` on a dataset file (all items, or ``indices``), read in chunks to bound memory.

    The dataset's classes are mapped onto the model's by name; the settings hashes must agree.
    """
    from aiida_crystalface.core.datasets import open_dataset

    with open_dataset(dataset_path) as dataset:
        missing = sorted(set(dataset.classes) - set(classifier.classes))
        if missing:
            known = classifier.classes
            raise ValueError(f'{dataset_path}: classes {missing} are unknown to the model (classes {known})')
        to_model = np.array([classifier.classes.index(c) for c in dataset.classes], dtype=np.int64)
        indices = np.arange(len(dataset)) if indices is None else np.asarray(indices, dtype=np.int64)
        predicted = np.empty(len(indices), dtype=np.int64)
        for start in range(0, len(indices), chunk):
            part = indices[start : start + chunk]
            probabilities = classifier.predict(dataset.get_images(part), settings_hash=dataset.settings_hash)
            predicted[start : start + len(part)] = probabilities.argmax(axis=1)
        labels = to_model[dataset.labels[indices]]
        metrics = classification_metrics(labels, predicted, classifier.classes)
        metrics['dataset'] = dataset.summary()
        if 'defect_kind' in dataset.metadata:
            kinds = dataset.metadata['defect_kind'][indices].astype(str)
            metrics['accuracy_by_defect_kind'] = {
                str(k): float((predicted[kinds == k] == labels[kinds == k]).mean()) for k in np.unique(kinds)
            }
    return metrics


def main(argv: Sequence[str] | None = None) -> int:
    """Evaluate MODEL on DATASET; print accuracy and the confusion matrix; exit 0, or 2 on bad input."""
    from aiida_crystalface.ml.classifier import Classifier, ModelFileError, SettingsMismatchError

    parser = argparse.ArgumentParser(prog='python -m aiida_crystalface.ml.metrics', description=main.__doc__)
    parser.add_argument('model', type=Path, help='model file (.safetensors)')
    parser.add_argument('dataset', type=Path, help='dataset file (HDF5)')
    parser.add_argument('-o', '--output', type=Path, default=None, help='write the metrics as JSON here')
    args = parser.parse_args(argv)
    try:
        metrics = evaluate_dataset(Classifier.load(args.model), args.dataset)
    except (ModelFileError, SettingsMismatchError, ValueError, OSError) as exception:
        print(f'error: {exception}', file=sys.stderr)
        return 2
    print(f'accuracy {metrics["accuracy"]:.6f} on {metrics["n_items"]} items of {args.dataset}')
    print(format_confusion(metrics))
    if args.output:
        args.output.write_text(json.dumps(metrics, indent=2))
    return 0


if __name__ == '__main__':
    sys.exit(main())
