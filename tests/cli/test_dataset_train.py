"""``dataset`` (no profile) and ``train`` (direct, and through the training CalcJob with provenance)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from aiida_crystalface.cli import cmd_root

from .conftest import assert_no_profile, run_subprocess


@pytest.fixture(scope='module')
def small_dataset(tmp_path_factory):
    path = tmp_path_factory.mktemp('dataset') / 'pristine.h5'
    args = ['dataset', 'pristine', '-o', str(path), '--species', 'Cu,Fe,Si', '--targets', '64,128', '--seed', '3']
    result = CliRunner().invoke(cmd_root, args)
    assert result.exit_code == 0, result.output
    assert 'np.' not in result.output  # plain numbers and strings, never numpy reprs
    return path


def test_dataset_pristine(small_dataset):
    from aiida_crystalface.core.datasets import open_dataset

    with open_dataset(small_dataset) as dataset:
        assert len(dataset) == 3 * 4 * 3 * 2  # species x classes x representations x sizes
        assert list(dataset.classes) == ['fcc', 'diamond', 'bcc', 'sc']
    again = CliRunner().invoke(cmd_root, ['dataset', 'pristine', '-o', str(small_dataset), '--species', 'Cu'])
    assert again.exit_code != 0 and 'exists' in str(again.exception or again.output)


@pytest.mark.slow
def test_train_no_store(small_dataset, tmp_path, fresh_aiida_path):
    from aiida_crystalface.ml.classifier import Classifier

    out = tmp_path / 'model'
    result = run_subprocess(['train', small_dataset, '-o', out, '--epochs', '1', '--no-store'], fresh_aiida_path)
    assert result.returncode == 0, result.stderr
    assert Classifier.load(out / 'model.safetensors').classes == ['fcc', 'diamond', 'bcc', 'sc']
    assert_no_profile(fresh_aiida_path)


@pytest.mark.usefixtures('aiida_profile_clean')
def test_train_stored_with_provenance(small_dataset, tmp_path):
    from aiida import orm

    from aiida_crystalface.data.dataset import FingerprintDatasetData
    from aiida_crystalface.data.model import ConvNetModelData

    out = tmp_path / 'model'
    result = CliRunner().invoke(cmd_root, ['train', str(small_dataset), '-o', str(out), '--epochs', '1', '--seed', '5'])
    assert result.exit_code == 0, result.output
    model = orm.QueryBuilder().append(ConvNetModelData).one()[0]
    calc = model.creator
    assert calc.process_type.endswith('crystalface.train') and calc.is_finished_ok
    assert isinstance(calc.inputs.dataset, FingerprintDatasetData)
    assert calc.inputs.parameters['seed'] == 5 and calc.inputs.parameters['epochs'] == 1
    assert calc.inputs.parameters['val_fraction'] == 0.1  # the command line's default: a validation split
    metrics = calc.outputs.metrics.get_dict()
    assert not set(metrics['val_indices']) & set(metrics['test_indices'])
    assert 'val_accuracy' in metrics and 'test accuracy' in result.stdout
    assert 'Done in' in result.stderr and 'test accuracy' in result.stderr  # one summary line at the end
    # The CalcJob was called by TrainClassifierWorkChain, which took the stored dataset as its input.
    workchain = calc.caller
    assert workchain.process_label == 'TrainClassifierWorkChain' and workchain.is_finished_ok
    assert workchain.inputs.dataset.uuid == calc.inputs.dataset.uuid
    assert workchain.outputs.model.uuid == model.uuid
    with model.open(mode='rb') as handle:
        assert (out / 'model.safetensors').read_bytes() == handle.read()
    assert json.loads((out / 'metrics.json').read_text()) == calc.outputs.metrics.get_dict()
