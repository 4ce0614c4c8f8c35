"""Tiny synthetic fingerprint datasets: four classes with class-dependent peak patterns, several 'species'."""

from __future__ import annotations

import numpy as np
import pytest

from aiida_crystalface.core.datasets import DatasetWriter

CLASSES = ['fcc', 'diamond', 'bcc', 'sc']
SETTINGS = {'kind': 'synthetic-test', 'hash': '0123456789abcdef'}


def synthetic_images(labels: np.ndarray, scales: np.ndarray, rng: np.random.Generator, size: int = 64) -> np.ndarray:
    """Gaussian peaks on a ring whose count (4, 6, 8, 12) says the class and whose radius depends on the species."""
    yy, xx = np.mgrid[0:size, 0:size] - (size - 1) / 2
    images = np.empty((len(labels), size, size), dtype=np.float32)
    for n, (label, scale) in enumerate(zip(labels, scales, strict=True)):
        count = (4, 6, 8, 12)[label]
        angles = 2 * np.pi * np.arange(count) / count + rng.normal(0, 0.03)
        radius = 18 * scale
        image = np.zeros((size, size))
        for angle in angles:
            x0, y0 = radius * np.cos(angle), radius * np.sin(angle)
            image += np.exp(-((xx - x0) ** 2 + (yy - y0) ** 2) / (2 * 1.5**2))
        image += rng.normal(0, 0.03, image.shape)
        image = np.clip(image, 0, None)
        images[n] = image / image.max()
    return images


def write_synthetic(path, n: int = 160, seed: int = 0, n_species: int = 8, settings=SETTINGS):
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 4
    species_index = rng.integers(0, n_species, n)
    scales = 0.85 + 0.04 * species_index
    images = synthetic_images(labels, scales, rng)
    species = np.array([f'X{i}' for i in species_index])
    with DatasetWriter(path, CLASSES, settings, dtype='float32') as writer:
        writer.append(images, labels, {'species': species, 'seed': np.full(n, seed)})
    return path


@pytest.fixture(scope='session')
def synthetic_dataset(tmp_path_factory):
    """Path of a 160-image synthetic dataset file."""
    return write_synthetic(tmp_path_factory.mktemp('data') / 'synthetic.h5')


@pytest.fixture(scope='session')
def trained(synthetic_dataset, tmp_path_factory):
    """A TrainingResult of a short training on the synthetic dataset (shared by tests that need a model)."""
    from aiida_crystalface.ml.training import train_classifier

    return train_classifier(synthetic_dataset, tmp_path_factory.mktemp('model'), epochs=4, batch_size=16, seed=0)


@pytest.fixture(scope='session')
def three_channel_dataset(tmp_path_factory):
    """Path of a 96-image dataset of (3, 64, 64) images (``FingerprintSettings(channels=3)`` shape): the synthetic
    pattern, its transpose and its mirror image as the three channels."""
    rng = np.random.default_rng(1)
    labels = np.arange(96) % 4
    one = synthetic_images(labels, np.full(96, 0.9), rng)
    images = np.stack([one, one.transpose(0, 2, 1), one[:, ::-1]], axis=1).astype(np.float32)
    path = tmp_path_factory.mktemp('data3') / 'three.h5'
    settings = {**SETTINGS, 'channels': 3}
    with DatasetWriter(path, CLASSES, settings, dtype='float32', image_shape=(3, 64, 64)) as writer:
        writer.append(images, labels, {'seed': np.zeros(96, dtype=int)})
    return path


@pytest.fixture(scope='module')
def bulk_model():
    """The default bundled bulk model (``ml.classifier.PRETRAINED_DEFAULT``, loaded once per module); or, to put a
    candidate through the same tests before it is bundled, the model file named by the environment variable
    ``CRYSTALFACE_TEST_BULK_MODEL``."""
    import os

    from aiida_crystalface.ml import Classifier

    candidate = os.environ.get('CRYSTALFACE_TEST_BULK_MODEL')
    return Classifier.load(candidate) if candidate else Classifier.pretrained()


def big_supercell(atoms, at_least: int = 100):
    """The smallest n x n x n supercell of ASE ``atoms`` with at least ``at_least`` atoms."""
    from ase.build import make_supercell

    n = 1
    while len(atoms) * n**3 < at_least:
        n += 1
    return make_supercell(atoms, np.eye(3, dtype=int) * n)


@pytest.fixture
def big():
    """:func:`big_supercell`, for the tests (conftest functions are not importable from test modules)."""
    return big_supercell
