"""Training: the CalcJob through a real localhost code, its parser's exit codes, and TrainClassifierWorkChain."""

from __future__ import annotations

import pytest
from aiida import orm
from aiida.common.links import LinkType
from aiida.engine import run_get_node

from aiida_crystalface.calculations.train import TrainClassifierCalculation, get_local_code
from aiida_crystalface.data import ConvNetModelData, FingerprintDatasetData
from aiida_crystalface.workflows.train import TrainClassifierWorkChain

#: Enough for a handful of optimiser steps: the point is the graph and the plumbing, not accuracy.
FAST = {'epochs': 1, 'max_steps': 2, 'batch_size': 4, 'seed': 1, 'accelerator': 'cpu', 'num_threads': 1}
PROTOTYPES = {'species': ['Cu', 'Fe', 'Si', 'Al'], 'representations': ['conventional'], 'targets': [32]}


@pytest.fixture
def local_code(aiida_profile, tmp_path):
    return get_local_code(label='crystalface-python-test', computer_label='localhost-test', workdir=tmp_path / 'work')


def test_train_workchain_builds_the_graph_from_prototypes_to_model(local_code):
    from aiida_crystalface import provenance

    inputs = {
        'prototypes': {'parameters': orm.Dict(PROTOTYPES), 'seed': orm.Int(3)},
        'defects': {'kind': orm.Str('vacancies'), 'amount': orm.Float(0.1), 'seed': orm.Int(4)},
        'training': {'code': local_code, 'parameters': orm.Dict(FAST)},
    }
    results, node = run_get_node(TrainClassifierWorkChain, **inputs)
    assert node.is_finished_ok, node.exit_message
    model, dataset = results['model'], results['dataset']
    assert isinstance(model, ConvNetModelData) and isinstance(dataset, FingerprintDatasetData)
    assert set(results['metrics'].get_dict()) >= {'train_accuracy', 'test_accuracy'}
    assert 'model:' in results['log'].get_content()
    assert dataset.base.attributes.get('defect_kinds') == {'pristine': 16, 'vacancies': 16}
    assert dataset.n_items == 32
    # model <- CalcJob <- dataset + hyper-parameters; dataset <- build_dataset <- fingerprints <- structures
    behind = provenance.training_set_of_model(model)
    assert behind['dataset'].uuid == dataset.uuid
    assert behind['parameters'] == FAST
    assert behind['calculation'].process_type == 'aiida.calculations:crystalface.train'
    creator = dataset.base.links.get_incoming(link_type=LinkType.CREATE).one().node
    assert creator.process_label == 'build_dataset'
    fingerprints = [
        t.node
        for t in creator.base.links.get_incoming(link_type=LinkType.INPUT_CALC).all()
        if t.link_label.startswith(('item_', 'defect_item_'))
    ]
    assert len(fingerprints) == 32
    assert model.settings_hash == fingerprints[0].settings_hash
    # Chaining: the trained model classifies through ClassifyStructuresWorkChain.
    from aiida_crystalface.workflows.classify import ClassifyStructuresWorkChain

    structure = orm.QueryBuilder().append(orm.StructureData, project='*').first(flat=True)
    classified, node = run_get_node(ClassifyStructuresWorkChain, structures={'s': structure}, model=model)
    assert node.is_finished_ok, node.exit_message
    assert provenance.prediction_provenance(classified['predictions']['s'])['model'].uuid == model.uuid


def test_calcjob_bad_hyperparameters_give_an_exit_code(local_code, tmp_path):
    import numpy as np

    from aiida_crystalface.core.datasets import DatasetWriter
    from aiida_crystalface.core.diffraction import FingerprintSettings

    path = tmp_path / 'set.h5'
    with DatasetWriter(path, ['fcc', 'bcc'], FingerprintSettings()) as writer:
        writer.append(np.random.default_rng(0).random((8, 64, 64)), [0, 1] * 4, {'species': ['Cu'] * 8})
    dataset = FingerprintDatasetData(path).store()
    parameters = orm.Dict({**FAST, 'test_fraction': 5.0})
    _, node = run_get_node(TrainClassifierCalculation, code=local_code, dataset=dataset, parameters=parameters)
    assert node.exit_status == TrainClassifierCalculation.exit_codes.ERROR_BAD_INPUT.status
    assert 'test_fraction' in node.exit_message or 'fraction' in node.exit_message
    assert 'log' in node.outputs


def test_calcjob_refuses_unknown_hyperparameters(local_code):
    builder = TrainClassifierCalculation.get_builder()
    with pytest.raises(ValueError, match='unknown hyper-parameter'):
        builder.parameters = orm.Dict({'epochs': 1, 'learning_speed': 3})
        run_get_node(builder)
