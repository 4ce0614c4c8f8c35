"""The bulk prototype model's decision rule (``lattice_rule = 'restrict'``) and its recalibration (ml.bulk)."""

from __future__ import annotations

import numpy as np
import torch

from aiida_crystalface.core.classes import class_structure
from aiida_crystalface.core.diffraction import FingerprintSettings, fingerprint_batch
from aiida_crystalface.core.openset import supercell_of_at_least
from aiida_crystalface.ml import Classifier
from aiida_crystalface.ml.bulk import bulk_prototypes, fit_decision_rule, recalibrate_bulk_model
from aiida_crystalface.ml.convnet import ConvNet
from aiida_crystalface.ml.openset import _answers

SETTINGS = FingerprintSettings(orientation='standard', channels=3)
CLASSES = ['fcc', 'hcp', 'rocksalt']


def _images_and_lattices(names):
    structures = [supercell_of_at_least(class_structure(n, 'random'), 100) for n in names]
    batch = fingerprint_batch(structures, SETTINGS)
    return batch.images, batch.lattices


def test_restrict_takes_the_best_class_the_lattice_admits():
    images, lattices = _images_and_lattices(['hcp'])
    prototypes = bulk_prototypes(CLASSES)
    # The network prefers fcc, then hcp; an hcp crystal's lattice admits only hcp.
    net = ConvNet(len(CLASSES) + 1, in_channels=3)
    rule = {'threshold': 0.9, 'temperature': 1.0, 'lattice_rule': True}
    classifier = Classifier(net, CLASSES, SETTINGS, metadata={'prototypes': prototypes, 'open_set': rule})
    logits = np.array([[3.0, 2.0, -5.0, -5.0]])
    classifier.logits = lambda _images, **_: logits  # the rule, not the weights, is under test
    classifier.output_probabilities = lambda _images, **_: np.exp(logits) / np.exp(logits).sum()
    assert classifier.decide(images, lattices)[0]['label'] == 'unknown'  # the four-class model's rule
    classifier.open_set['lattice_rule'] = 'restrict'
    assert classifier.decide(images, lattices)[0]['label'] == 'hcp'
    consistent = classifier.lattice_consistency(lattices)
    assert consistent.tolist() == [[False, True, False]]
    probabilities = np.exp(logits) / np.exp(logits).sum()
    assert _answers(probabilities, 0.9, consistent)[0] == 3
    assert _answers(probabilities, 0.9, consistent, restrict=True)[0] == 1


def test_fit_and_recalibrate(tmp_path):
    names = ['fcc', 'hcp', 'rocksalt', 'hcp', 'rutile', 'wurtzite']  # the last two: outsiders of these classes
    images, lattices = _images_and_lattices(names)
    targets = np.array([CLASSES.index(n) if n in CLASSES else len(CLASSES) for n in names])
    torch.manual_seed(0)
    net = ConvNet(len(CLASSES) + 1, in_channels=3).eval()
    record, prototypes = fit_decision_rule(
        net,
        CLASSES,
        SETTINGS,
        prototypes=bulk_prototypes(CLASSES),
        images=images,
        targets=targets,
        lattices=lattices,
    )
    assert record['lattice_rule'] == 'restrict' and record['lattice_rule_exempt'] == []
    assert prototypes['hcp']['lattice'] == {'bravais': 'hP', 'sites': 2}
    model = Classifier(net, CLASSES, SETTINGS, metadata={'open_set': record, 'prototypes': prototypes})
    model.save(tmp_path / 'model.safetensors')
    cache = tmp_path / 'cache'
    cache.mkdir()
    np.savez(cache / 'calibration.npz', images=images, targets=targets)
    (cache / 'calibration.json').write_text(__import__('json').dumps(lattices))
    again = recalibrate_bulk_model(tmp_path / 'model.safetensors', cache, tmp_path / 'out')
    assert again.open_set['lattice_rule'] == 'restrict' and 'previous' in again.open_set
    assert again.channels == 3 and again.classes == CLASSES
    answers = again.decide(images, lattices)
    assert all(a['label'] in (*CLASSES, 'unknown') for a in answers)
