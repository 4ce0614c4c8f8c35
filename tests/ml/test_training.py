"""Training: the loss falls, the outputs and metadata are complete, splits, determinism and the command line."""

import json

import numpy as np
import pytest
import pytorch_lightning as pl
import torch
from torch.nn import functional as F  # noqa: N812

from aiida_crystalface.core.datasets import open_dataset
from aiida_crystalface.ml.classifier import Classifier
from aiida_crystalface.ml.convnet import ConvNet
from aiida_crystalface.ml.training import (
    EXIT_BAD_INPUT,
    EXIT_DIVERGED,
    EXIT_OK,
    ClassifierModule,
    FingerprintDataModule,
    main,
    split_indices,
)


def test_a_few_training_steps_lower_the_loss(synthetic_dataset, tmp_path):
    pl.seed_everything(0, verbose=False)
    data = FingerprintDataModule(synthetic_dataset, batch_size=16, seed=0)
    module = ClassifierModule(ConvNet(4), learning_rate=1e-3)
    images, labels = data.images[:64], data.labels[:64]

    def loss() -> float:
        module.eval()
        with torch.no_grad():
            return F.cross_entropy(module(images), labels).item()

    before = loss()
    trainer = pl.Trainer(
        max_steps=25,
        accelerator='cpu',
        deterministic=True,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        default_root_dir=tmp_path,
        limit_val_batches=0,
    )
    trainer.fit(module, datamodule=data)
    assert loss() < 0.9 * before


def test_train_classifier_writes_model_metrics_and_csv(trained):
    assert trained.model_path.name == 'model.safetensors'
    report = json.loads(trained.metrics_path.read_text())
    assert report['test_accuracy'] == trained.metrics['test_accuracy']
    assert report['train_accuracy'] > 0.5  # 4 classes: chance is 0.25
    confusion = np.array(report['test']['confusion_matrix'])
    assert confusion.shape == (4, 4) and confusion.sum() == 40 == len(report['test_indices'])
    lines = trained.csv_path.read_text().splitlines()
    header = lines[0].split(',')
    assert {'epoch', 'train_loss', 'train_acc'} <= set(header)
    assert not any(name.startswith(('test_', 'val_')) for name in header)  # the test set is never looked at in training
    epochs = {row.split(',')[header.index('epoch')] for row in lines[1:]}
    assert epochs == {'0', '1', '2', '3'}
    metadata = Classifier.load(trained.model_path).metadata
    training = metadata['training']
    assert training['seed'] == 0 and training['split'] == 'random' and training['n_test'] == 40
    assert training['dataset']['n_items'] == 160 and training['hyperparameters']['learning_rate'] == 1e-3
    assert metadata['metrics']['test_accuracy'] == report['test_accuracy']


def test_training_is_deterministic(synthetic_dataset, tmp_path):
    from aiida_crystalface.ml.training import train_classifier

    seeds = {'first': 0, 'again': 0, 'other': 1}
    runs = [
        train_classifier(synthetic_dataset, tmp_path / d, max_steps=6, batch_size=16, seed=s) for d, s in seeds.items()
    ]
    runs = [run.classifier.net.state_dict() for run in runs]
    for key, value in runs[0].items():
        torch.testing.assert_close(runs[1][key], value, rtol=0, atol=0)
    assert not torch.equal(runs[2]['output.weight'], runs[0]['output.weight'])


def test_species_split_holds_out_whole_species(synthetic_dataset):
    with open_dataset(synthetic_dataset) as dataset:
        species = dataset.metadata['species']
        train, test = split_indices(dataset.labels, 'species', species=species, seed=3)
    assert len(train) + len(test) == 160
    assert not set(species[train]) & set(species[test])
    assert len(test) >= 40
    again = split_indices(np.zeros(160), 'species', species=species, seed=3)
    np.testing.assert_array_equal(again[1], test)
    with pytest.raises(ValueError, match='species'):
        split_indices(np.zeros(10), 'species')


def test_random_split_is_seeded_and_disjoint():
    train, test = split_indices(np.zeros(100), 'random', seed=1)
    assert len(test) == 25 and not set(train) & set(test)
    assert not np.array_equal(split_indices(np.zeros(100), seed=2)[1], test)
    with pytest.raises(ValueError, match='split must be one of'):
        split_indices(np.zeros(100), 'stratified')


