"""PNG pictures of fingerprints (matplotlib, imported lazily with the non-interactive Agg backend)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

__all__ = (
    'detector_extent',
    'fingerprint_caption',
    'save_confusion_matrix_png',
    'save_fingerprint_grid',
    'save_fingerprint_png',
)


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


def _picture(image: np.ndarray, name: str = 'image') -> np.ndarray:
    """A fingerprint as ``imshow`` draws it: a 2-D array (grey), or a three-channel one ``(3, H, W)`` (the any-lattice
    fingerprint's x, y and z rotations) as an RGB picture ``(H, W, 3)``."""
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[0] == 3:
        for channel in image:
            _check_image(channel, name)
        return np.clip(np.moveaxis(image, 0, -1), 0.0, 1.0)
    return _check_image(image, name)


def detector_extent(settings) -> tuple[float, float, float, float]:
    """``(left, right, bottom, top)`` of the detector in ``q / 2 pi`` (inverse nearest-neighbour distances), for
    ``imshow(extent=...)``: the scattering vector's in-plane components at the pixel edges (the structure is scaled so
    that its mean nearest-neighbour distance is 1 angstrom before the pattern is computed)."""
    n = int(settings.pixels)
    edge = (n / 2.0) * settings.pixel_size
    half = edge / np.sqrt(edge**2 + settings.distance**2) / (settings.wavelength * 1e10)
    return (-half, half, half, -half)


def fingerprint_caption(settings) -> str:
    """One line saying what a fingerprint shows, for a figure's caption."""
    s = settings
    return (
        f'Diffraction fingerprint: {s.pixels} x {s.pixels} px, wavelength {s.wavelength * 1e12:g} pm, cluster of '
        f'~{s.target_atoms} atoms rotated {s.rotation_deg:g} deg about {s.rotation_axis}; intensity normalised to '
        f'[0, 1] (gamma {s.gamma:g}); pixels nearer than {s.mask_inner:g} or farther than {s.mask_outer:g} px from the '
        'centre are masked (0).'
    )


def save_fingerprint_png(
    image: np.ndarray,
    path: str | os.PathLike,
    title: str | None = None,
    settings=None,
    caption: str | None = None,
) -> Path:
    """Write one fingerprint as a PNG with axes, a colour bar and a caption line.

    :param settings: the :class:`~aiida_crystalface.core.diffraction.FingerprintSettings` (or its dict) the image was
        computed with: the axes are then in ``q / 2 pi`` (1 / nearest-neighbour distance) and the caption says how the
        image was made; without them, the axes count pixels.
    :param caption: the caption line (default: :func:`fingerprint_caption` of ``settings``, if given).
    """
    image = _check_image(image)
    if isinstance(settings, dict):
        from aiida_crystalface.core.diffraction import FingerprintSettings

        settings = FingerprintSettings.from_dict(settings)
    if caption is None and settings is not None:
        caption = fingerprint_caption(settings)
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(5.4, 5.0))
    if settings is not None and tuple(settings.image_shape) == image.shape:
        extent = detector_extent(settings)
        xlabel, ylabel = 'q$_x$ / 2$\\pi$  (1 / nearest-neighbour distance)', 'q$_y$ / 2$\\pi$'
    else:
        extent = (-0.5, image.shape[1] - 0.5, image.shape[0] - 0.5, -0.5)
        xlabel, ylabel = 'pixel', 'pixel'
    shown = axis.imshow(image, cmap='gray', vmin=0.0, vmax=1.0, interpolation='nearest', extent=extent)
    axis.set_xlabel(xlabel, fontsize=8)
    axis.set_ylabel(ylabel, fontsize=8)
    axis.tick_params(labelsize=7)
    if title:
        axis.set_title(title, fontsize=9)
    bar = figure.colorbar(shown, ax=axis, fraction=0.046, pad=0.04)
    bar.set_label('normalised intensity', fontsize=8)
    bar.ax.tick_params(labelsize=7)
    if caption:
        import textwrap

        figure.text(0.5, 0.01, textwrap.fill(caption, 95), ha='center', va='bottom', fontsize=6.5, wrap=True)
        figure.tight_layout(rect=(0, 0.08, 1, 1))
    else:
        figure.tight_layout()
    path = Path(path)
    figure.savefig(path, dpi=120, format='png')
    plt.close(figure)
    return path


def save_fingerprint_grid(
    images: Sequence[np.ndarray],
    titles: Sequence[str] | None,
    path: str | os.PathLike,
    columns: int | None = None,
) -> Path:
    """Write several fingerprints side by side (``columns`` per row, default: all in one row) with titles; a
    three-channel fingerprint is drawn in colour (its channels as red, green and blue)."""
    images = [_picture(image, f'image {i}') for i, image in enumerate(images)]
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
            if images[index].ndim == 3:
                ax.imshow(images[index], interpolation='nearest')
            else:
                ax.imshow(images[index], cmap='gray', vmin=0.0, vmax=1.0, interpolation='nearest')
            if titles:
                ax.set_title(titles[index], fontsize=9)
    figure.tight_layout()
    path = Path(path)
    figure.savefig(path, dpi=120, format='png')
    plt.close(figure)
    return path


def save_confusion_matrix_png(
    matrix: np.ndarray,
    classes: Sequence[str],
    path: str | os.PathLike,
    title: str = 'Confusion matrix',
    predicted: Sequence[str] | None = None,
) -> Path:
    """Write a confusion matrix (rows: true class, columns: predicted) with the count in each cell.

    :param predicted: the column names when they differ from ``classes`` (answers such as ``unknown``).
    """
    matrix = np.asarray(matrix)
    predicted = list(classes) if predicted is None else list(predicted)
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(4.8, 4.2))
    shown = axes.imshow(matrix, cmap='Blues')
    for (i, j), count in np.ndenumerate(matrix):
        axes.text(j, i, str(count), ha='center', va='center', color='white' if count > matrix.max() / 2 else 'black')
    axes.set_xticks(range(matrix.shape[1]), predicted)
    axes.set_yticks(range(len(classes)), classes)
    axes.set_xlabel('predicted')
    axes.set_ylabel('true')
    axes.set_title(title)
    figure.colorbar(shown, ax=axes, fraction=0.046, pad=0.04).set_label('structures')
    figure.tight_layout()
    path = Path(path)
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path
