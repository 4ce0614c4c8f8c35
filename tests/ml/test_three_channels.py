"""Three-channel models (``FingerprintSettings(channels=3)``, issue "Beyond cubic"): the network and the classifier."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ase.build import bulk

from aiida_crystalface.core.diffraction import FingerprintSettings, fingerprints
from aiida_crystalface.core.openset import supercell_of_at_least
from aiida_crystalface.core.structures import to_atomic_structure
from aiida_crystalface.ml import Classifier
from aiida_crystalface.ml.convnet import ConvNet

SETTINGS = FingerprintSettings(orientation='standard', channels=3)
CLASSES = ['fcc', 'bcc', 'hcp', 'diamond']


@pytest.fixture(scope='module')
def model():
    torch.manual_seed(0)
    return Classifier(ConvNet(len(CLASSES), in_channels=3), CLASSES, SETTINGS)


def _structures():
    return [
        supercell_of_at_least(to_atomic_structure(bulk('Cu', 'fcc', a=3.61)), 100),
        supercell_of_at_least(to_atomic_structure(bulk('Mg', 'hcp')), 100),
    ]


def test_network_reads_three_channels_and_keeps_the_paper_config():
    net = ConvNet(4, in_channels=3)
    assert net.in_channels == 3 and net.config['in_channels'] == 3
    assert net.convs[0].weight.shape[1] == 3 and net(torch.zeros(2, 3, 64, 64)).shape == (2, 4)
    again = ConvNet.from_config(net.config)
    assert again.in_channels == 3 and again.config == net.config
    paper = ConvNet(4)
    assert 'in_channels' not in paper.config and paper.in_channels == 1  # stored architectures unchanged
    with pytest.raises(ValueError, match='in_channels'):
        ConvNet(4, in_channels=0)


def test_the_four_class_bundled_models_are_one_channel():
    for name in ('open-4class', 'pristine-4class'):
        classifier = Classifier.pretrained(name)
        assert classifier.channels == 1 and 'in_channels' not in classifier.net.config


def test_classify_save_and_load_three_channel_model(model, tmp_path):
    structures = _structures()
    images = fingerprints(structures, SETTINGS)
    assert images.shape == (2, 3, 64, 64)
    logits = model.logits(images)
    assert logits.shape == (2, len(CLASSES)) and np.isfinite(logits).all()
    assert np.allclose(model.logits(images[0]), logits[:1], atol=1e-5)  # one (3, H, W) image
    answers = model.classify(structures)
    assert [set(a) for a in answers] == [{'label', 'probabilities', 'uncertainty'}] * 2
    assert all(a['label'] in CLASSES for a in answers)
    path = model.save(tmp_path / 'three.safetensors')
    loaded = Classifier.load(path)
    assert loaded.channels == 3 and loaded.settings_hash == SETTINGS.hash
    assert np.allclose(loaded.logits(images), logits, atol=1e-5)


def test_wrong_shapes_and_mismatched_settings_are_refused(model):
    with pytest.raises(ValueError, match=r'\(N, 3, 64, 64\)'):
        model.logits(np.zeros((2, 64, 64), np.float32))
    with pytest.raises(ValueError, match='3-channel images, the network reads 1-channel'):
        Classifier(ConvNet(len(CLASSES)), CLASSES, SETTINGS)
    with pytest.raises(ValueError, match='1-channel images, the network reads 3-channel'):
        Classifier(ConvNet(len(CLASSES), in_channels=3), CLASSES, FingerprintSettings())


def test_explanations_say_they_are_one_channel(model):
    from aiida_crystalface.ml.explain import attentive_response_maps, class_templates

    images = fingerprints(_structures(), SETTINGS)
    with pytest.raises(ValueError, match='one-channel models'):
        attentive_response_maps(model, images[0])
    with pytest.raises(ValueError, match='one-channel models'):
        class_templates(model, images)