def test_command_line_species_split(synthetic_dataset, tmp_path):
    out = tmp_path / 'model'
    args = [str(synthetic_dataset), '-o', str(out), '--split', 'species', '--max-steps', '3', '--no-progress']
    assert main(args) == EXIT_OK
    assert {p.name for p in out.iterdir()} == {'model.safetensors', 'metrics.json', 'metrics.csv'}
    report = json.loads((out / 'metrics.json').read_text())
    with open_dataset(synthetic_dataset) as dataset:
        test_species = set(dataset.metadata['species'][report['test_indices']])
    assert sorted(test_species) == report['training']['test_species']


def test_command_line_exit_codes(synthetic_dataset, tmp_path, capsys):
    not_a_dataset = tmp_path / 'x.h5'
    not_a_dataset.write_text('hello')
    assert main([str(not_a_dataset), '-o', str(tmp_path / 'a'), '--no-progress']) == EXIT_BAD_INPUT
    assert 'not a crystalface dataset' in capsys.readouterr().err
    code = main([str(synthetic_dataset), '-o', str(tmp_path / 'b'), '--learning-rate', '1e30', '--no-progress'])
    assert code == EXIT_DIVERGED
    assert 'diverged' in capsys.readouterr().err


def test_validation_split_is_separate_from_the_test_split(synthetic_dataset, trained, tmp_path):
    """val_fraction carves the validation set out of the training items: the test set is the same, disjoint from both,
    used once for the final metrics; the per-epoch log has val_* columns and no test_* column."""
    from aiida_crystalface.ml.training import train_classifier

    result = train_classifier(synthetic_dataset, tmp_path, epochs=2, batch_size=16, seed=0, val_fraction=0.2)
    report = json.loads(result.metrics_path.read_text())
    test, val = set(report['test_indices']), set(report['val_indices'])
    assert report['test_indices'] == json.loads(trained.metrics_path.read_text())['test_indices']
    assert val and not val & test
    training = report['training']
    assert training['n_val'] == len(val) == round(0.2 * 120) and training['n_train'] == 160 - 40 - len(val)
    assert 'val_accuracy' in report and 'test_accuracy' in report and 'val' in report
    header = result.csv_path.read_text().splitlines()[0].split(',')
    assert {'val_loss', 'val_acc'} <= set(header) and not any(name.startswith('test_') for name in header)


def test_no_validation_keeps_the_weights_of_the_earlier_protocol(synthetic_dataset, tmp_path):
    """val_fraction=0 trains on exactly the items and random stream of the earlier protocol (one validation pass per
    epoch, on the test set, drew from torch's generator): the weights equal a run with such a pass, bit for bit."""
    import pytorch_lightning as pl
    import torch

    from aiida_crystalface.ml import training

    plain = training.train_classifier(synthetic_dataset, tmp_path / 'a', epochs=2, batch_size=16, seed=0)

    class _Draw(pl.Callback):  # what the old validation pass drew, nothing else
        def on_train_epoch_end(self, trainer, module):
            iter(torch.utils.data.DataLoader(torch.zeros(4), 2))

    original = training._SameRandomStream
    training._SameRandomStream = _Draw
    try:
        reference = training.train_classifier(synthetic_dataset, tmp_path / 'b', epochs=2, batch_size=16, seed=0)
    finally:
        training._SameRandomStream = original
    for key, value in reference.classifier.net.state_dict().items():
        torch.testing.assert_close(plain.classifier.net.state_dict()[key], value, rtol=0, atol=0)


def test_three_channel_dataset_trains_a_three_channel_network(three_channel_dataset, tmp_path):
    """A dataset of (C, H, W) images (``FingerprintSettings(channels=3)``) trains a network with as many inputs."""
    from aiida_crystalface.ml.training import train_classifier

    data = FingerprintDataModule(three_channel_dataset, batch_size=16, seed=0)
    assert tuple(data.images.shape) == (96, 3, 64, 64)
    result = train_classifier(three_channel_dataset, tmp_path / 'model', epochs=16, batch_size=16, seed=0)
    loaded = Classifier.load(result.model_path)
    assert loaded.net.in_channels == 3
    assert result.metrics['train_accuracy'] > 0.4  # 4 classes: chance is 0.25
