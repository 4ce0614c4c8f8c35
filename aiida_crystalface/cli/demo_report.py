"""Tables and figures of the demo: accuracy per defect kind, one fingerprint per class, the confusion matrix."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ('accuracy_table', 'confusion_matrix', 'save_figures')


def accuracy_table(items: Sequence[tuple], results: Sequence[dict[str, Any]]):
    """A rich Table: per defect kind, the number of structures, the correct ones and the accuracy."""
    from rich.table import Table

    table = Table(title='Demo: accuracy of the bundled model per defect kind')
    for column, justify in (
        ('defect kind', 'left'),
        ('structures', 'right'),
        ('correct', 'right'),
        ('accuracy', 'right'),
        ('failed', 'right'),
    ):
        table.add_column(column, justify=justify)
    kinds = list(dict.fromkeys(kind for _, _, kind in items))
    for kind in [*kinds, None]:
        rows = [(label, r) for (_, label, k), r in zip(items, results, strict=True) if kind is None or k == kind]
        good = [(label, r) for label, r in rows if 'error' not in r]
        correct = sum(r['label'] == label for label, r in good)
        name = 'all' if kind is None else kind
        accuracy = f'{correct / len(good):.1%}' if good else '-'
        table.add_row(
            name, str(len(rows)), str(correct), accuracy, str(len(rows) - len(good)), end_section=kind == kinds[-1]
        )
    return table


def confusion_matrix(items: Sequence[tuple], results: Sequence[dict[str, Any]], classes: Sequence[str]) -> np.ndarray:
    """Counts: rows are the true classes, columns the predicted ones (failed inputs left out)."""
    index = {name: i for i, name in enumerate(classes)}
    matrix = np.zeros((len(classes), len(classes)), dtype=int)
    for (_, label, _), result in zip(items, results, strict=True):
        if 'error' not in result:
            matrix[index[label], index[result['label']]] += 1
    return matrix


def save_figures(items, results, classes: Sequence[str], output_dir: Path) -> list[Path]:
    """Write ``fingerprints.png`` (one pristine item per class) and ``confusion_matrix.png``; return their paths."""
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    from aiida_crystalface.core.render import save_fingerprint_grid

    output_dir.mkdir(parents=True, exist_ok=True)
    images, titles = [], []
    for name in classes:
        for (structure, label, kind), result in zip(items, results, strict=True):
            if label == name and kind == 'pristine' and result.get('image') is not None:
                images.append(result['image'])
                titles.append(f'{structure.label} -> {result["label"]}')
                break
    paths = []
    if images:
        paths.append(output_dir / 'fingerprints.png')
        save_fingerprint_grid(np.asarray(images), titles, paths[-1])
    matrix = confusion_matrix(items, results, classes)
    figure, axes = plt.subplots(figsize=(4.5, 4))
    axes.imshow(matrix, cmap='Blues')
    for (i, j), count in np.ndenumerate(matrix):
        axes.text(j, i, str(count), ha='center', va='center', color='white' if count > matrix.max() / 2 else 'black')
    axes.set_xticks(range(len(classes)), classes)
    axes.set_yticks(range(len(classes)), classes)
    axes.set_xlabel('predicted')
    axes.set_ylabel('true')
    axes.set_title('Demo: confusion matrix')
    figure.tight_layout()
    paths.append(output_dir / 'confusion_matrix.png')
    figure.savefig(paths[-1], dpi=120)
    plt.close(figure)
    return paths
