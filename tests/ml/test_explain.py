"""Attentive response maps and class templates."""

import numpy as np
import pytest

from aiida_crystalface.core.datasets import open_dataset
from aiida_crystalface.ml.explain import (
    attentive_response_maps,
    class_templates,
    explain_image,
    save_class_templates_png,
)


@pytest.fixture(scope='module')
def data(synthetic_dataset):
    with open_dataset(synthetic_dataset) as dataset:
        return dataset.get_images(slice(0, 40)), dataset.labels[:40]


def test_maps_have_the_image_shape_and_are_non_trivial(trained, data):
    image = data[0][0]
    maps = attentive_response_maps(trained.classifier, image, top_k=4)
    assert maps.maps.shape == (6, 4, 64, 64)
    assert maps.filters.shape == (6, 4)
    assert np.all(np.diff(maps.activations, axis=1) <= 0)  # strongest first
    # Receptive field (pixels per side) of one unit of each layer: 7x7 kernels, pooling after conv2 and conv4.
    receptive = [7, 13, 26, 38, 64, 88]
    for layer in range(6):
        for k in range(4):
            m = maps.maps[layer, k]
            assert np.isfinite(m).all() and m.std() > 0
            # One unit back-projects to its receptive field only, never beyond.
            assert np.count_nonzero(m) <= receptive[layer] ** 2
    # The first layer's map is the filter itself, 7 x 7 pixels around the strongest activation.
    assert np.count_nonzero(maps.maps[0, 0]) <= 49
    np.testing.assert_allclose(maps.probabilities.sum(), 1)


def test_deepest_maps_sit_on_the_diffraction_peaks(trained, data):
    image = data[0][0]
    maps = attentive_response_maps(trained.classifier, image)
    total = np.clip(maps.maps[-1], 0, None).sum(axis=0)
    peaks = image > 0.5
    # The peaks cover a small part of the image but attract a much larger share of the back-projected signal.
    assert total[peaks].sum() / total.sum() > 3 * peaks.mean()


def test_class_templates_and_pngs(trained, data, tmp_path):
    images, labels = data
    templates, counts = class_templates(trained.classifier, images, labels, batch_size=16)
    assert templates.shape == (4, 64, 64)
    assert counts.tolist() == [10, 10, 10, 10]
    assert all(t.std() > 0 for t in templates)
    path = save_class_templates_png(templates, trained.classifier.classes, tmp_path / 'templates.png', counts)
    assert path.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    maps = explain_image(trained.classifier, images[0], tmp_path / 'maps.png')
    assert (tmp_path / 'maps.png').stat().st_size > 10_000
    assert maps.label in trained.classifier.classes
    with pytest.raises(ValueError, match='top_k'):
        attentive_response_maps(trained.classifier, images[0], top_k=9)
