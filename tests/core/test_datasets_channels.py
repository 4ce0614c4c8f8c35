"""The dataset layer with three-channel fingerprints: round trip, the shape check, one-channel files as before."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

from aiida_crystalface.core.datasets import DatasetError, DatasetWriter, open_dataset
from aiida_crystalface.core.diffraction import FingerprintSettings

STANDARD = FingerprintSettings(orientation='standard', channels=3)
CLASSES = ['fcc', 'hcp', 'other']


def _images(n: int, shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((n, *shape), dtype=np.float32)


def test_three_channel_round_trip(tmp_path):
    path = tmp_path / 'three.h5'
    images = _images(7, STANDARD.image_shape)
    labels = [0, 1, 2, 2, 1, 0, 2]
    meta = {'label': ['fcc', 'hcp', 'unknown', 'unknown', 'hcp', 'fcc', 'unknown'], 'seed': np.arange(7)}
    with DatasetWriter(path, CLASSES, STANDARD, dtype='float32') as writer:  # the shape is the settings'
        writer.append(images[:4], labels[:4], {k: v[:4] for k, v in meta.items()})
        writer.append(images[4:], labels[4:], {k: v[4:] for k, v in meta.items()})
    with h5py.File(path, 'r') as handle:
        assert handle.attrs['format_version'] == 2  # an older package refuses the file instead of misreading it
        assert handle['images'].shape == (7, 3, 64, 64)
    with open_dataset(path) as dataset:
        assert dataset.image_shape == (3, 64, 64) and len(dataset) == 7
        assert dataset.settings == STANDARD.to_dict() and dataset.settings_hash == STANDARD.hash
        np.testing.assert_array_equal(dataset.get_images(), images)
        np.testing.assert_array_equal(dataset.get_images([5, 0, 5, 2]), images[[5, 0, 5, 2]])
        np.testing.assert_array_equal(dataset.get_images(slice(1, 3)), images[1:3])
        assert dataset.get_images([]).shape == (0, 3, 64, 64)
        image, label = dataset[3]
        assert image.shape == (3, 64, 64) and label == 2
        assert list(dataset.metadata['label']) == meta['label']
        summary = dataset.summary()
        assert summary['channels'] == 3 and summary['counts'] == {'fcc': 2, 'hcp': 2, 'other': 3}


def test_three_channel_float16(tmp_path):
    path = tmp_path / 'half.h5'
    images = _images(3, STANDARD.image_shape, seed=1)
    with DatasetWriter(path, CLASSES, STANDARD) as writer:
        writer.append(images, [0, 1, 2])
    with open_dataset(path) as dataset:
        assert dataset.images.dtype == np.float16
        np.testing.assert_allclose(dataset.get_images(), images, atol=1e-3)


def test_writer_refuses_images_of_another_shape(tmp_path):
    path = tmp_path / 'bad.h5'
    with DatasetWriter(path, CLASSES, STANDARD) as writer:
        with pytest.raises(DatasetError, match=r'images must have shape \(n, 3, 64, 64\)'):
            writer.append(_images(2, (64, 64)), [0, 1])
        with pytest.raises(DatasetError, match='images must have shape'):
            writer.append(_images(2, (1, 64, 64)), [0, 1])
    with pytest.raises(ValueError, match='not that of the settings'):
        DatasetWriter(tmp_path / 'one.h5', CLASSES, FingerprintSettings(), image_shape=(3, 64, 64))
    with pytest.raises(ValueError, match=r'\(H, W\) or \(C, H, W\)'):
        DatasetWriter(tmp_path / 'flat.h5', CLASSES, None, image_shape=(4096,))
    assert sorted(p.name for p in tmp_path.iterdir()) == ['bad.h5']


@pytest.mark.parametrize(('written', 'claimed'), [(FingerprintSettings(), STANDARD), (STANDARD, FingerprintSettings())])
def test_reader_refuses_images_that_are_not_the_settings_shape(tmp_path, written, claimed):
    path = tmp_path / 'inconsistent.h5'
    with DatasetWriter(path, ['fcc'], written) as writer:
        writer.append(_images(2, written.image_shape), [0, 0])
    with h5py.File(path, 'r+') as handle:
        handle.attrs['settings'] = json.dumps(claimed.to_dict(), sort_keys=True)
    with pytest.raises(DatasetError, match=r'inconsistent\.h5: the stored images have shape'):
        open_dataset(path)


def test_reader_refuses_a_newer_format_version(tmp_path):
    path = tmp_path / 'future.h5'
    with DatasetWriter(path, ['fcc'], STANDARD) as writer:
        writer.append(_images(1, STANDARD.image_shape), [0])
    with h5py.File(path, 'r+') as handle:
        handle.attrs['format_version'] = 3
    with pytest.raises(DatasetError, match=r'future\.h5: dataset format version 3 is newer'):
        open_dataset(path)


def test_one_channel_files_are_as_before(tmp_path):
    """The layout of a one-channel file is unchanged: version 1, (N, H, W) images, the same chunks and attributes.

    (Checked bit for bit against the writer of the previous commit when the channel axis came in: identical files.)
    """
    path = tmp_path / 'one.h5'
    images = _images(300, (64, 64), seed=2)
    with DatasetWriter(path, ['fcc', 'bcc'], FingerprintSettings(), description='x') as writer:
        writer.append(images, np.arange(300) % 2, {'species': ['Cu'] * 300, 'seed': np.arange(300)})
    with h5py.File(path, 'r') as handle:
        assert handle.attrs['format_version'] == 1
        assert sorted(handle.attrs) == [
            'classes',
            'description',
            'format',
            'format_version',
            'package_version',
            'settings',
            'settings_hash',
        ]
        data = handle['images']
        assert data.shape == (300, 64, 64) and data.maxshape == (None, 64, 64) and data.chunks == (256, 64, 64)
        assert data.dtype == np.float16 and data.compression == 'lzf'
        assert handle['labels'].dtype == np.int16 and handle['labels'].chunks == (4096,)
    with open_dataset(path) as dataset:
        assert dataset.image_shape == (64, 64) and dataset.get_images([3]).shape == (1, 64, 64)
        assert 'channels' not in dataset.summary()
    # Synthetic settings (no pixels): any (H, W), 64 x 64 by default, as before.
    with DatasetWriter(tmp_path / 'synthetic.h5', ['a'], {'kind': 'synthetic'}, image_shape=(8, 8)) as writer:
        writer.append(_images(2, (8, 8)), [0, 0])
    with open_dataset(tmp_path / 'synthetic.h5') as dataset:
        assert dataset.image_shape == (8, 8)
