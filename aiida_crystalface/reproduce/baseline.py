"""The nearest-template baseline: cosine similarity to the four pristine prototypes' fingerprints, no learning.

This is the reference any learned classifier here must beat (``NOTES.md``, "Baselines"). It needs numpy only: the
templates are fingerprints computed elsewhere (:func:`aiida_crystalface.reproduce.pipeline.prototype_templates`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ('NearestTemplateClassifier', 'cosine_similarity')


def cosine_similarity(images: np.ndarray, templates: np.ndarray) -> np.ndarray:
    """Cosine similarity of every image with every template: ``(N, H, W) x (C, H, W) -> (N, C)``, in float64.

    An all-zero image or template has similarity 0 with everything (no direction to compare).
    """
    images = np.asarray(images, dtype=np.float64)
    templates = np.asarray(templates, dtype=np.float64)
    if images.ndim == 2:
        images = images[None]
    if images.ndim != 3 or templates.ndim != 3 or images.shape[1:] != templates.shape[1:]:
        raise ValueError(f'images {images.shape} and templates {templates.shape} must be (N, H, W) and (C, H, W)')
    a = images.reshape(len(images), -1)
    b = templates.reshape(len(templates), -1)
    norm_a = np.linalg.norm(a, axis=1, keepdims=True)
    norm_b = np.linalg.norm(b, axis=1, keepdims=True)
    a = np.divide(a, norm_a, out=np.zeros_like(a), where=norm_a > 0)
    b = np.divide(b, norm_b, out=np.zeros_like(b), where=norm_b > 0)
    return a @ b.T


class NearestTemplateClassifier:
    """Assign each fingerprint the class of the most similar template (cosine similarity).

    :param templates: ``(C, H, W)`` one fingerprint per class.
    :param classes: the class name of each template, in the same order.
    """

    def __init__(self, templates: np.ndarray, classes: Sequence[str]):
        templates = np.asarray(templates, dtype=np.float64)
        if templates.ndim != 3 or len(templates) != len(classes):
            raise ValueError(f'templates {templates.shape}: expected one (H, W) image per class of {list(classes)}')
        if not np.isfinite(templates).all():
            raise ValueError('templates: contain NaN or infinite values')
        self.templates = templates
        self.classes = list(classes)

    def similarities(self, images: np.ndarray) -> np.ndarray:
        """``(N, C)`` cosine similarities."""
        return cosine_similarity(images, self.templates)

    def predict_indices(self, images: np.ndarray) -> np.ndarray:
        """``(N,)`` index (into :attr:`classes`) of the nearest template of each image."""
        return self.similarities(images).argmax(axis=1)
