"""The bundled models: the paper's (trained on pristine items only) and the default open-set one, small, documented
and right on real crystals."""

import pytest
from ase.build import bulk

from aiida_crystalface.core.diffraction import FingerprintSettings, fingerprints
from aiida_crystalface.ml import Classifier, ModelFileError


@pytest.fixture(scope='module', params=['pristine-4class', 'open-4class'])
def any_bundled(request):
    return Classifier.pretrained(request.param)


@pytest.fixture(scope='module')
def pretrained():
    return Classifier.pretrained('pristine-4class')


def test_default_is_the_bulk_model_and_the_per_atom_default_the_four_class_one():
    from aiida_crystalface.ml.classifier import PER_ATOM_DEFAULT, PRETRAINED_DEFAULT

    assert PRETRAINED_DEFAULT == 'bulk-59' and PER_ATOM_DEFAULT == 'open-4class'
    assert len(Classifier.pretrained().classes) == 59 and 'disorder_rescue' in Classifier.pretrained().open_set
    assert Classifier.pretrained(PER_ATOM_DEFAULT).open_set['method'] == 'outlier-exposure'


def test_bundled_model_is_small_and_documented(pretrained):
    from importlib.resources import files

    folder = files('aiida_crystalface.ml').joinpath('pretrained', 'pristine-4class')
    assert folder.joinpath('model.safetensors').stat().st_size < 1_000_000
    assert 'python -m aiida_crystalface.ml.training' in folder.joinpath('README.md').read_text()
    assert sorted(pretrained.classes) == ['bcc', 'diamond', 'fcc', 'sc']
    training = pretrained.metadata['training']
    assert training['seed'] == 0 and training['split'] == 'random'
    assert set(training['dataset']['defect_kinds']) == {'pristine'}
    assert pretrained.settings_hash == FingerprintSettings.from_dict(pretrained.settings).hash


def test_bundled_model_classifies_real_crystals(any_bundled):
    pretrained = any_bundled
    crystals = {
        'fcc': bulk('Cu', 'fcc', a=3.61),
        'diamond': bulk('Si', 'diamond', a=5.43),
        'bcc': bulk('W', 'bcc', a=3.16),
        'sc': bulk('Po', 'sc', a=3.35),
    }
    settings = FingerprintSettings.from_dict(pretrained.settings)
    probabilities = pretrained.predict(fingerprints(list(crystals.values()), settings), settings_hash=settings.hash)
    for row, name in zip(probabilities, crystals, strict=True):
        assert pretrained.classes[row.argmax()] == name
        assert row.max() > 0.9


def test_unknown_bundled_model_is_refused():
    with pytest.raises(ModelFileError, match='no bundled model'):
        Classifier.pretrained('no-such-model')
