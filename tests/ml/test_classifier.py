"""The Classifier: probabilities, the safetensors file format, refusals."""

import json
import pickle

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from aiida_crystalface.core.datasets import open_dataset
from aiida_crystalface.ml.classifier import Classifier, ModelFileError, SettingsMismatchError
from aiida_crystalface.ml.convnet import ConvNet


@pytest.fixture(scope='module')
def images(synthetic_dataset):
    with open_dataset(synthetic_dataset) as dataset:
        return dataset.get_images(slice(0, 40))


def test_predictions_are_probabilities(trained, images):
    probabilities = trained.classifier.predict(images, batch_size=7)
    assert probabilities.shape == (40, 4)
    assert np.all(probabilities >= 0)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, atol=1e-12)
    single = trained.classifier.predict(images[3])
    np.testing.assert_allclose(single[0], probabilities[3], rtol=1e-5, atol=1e-7)


def test_save_then_load_gives_identical_predictions(trained, images, tmp_path):
    path = trained.classifier.save(tmp_path / 'copy.safetensors')
    loaded = Classifier.load(path)
    np.testing.assert_array_equal(loaded.predict(images), trained.classifier.predict(images))
    assert loaded.classes == trained.classifier.classes
    assert loaded.settings_hash == '0123456789abcdef'
    assert loaded.metadata['training']['seed'] == 0
    assert loaded.metadata['training']['split'] == 'random'


def test_float16_file_is_smaller_and_loads_identically(trained, images, tmp_path):
    net = ConvNet.from_config(trained.classifier.net.config)
    net.load_state_dict(trained.classifier.net.state_dict())
    half = Classifier(net, trained.classifier.classes, trained.classifier.settings, trained.classifier.settings_hash)
    path = half.save(tmp_path / 'half.safetensors', weights_dtype='float16')
    assert path.stat().st_size < 0.6 * trained.model_path.stat().st_size
    loaded = Classifier.load(path)
    np.testing.assert_array_equal(loaded.predict(images), half.predict(images))
    assert loaded.metadata['weights_dtype'] == 'float16'


def test_mismatched_settings_hash_is_refused(trained, images):
    trained.classifier.predict(images, settings_hash='0123456789abcdef')
    with pytest.raises(SettingsMismatchError, match='fffffffffffffff0'):
        trained.classifier.predict(images, settings_hash='fffffffffffffff0')


def test_bad_images_are_refused(trained):
    with pytest.raises(ValueError, match='shape'):
        trained.classifier.predict(np.zeros((2, 32, 32)))
    with pytest.raises(ValueError, match='NaN'):
        trained.classifier.predict(np.full((1, 64, 64), np.nan))


def _state(trained):
    return {k: v.contiguous() for k, v in trained.classifier.net.state_dict().items()}


class _Trap:
    """Unpickling this object would create a marker file: loading must never unpickle."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), 'w'))


def _not_models(tmp_path, trained):
    marker = tmp_path / 'unpickled'
    files = {}
    files['random bytes'] = tmp_path / 'random.safetensors'
    files['random bytes'].write_bytes(np.random.default_rng(0).bytes(5000))
    files['pickle'] = tmp_path / 'model.pkl'
    files['pickle'].write_bytes(pickle.dumps(_Trap(marker)))
    files['torch checkpoint'] = tmp_path / 'model.pt'
    torch.save({'state_dict': trained.classifier.net.state_dict(), 'trap': _Trap(marker)}, files['torch checkpoint'])
    files['plain safetensors'] = tmp_path / 'plain.safetensors'
    save_file(_state(trained), str(files['plain safetensors']))
    files['other metadata'] = tmp_path / 'other.safetensors'
    save_file({'w': torch.zeros(2)}, str(files['other metadata']), metadata={'crystalface': json.dumps({'a': 1})})
    files['empty'] = tmp_path / 'empty.safetensors'
    files['empty'].write_bytes(b'')
    return files, marker


def test_files_that_are_not_models_are_refused_without_unpickling(trained, tmp_path):
    files, marker = _not_models(tmp_path, trained)
    for kind, path in files.items():
        with pytest.raises(ModelFileError, match='not a crystalface model') as info:
            Classifier.load(path)
        assert str(path) in str(info.value), kind
    assert not marker.exists()
    with pytest.raises(ModelFileError, match='no such model file'):
        Classifier.load(tmp_path / 'missing.safetensors')


def test_weights_that_do_not_match_the_architecture_are_refused(trained, tmp_path):
    metadata = dict(trained.classifier.metadata)
    metadata['architecture'] = {**metadata['architecture'], 'dense': 64}
    path = tmp_path / 'mismatch.safetensors'
    save_file(_state(trained), str(path), metadata={'crystalface': json.dumps(metadata)})
    with pytest.raises(ModelFileError, match='do not match'):
        Classifier.load(path)
