"""PNG pictures of fingerprints (matplotlib, imported lazily with the non-interactive Agg backend)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

__all__ = ('save_fingerprint_grid', 'save_fingerprint_png')


def _pyplot():
    import matplotlib

    matplotlib.use('Agg', force=False)
    import matplotlib.pyplot as plt

    return plt


def _check_image(image: np.ndarray, name: str = 'image') -> np.ndarray:
    image = np.asarray(image)
    if image.ndim != 2 or image.size == 0:
        raise ValueError(f'{name}: a fingerprint is a non-empty 2-D array, got shape {image.shape}')
    if not np.all(np.isfinite(image)):
        raise ValueError(f'{name}: the fingerprint contains NaN or infinite values')
    return image


def save_fingerprint_png(image: np.ndarray, path: str | os.PathLike, title: str | None = None) -> Path:
    """Write one fingerprint as a PNG (grey scale, 0 black, 1 white, origin at the top left like the array)."""
    return save_fingerprint_grid([image], [title] if title else None, path, columns=1)


def save_fingerprint_grid(
    images: Sequence[np.ndarray],
    titles: Sequence[str] | None,
    path: str | os.PathLike,
    columns: int | None = None,
) -> Path:
    """Write several fingerprints side by side (``columns`` per row, default: all in one row) with titles."""
    images = [_check_image(image, f'image {i}') for i, image in enumerate(images)]
    if not images:
        raise ValueError('save_fingerprint_grid: no images to draw')
    if titles is not None and len(titles) != len(images):
        raise ValueError(f'save_fingerprint_grid: {len(titles)} titles for {len(images)} images')
    columns = columns or len(images)
    rows = -(-len(images) // columns)
    plt = _pyplot()
    figure, axes = plt.subplots(rows, columns, figsize=(2.2 * columns, 2.4 * rows if titles else 2.2 * rows))
    axes = np.atleast_1d(axes).ravel()
    for index, ax in enumerate(axes):
        ax.set_axis_off()
        if index < len(images):
            ax.imshow(images[index], cmap='gray', vmin=0.0, vmax=1.0, interpolation='nearest')
            if titles:
                ax.set_title(titles[index], fontsize=9)
    figure.tight_layout()
    path = Path(path)
    figure.savefig(path, dpi=120, format='png')
    plt.close(figure)
    return path
