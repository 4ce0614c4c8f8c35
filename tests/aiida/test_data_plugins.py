"""Data plugins: contents, invariants checked in store(), queryable attributes, get_or_create."""

from __future__ import annotations

import numpy as np
import pytest
from aiida import orm

from aiida_crystalface.data import ClassificationData, ConvNetModelData, FingerprintData, FingerprintDatasetData


def test_fingerprint_round_trip(aiida_profile):
    from aiida_crystalface.core.diffraction import FingerprintSettings

    image = np.random.default_rng(0).random((64, 64), dtype=np.float32)
    node = FingerprintData(image, FingerprintSettings()).store()
    loaded = orm.load_node(node.pk)
    np.testing.assert_array_equal(loaded.image, image)
    assert loaded.image.dtype == np.float32
    assert loaded.settings_hash == FingerprintSettings().hash
    assert FingerprintSettings.from_dict(loaded.settings) == FingerprintSettings()
    assert loaded.get_arraynames() == ['image']


def test_fingerprint_stored_instance_gives_the_stored_image(aiida_profile):
    """The instance that was stored serves its image from memory: it must equal the file, whatever the caller did to
    its own array after handing it over."""
    image = np.random.default_rng(1).random((64, 64), dtype=np.float32)
    given = image.copy()
    node = FingerprintData(image, None)
    image[:] = 0.0  # the caller's array, changed after it was handed over
    node.store()
    from_file = orm.load_node(node.pk).image
    np.testing.assert_array_equal(from_file, given)
    np.testing.assert_array_equal(node.image, from_file)


def test_fingerprint_invariants(aiida_profile):
    with pytest.raises(ValueError, match='no image'):
        FingerprintData().store()
    with pytest.raises(ValueError, match='2D'):
        FingerprintData(np.zeros(5))


def test_classification_attributes_are_queryable(aiida_profile):
    node = ClassificationData({'fcc': 0.1, 'bcc': 0.85, 'sc': 0.05})
    node.label = 'my sample'  # Node.label is the user's, as on any node
    node.store()
    assert node.predicted_class == 'bcc' and node.uncertainty is None
    assert node.max_probability == pytest.approx(0.85)
    builder = orm.QueryBuilder().append(
        ClassificationData,
        filters={'id': node.pk, 'attributes.predicted_class': 'bcc', 'attributes.max_probability': {'>': 0.8}},
        project=['label', 'attributes.predicted_class', 'attributes.uncertainty'],
    )
    assert builder.all() == [['my sample', 'bcc', None]]
    loaded = orm.load_node(node.pk)
    assert loaded.label == 'my sample' and loaded.predicted_class == 'bcc'
    loaded.label = 'renamed'  # a stored node's label can change
    assert orm.load_node(node.pk).label == 'renamed'
    builder = orm.QueryBuilder().append(
        ClassificationData, filters={'id': node.pk, 'attributes.probabilities.fcc': {'>': 0.5}}
    )
    assert builder.count() == 0


@pytest.mark.parametrize('probabilities', [{}, {'a': 0.5, 'b': 0.6}, {'a': float('nan'), 'b': 1.0}])
def test_classification_rejects_bad_probabilities(aiida_profile, probabilities):
    with pytest.raises(ValueError, match='probabilities'):
        ClassificationData(probabilities)


def test_classification_open_set_answer_and_uncertainty(aiida_profile):
    probabilities = {'fcc': 0.4, 'bcc': 0.35, 'sc': 0.25}
    node = ClassificationData(probabilities, predicted_class='unknown', uncertainty=0.9).store()
    assert (node.predicted_class, node.max_probability, node.uncertainty) == ('unknown', 0.4, 0.9)
    found = orm.QueryBuilder().append(
        ClassificationData, filters={'id': node.pk, 'attributes.uncertainty': {'>': 0.5}}, project='attributes'
    )
    assert found.one()[0]['predicted_class'] == 'unknown'
    assert ClassificationData(probabilities, predicted_class='amorphous').predicted_class == 'amorphous'
    with pytest.raises(ValueError, match='predicted_class'):
        ClassificationData(probabilities, predicted_class='hcp')
    with pytest.raises(ValueError, match='uncertainty'):
        ClassificationData(probabilities, uncertainty=float('inf'))
    tampered = ClassificationData(probabilities)
    tampered.base.attributes.set('predicted_class', 'nonsense')
    with pytest.raises(ValueError, match='predicted_class'):
        tampered.store()


def test_model_get_or_create_stores_once(aiida_profile, model_file):
    from aiida_crystalface.ml.classifier import Classifier

    first = ConvNetModelData.get_or_create(model_file)
    second = ConvNetModelData.get_or_create(model_file)
    assert first.uuid == second.uuid
    classifier = Classifier.load(model_file)
    assert first.classes == classifier.classes
    assert first.settings_hash == classifier.settings_hash
    assert first.metrics == {'x': 1.0}
    images = np.random.default_rng(1).random((3, 64, 64), dtype=np.float32)
    np.testing.assert_allclose(first.load_classifier().predict(images), classifier.predict(images), atol=1e-6)


def test_model_refuses_files_that_are_not_models(aiida_profile, tmp_path):
    path = tmp_path / 'model.safetensors'
    path.write_bytes(b'not a model at all')
    with pytest.raises(ValueError, match='not a valid crystalface model'):
        ConvNetModelData(path)
    with pytest.raises(ValueError, match='no such file'):
        ConvNetModelData(tmp_path / 'missing.safetensors')


def test_model_store_checks_md5(aiida_profile, model_file):
    node = ConvNetModelData(model_file)
    node.base.attributes.set('md5', '0' * 32)
    with pytest.raises(ValueError, match='md5'):
        node.store()


def test_dataset_node_summary(aiida_profile, tmp_path):
    from aiida_crystalface.core.datasets import DatasetWriter
    from aiida_crystalface.core.diffraction import FingerprintSettings

    path = tmp_path / 'set.h5'
    with DatasetWriter(path, ['fcc', 'bcc'], FingerprintSettings()) as writer:
        writer.append(np.zeros((3, 64, 64)), [0, 1, 1], {'species': ['Cu', 'Fe', 'W']})
    node = FingerprintDatasetData(path).store()
    assert node.n_items == 3
    assert node.base.attributes.get('counts') == {'fcc': 1, 'bcc': 2}
    assert node.base.attributes.get('settings_hash') == FingerprintSettings().hash
    with node.open_dataset() as dataset:
        assert len(dataset) == 3
    bad = tmp_path / 'bad.h5'
    bad.write_text('nope')
    with pytest.raises(ValueError, match='not a valid crystalface dataset'):
        FingerprintDatasetData(bad)
