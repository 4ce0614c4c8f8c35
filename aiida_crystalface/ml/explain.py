"""Attentive response maps (paper, "Opening the black-box", Fig. 5): what the ConvNet looks at.

For each convolutional layer the ``top_k`` filters with the largest maximum activation are chosen; of each, only the
single strongest activation is kept and projected back to image space through the preceding layers in the manner of
Zeiler & Fergus's deconvnet: rectification (ReLU), transposed convolution with the layer's own filters (which is the
convolution with the flipped, channel-transposed filters) and max-unpooling with the switches recorded in the forward
pass. The class templates of Fig. 5b are the sums of the last layer's maps over the images of each class.

PNGs are drawn with matplotlib's object-oriented API on an Agg canvas, imported only when drawing, so that nothing
here changes the user's matplotlib backend.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F  # noqa: N812 (the torch convention)

from aiida_crystalface.ml.convnet import POOL_AFTER

__all__ = (
    'ResponseMaps',
    'attentive_response_maps',
    'class_templates',
    'explain_image',
    'save_attentive_response_png',
    'save_class_templates_png',
)


@dataclass
class ResponseMaps:
    """Attentive response maps of one image.

    ``maps`` (n_layers, top_k, H, W): back-projections; ``filters`` (n_layers, top_k): the filter indices, strongest
    first; ``activations`` (n_layers, top_k): their maximum activations; ``probabilities``: the model's output;
    ``kernel_size``: the side of the network's convolution kernels (for the receptive fields).
    """

    maps: np.ndarray
    filters: np.ndarray
    activations: np.ndarray
    probabilities: np.ndarray
    classes: list[str]
    kernel_size: int = 7

    @property
    def label(self) -> str:
        return self.classes[int(np.argmax(self.probabilities))]


def _forward_record(net: Any, x: torch.Tensor) -> tuple[list[torch.Tensor], dict[int, tuple[torch.Tensor, Any]]]:
    """Post-ReLU activations of every convolution and the max-pooling switches."""
    activations, switches = [], {}
    for index, conv in enumerate(net.convs):
        x = F.relu(conv(x))
        activations.append(x)
        if index in POOL_AFTER:
            size = x.shape[-2:]
            x, indices = F.max_pool2d(x, 2, 2, return_indices=True)
            switches[index] = (indices, size)
    return activations, switches


def _unpool(signal: torch.Tensor, indices: torch.Tensor, size: Any) -> torch.Tensor:
    """Max-unpooling with the recorded switches (a scatter: deterministic, unlike torch's max_unpool2d kernel)."""
    batch, channels = signal.shape[:2]
    out = signal.new_zeros(batch, channels, size[0] * size[1])
    out.scatter_(2, indices.reshape(batch, channels, -1), signal.reshape(batch, channels, -1))
    return out.reshape(batch, channels, *size)


def _project_back(net: Any, layer: int, signal: torch.Tensor, switches: dict, repeat: int) -> torch.Tensor:
    """Deconvnet pass from the output of convolution ``layer`` to image space; ``repeat`` signals per image."""
    for index in range(layer, -1, -1):
        conv = net.convs[index]
        signal = F.relu(signal)
        signal = F.conv_transpose2d(signal, conv.weight, padding=conv.padding)
        if index - 1 in POOL_AFTER:
            indices, size = switches[index - 1]
            signal = _unpool(signal, indices.repeat_interleave(repeat, dim=0), size)
    return signal[:, 0]


def _strongest(activation: torch.Tensor, top_k: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per image, the top_k filters by maximum activation, and a signal keeping only each one's strongest unit."""
    batch, channels, height, width = activation.shape
    flat = activation.reshape(batch, channels, -1)
    peak, position = flat.max(dim=2)  # (B, C)
    values, filters = peak.topk(top_k, dim=1)  # (B, k), strongest first
    signal = torch.zeros(batch, top_k, channels, height * width, dtype=activation.dtype)
    rows = torch.arange(batch)[:, None]
    ks = torch.arange(top_k)[None, :]
    signal[rows, ks, filters, position[rows, filters]] = values
    return signal.reshape(batch * top_k, channels, height, width), filters, values


def _batch_tensor(classifier: Any, images: Any) -> torch.Tensor:
    batch = torch.from_numpy(classifier._as_batch(images))
    return batch.unsqueeze(1) if batch.ndim == 3 else batch


def attentive_response_maps(classifier: Any, image: np.ndarray, top_k: int = 4) -> ResponseMaps:
    """Back-projected maps of the ``top_k`` most activated filters of every convolutional layer for one image.

    :param classifier: a :class:`~aiida_crystalface.ml.Classifier`.
    :param image: one fingerprint (H, W) of the model's image size.
    """
    net = classifier.net.eval()
    limit = min(net.config['filters'])
    if not 1 <= top_k <= limit:
        raise ValueError(f'top_k must be between 1 and {limit} (the smallest layer has {limit} filters), not {top_k}')
    if getattr(classifier, 'channels', 1) != 1:
        raise ValueError(
            f'attentive response maps are drawn for one-channel models; this model reads {classifier.channels} channels'
        )
    if np.ndim(image) != 2:
        raise ValueError(f'image must be one (H, W) fingerprint, not an array of shape {np.shape(image)}')
    x = _batch_tensor(classifier, image).contiguous()
    maps, filters, values = [], [], []
    with torch.inference_mode():
        activations, switches = _forward_record(net, x)
        for layer, activation in enumerate(activations):
            signal, chosen, peak = _strongest(activation, top_k)
            maps.append(_project_back(net, layer, signal, switches, top_k).numpy())
            filters.append(chosen[0].numpy())
            values.append(peak[0].numpy())
    return ResponseMaps(
        maps=np.stack(maps).astype(np.float32),
        filters=np.stack(filters).astype(np.int64),
        activations=np.stack(values).astype(np.float32),
        probabilities=classifier.predict(image)[0],
        classes=list(classifier.classes),
        kernel_size=int(net.config.get('kernel_size', 7)),
    )


def class_templates(
    classifier: Any, images: np.ndarray, labels: Sequence[int] | None = None, *, top_k: int = 4, batch_size: int = 64
) -> tuple[np.ndarray, np.ndarray]:
    """Fig. 5b: per class, the sum of the last layer's back-projected maps over that class's images.

    :param labels: class index of each image; default: the model's predictions.
    :return: ``(templates (n_classes, H, W), counts (n_classes,))``.
    """
    if getattr(classifier, 'channels', 1) != 1:
        raise ValueError(f'class templates are drawn for one-channel models; this model reads {classifier.channels}')
    net = classifier.net.eval()
    x = _batch_tensor(classifier, images).contiguous()
    labels = classifier.predict(images).argmax(axis=1) if labels is None else np.asarray(labels, dtype=np.int64)
    if len(labels) != len(x):
        raise ValueError(f'{len(x)} images but {len(labels)} labels')
    n_classes, size = len(classifier.classes), classifier.image_size
    templates = np.zeros((n_classes, size, size), dtype=np.float64)
    last = len(net.convs) - 1
    with torch.inference_mode():
        for start in range(0, len(x), batch_size):
            batch = x[start : start + batch_size]
            activations, switches = _forward_record(net, batch)
            signal, _, _ = _strongest(activations[last], top_k)
            maps = _project_back(net, last, signal, switches, top_k).reshape(len(batch), top_k, size, size)
            np.add.at(templates, labels[start : start + len(batch)], maps.sum(dim=1).double().numpy())
    return templates, np.bincount(labels, minlength=n_classes)


def _show(axis: Any, array: np.ndarray, title: str) -> Any:
    shown = axis.imshow(array, cmap='inferno', origin='lower', interpolation='nearest')
    axis.set_title(title, fontsize=7)
    axis.set_xticks([])
    axis.set_yticks([])
    return shown


#: How to read the figure of :func:`save_attentive_response_png` (its caption).
RESPONSE_CAPTION = (
    'Left: the fingerprint. Each row: one convolutional layer; each panel: the top-{k} filters of that layer by their '
    'strongest activation ("peak", in the network\'s arbitrary units, comparable within a row). A panel shows where '
    'that single strongest activation comes from in the image (deconvnet back-projection, Zeiler & Fergus; paper, '
    'Fig. 5), drawn in colour over the fingerprint in grey, each panel scaled to its own maximum (colour bar). Early '
    'layers see small patches (conv1: {rf1} x {rf1} px), deeper ones larger regions.'
)


def _overlay(axis: Any, image: np.ndarray, response: np.ndarray, title: str) -> Any:
    """The fingerprint in grey with ``|response|`` (scaled to its maximum) over it in colour, transparent where ~0."""
    from matplotlib import colormaps

    magnitude = np.abs(np.asarray(response, dtype=np.float64))
    peak = magnitude.max()
    relative = magnitude / peak if peak > 0 else magnitude
    colours = colormaps['inferno'](relative)
    colours[..., 3] = np.clip(relative * 1.5, 0.0, 1.0)  # the response's own strength sets its opacity
    axis.imshow(image, cmap='gray', vmin=0.0, vmax=1.0, origin='lower', interpolation='nearest', alpha=0.6)
    shown = axis.imshow(colours, origin='lower', interpolation='nearest')
    axis.set_title(title, fontsize=7)
    axis.set_xticks([])
    axis.set_yticks([])
    return shown


def _receptive_field(layer: int, kernel: int) -> int:
    """Side in pixels of the region of the image that one unit of convolution ``layer`` (0-based) sees."""
    size, jump = 1, 1
    for index in range(layer + 1):
        size += (kernel - 1) * jump
        if index in POOL_AFTER:
            size += jump
            jump *= 2
    return size


def save_attentive_response_png(
    image: np.ndarray, maps: ResponseMaps, path: str | os.PathLike, title: str | None = None
) -> Path:
    """A grid: the fingerprint, then one row per convolutional layer with its ``top_k`` maps over the fingerprint,
    a colour bar and a caption that says how to read it (:data:`RESPONSE_CAPTION`)."""
    import textwrap

    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize
    from matplotlib.figure import Figure

    image = np.asarray(image)
    n_layers, top_k = maps.maps.shape[:2]
    figure = Figure(figsize=(1.7 * (top_k + 1) + 0.8, 1.7 * n_layers + 1.6), dpi=120)
    grid = figure.add_gridspec(n_layers, top_k + 2, width_ratios=[1] * (top_k + 1) + [0.08])
    for row in range(n_layers):
        for k in range(top_k):
            name = f'conv{row + 1} filter {maps.filters[row, k]}\npeak {maps.activations[row, k]:.3g}'
            _overlay(figure.add_subplot(grid[row, k + 1]), image, maps.maps[row, k], name)
    _show(figure.add_subplot(grid[0, 0]), image, 'fingerprint')
    bar = figure.colorbar(
        ScalarMappable(Normalize(0.0, 1.0), cmap='inferno'), cax=figure.add_subplot(grid[:, top_k + 1])
    )
    bar.set_label("response, relative to the panel's maximum", fontsize=7)
    bar.ax.tick_params(labelsize=6)
    probability = float(np.max(maps.probabilities))
    heading = f'{title + ": " if title else ""}{maps.label} (p = {probability:.3f})'
    figure.suptitle(heading, fontsize=9)
    caption = RESPONSE_CAPTION.format(k=top_k, rf1=_receptive_field(0, maps.kernel_size))
    figure.text(0.01, 0.005, textwrap.fill(caption, 40 + 22 * top_k), ha='left', va='bottom', fontsize=6)
    figure.tight_layout(rect=(0, 0.11, 1, 0.97))
    path = Path(path)
    figure.savefig(path, format='png')
    return path


def save_class_templates_png(
    templates: np.ndarray, classes: Sequence[str], path: str | os.PathLike, counts: Sequence[int] | None = None
) -> Path:
    """One panel per class template (Fig. 5b)."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(2.2 * len(classes), 2.5), dpi=120)
    axes = figure.subplots(1, len(classes), squeeze=False)[0]
    for index, name in enumerate(classes):
        suffix = f' (n = {counts[index]})' if counts is not None else ''
        _show(axes[index], templates[index], f'{name}{suffix}')
    figure.tight_layout()
    path = Path(path)
    figure.savefig(path, format='png')
    return path


def explain_image(classifier: Any, image: np.ndarray, path: str | os.PathLike, *, top_k: int = 4) -> ResponseMaps:
    """Compute the attentive response maps of one fingerprint and write them as a PNG grid to ``path``."""
    maps = attentive_response_maps(classifier, image, top_k=top_k)
    save_attentive_response_png(image, maps, path)
    return maps
