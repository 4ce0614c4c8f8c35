"""Training the ConvNet with Lightning on a dataset file, with the paper's protocol as defaults.

Protocol (paper, Methods): Adam, learning rate 1e-3, batches of 32, 2 epochs, cross-entropy, on a random 75 % of the
pristine set; the other 25 % is the test set. The ``'species'`` split holds out whole chemical species instead
(no species of the test set is seen in training), because the pristine fingerprints of one species are near-duplicates
and a random split leaks them between training and test.

Three disjoint splits: the test set (``test_fraction`` of the items) is measured once, after training, and is what the
metrics report; it takes no part in training, monitoring or model selection. ``val_fraction`` of the remaining items
form the validation set, evaluated after every epoch (``val_loss`` and ``val_acc`` in ``metrics.csv``) for monitoring
and selection. The default ``val_fraction = 0`` is the paper's protocol (fixed epochs, nothing selected, every
non-test item trains): it gives exactly the weights of the bundled model and of ``reproduce``. The test split never
depends on ``val_fraction``.

Command line (needs no AiiDA; the training CalcJob runs exactly this)::

    python -m aiida_crystalface.ml.training DATASET -o MODEL_DIR [--split random|species] [--val-fraction 0.1] ...

writes ``MODEL_DIR/model.safetensors``, ``MODEL_DIR/metrics.json`` and ``MODEL_DIR/metrics.csv`` (loss and accuracy
per epoch). Exit codes: 0 success, 1 unexpected error, 2 bad input (dataset or options), 3 training diverged (the
loss became NaN or infinite), 4 out of memory.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from torch.nn import functional as F  # noqa: N812 (the torch convention)
from torch.utils.data import DataLoader, TensorDataset

from aiida_crystalface.ml.classifier import Classifier
from aiida_crystalface.ml.convnet import ConvNet
from aiida_crystalface.ml.metrics import classification_metrics

__all__ = (
    'EXIT_BAD_INPUT',
    'EXIT_DIVERGED',
    'EXIT_ERROR',
    'EXIT_OK',
    'EXIT_OUT_OF_MEMORY',
    'ClassifierModule',
    'FingerprintDataModule',
    'TrainingDivergedError',
    'TrainingResult',
    'split_indices',
    'train_classifier',
    'validation_indices',
)

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_BAD_INPUT = 2
EXIT_DIVERGED = 3
EXIT_OUT_OF_MEMORY = 4

SPLITS = ('random', 'species')


class TrainingDivergedError(RuntimeError):
    """The training loss became NaN or infinite."""


def split_indices(
    labels: np.ndarray,
    split: str = 'random',
    *,
    species: Sequence[str] | None = None,
    test_fraction: float = 0.25,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Split item indices into (train, test), both sorted.

    :param split: ``'random'``: a seeded random ``test_fraction`` of the items; ``'species'``: whole species, drawn in
        a seeded random order until the test set holds at least ``test_fraction`` of the items.
    :param species: one species string per item (required for ``'species'``).
    """
    n = len(labels)
    if split not in SPLITS:
        raise ValueError(f'split must be one of {SPLITS}, not {split!r}')
    if not 0 < test_fraction < 1:
        raise ValueError(f'test_fraction must be between 0 and 1, not {test_fraction}')
    if n < 2:
        raise ValueError(f'need at least two items to split, got {n}')
    rng = np.random.default_rng(seed)
    if split == 'random':
        order = rng.permutation(n)
        n_test = min(n - 1, max(1, round(test_fraction * n)))
        return np.sort(order[n_test:]), np.sort(order[:n_test])
    if species is None:
        raise ValueError("the 'species' split needs a 'species' metadata field in the dataset")
    species = np.asarray(species).astype(str)
    unique, counts = np.unique(species, return_counts=True)
    if len(unique) < 2:
        raise ValueError(f"the 'species' split needs at least two species, the dataset has {len(unique)}")
    order = rng.permutation(len(unique))
    taken, n_test = [], 0
    for index in order[:-1]:  # always leave at least one species for training
        if n_test >= test_fraction * n:
            break
        taken.append(unique[index])
        n_test += counts[index]
    is_test = np.isin(species, taken)
    return np.flatnonzero(~is_test), np.flatnonzero(is_test)


def validation_indices(train_indices: np.ndarray, val_fraction: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Split training indices into (train, validation), both sorted: a seeded random ``val_fraction`` of them.

    The random stream is separate from the train/test split's, so the test split is the same whatever the fraction.
    """
    train_indices = np.asarray(train_indices)
    if not 0 <= val_fraction < 1:
        raise ValueError(f'val_fraction must be in [0, 1), not {val_fraction}')
    if val_fraction == 0:
        return np.sort(train_indices), np.zeros(0, dtype=train_indices.dtype)
    if len(train_indices) < 2:
        raise ValueError(f'need at least two training items to hold some out for validation, got {len(train_indices)}')
    order = np.random.default_rng([seed, 1]).permutation(len(train_indices))
    n_val = min(len(train_indices) - 1, max(1, round(val_fraction * len(train_indices))))
    return np.sort(train_indices[order[n_val:]]), np.sort(train_indices[order[:n_val]])


class FingerprintDataModule(pl.LightningDataModule):
    """The images of a dataset file, held in memory as one float32 tensor, split into train, validation and test.

    A pristine set of ~6,000 64 x 64 images takes ~100 MB as float32, so memory is never the limit here and the
    training loop never waits for HDF5 reads.
    """

    def __init__(
        self,
        dataset_path: str | os.PathLike,
        *,
        split: str = 'random',
        test_fraction: float = 0.25,
        val_fraction: float = 0.0,
        batch_size: int = 32,
        seed: int = 0,
    ):
        super().__init__()
        from aiida_crystalface.core.datasets import open_dataset

        if batch_size < 1:
            raise ValueError(f'batch_size must be positive, not {batch_size}')
        self.dataset_path = Path(dataset_path)
        self.batch_size = batch_size
        self.seed = seed
        self.split = split
        self.test_fraction = test_fraction
        self.val_fraction = val_fraction
        with open_dataset(self.dataset_path) as dataset:
            self.classes = list(dataset.classes)
            self.settings = dict(dataset.settings)
            self.settings_hash = dataset.settings_hash
            self.summary = dataset.summary()
            species = dataset.metadata.get('species')
            self.train_indices, self.test_indices = split_indices(
                dataset.labels, split, species=species, test_fraction=test_fraction, seed=seed
            )
            self.train_indices, self.val_indices = validation_indices(self.train_indices, val_fraction, seed)
            images = dataset.get_images()
            self.labels = torch.from_numpy(dataset.labels)
        if not np.isfinite(images).all():
            raise ValueError(f'{self.dataset_path}: the images contain NaN or infinite values')
        # (N, H, W) one-channel images gain their channel axis; (N, C, H, W) three-channel ones have it.
        self.images = torch.from_numpy(images if images.ndim == 4 else images[:, None])
        # Plain Python values (NumPy scalars are not JSON): the species of the test part, as stored in the file.
        held = species[self.test_indices].tolist() if species is not None else None
        self.test_species = sorted(set(held)) if held is not None else None

    def _subset(self, indices: np.ndarray) -> TensorDataset:
        index = torch.from_numpy(indices)
        return TensorDataset(self.images[index], self.labels[index])

    def train_dataloader(self) -> DataLoader:
        generator = torch.Generator().manual_seed(self.seed)
        return DataLoader(self._subset(self.train_indices), self.batch_size, shuffle=True, generator=generator)

    def val_dataloader(self) -> DataLoader:
        """The validation set (never the test set: that one is measured only once, after training)."""
        return DataLoader(self._subset(self.val_indices), 256)


class ClassifierModule(pl.LightningModule):
    """The ConvNet trained with cross-entropy on logits and Adam; logs loss and accuracy per epoch."""

    def __init__(self, net: ConvNet, learning_rate: float = 1e-3, n_classes: int | None = None):
        super().__init__()
        self.save_hyperparameters(ignore=['net'])
        self.net = net.to(memory_format=torch.channels_last)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # channels_last lets oneDNN pick its fast NHWC convolutions (about 1.8x faster training on this CPU).
        return self.net(x.contiguous(memory_format=torch.channels_last))

    def _step(self, batch: tuple[torch.Tensor, torch.Tensor], stage: str) -> torch.Tensor:
        """Cross-entropy on class indices (N,) or on target probabilities (N, C), e.g. a teacher's soft targets."""
        images, labels = batch
        logits = self(images)
        loss = F.cross_entropy(logits.float(), labels)
        hard = labels.argmax(dim=1) if labels.ndim == 2 else labels
        accuracy = (logits.argmax(dim=1) == hard).float().mean()
        self.log(f'{stage}_loss', loss, on_step=False, on_epoch=True, prog_bar=True, batch_size=len(labels))
        self.log(f'{stage}_acc', accuracy, on_step=False, on_epoch=True, prog_bar=True, batch_size=len(labels))
        return loss

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        loss = self._step(batch, 'train')
        if not torch.isfinite(loss):
            raise TrainingDivergedError(
                f'the training loss became {loss.item()} at step {self.global_step} (epoch {self.current_epoch}); '
                'lower the learning rate'
            )
        return loss

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        self._step(batch, 'val')

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.net.parameters(), lr=self.hparams.learning_rate)


class _SameRandomStream(pl.Callback):
    """With no validation set, draw from torch's global generator after each epoch what the validation loader drew.

    Before the splits were separated, a validation pass ran after every epoch, and creating its loader's iterator draws
    one number from the global generator (the base seed of its workers), which the dropout of the next epoch then
    follows. Drawing the same number keeps the stream, so ``val_fraction = 0`` gives, bit for bit, the weights that the
    same command gave before: those of the bundled model and of ``reproduce``.
    """

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        torch.empty((), dtype=torch.int64).random_()


@dataclass
class TrainingResult:
    """What :func:`train_classifier` produced."""

    model_path: Path
    metrics_path: Path
    csv_path: Path
    metrics: dict[str, Any]
    classifier: Classifier = field(repr=False)


def _evaluate(classifier: Classifier, data: FingerprintDataModule, indices: np.ndarray) -> dict[str, Any]:
    images = data.images[torch.from_numpy(indices)].numpy()
    if images.shape[1] == 1:
        images = images[:, 0]  # the one-channel model reads (N, H, W)
    predicted = classifier.predict(images).argmax(axis=1)
    return classification_metrics(data.labels.numpy()[indices], predicted, classifier.classes)


def _accelerator_is_cpu(accelerator: str) -> bool:
    return accelerator == 'cpu' or (accelerator == 'auto' and not torch.cuda.is_available())


def train_classifier(
    dataset_path: str | os.PathLike,
    output_dir: str | os.PathLike,
    *,
    split: str = 'random',
    test_fraction: float = 0.25,
    val_fraction: float = 0.0,
    epochs: int = 2,
    batch_size: int = 32,
    learning_rate: float = 1e-3,
    seed: int = 0,
    max_steps: int = -1,
    precision: str = '32-true',
    accelerator: str = 'auto',
    devices: int | str = 'auto',
    num_threads: int | None = None,
    weights_dtype: str = 'float32',
    progress: bool = False,
) -> TrainingResult:
    """Train a ConvNet on a dataset file and save it with its metrics in ``output_dir``.

    Writes ``model.safetensors`` (see :class:`~aiida_crystalface.ml.Classifier`), ``metrics.json`` (train, validation
    and test accuracy, confusion matrices, per-class metrics, the splits) and ``metrics.csv`` (training loss and
    accuracy per epoch, and the validation set's when there is one).

    :param split: ``'random'`` (the paper's 75/25) or ``'species'`` (held-out species) for the test set.
    :param val_fraction: fraction of the non-test items held out for validation after every epoch; 0 (default, the
        paper's protocol): none.
    :param precision: Lightning precision, e.g. ``'32-true'`` (default) or ``'bf16-mixed'`` (faster on CPUs with bf16).
    :param num_threads: torch intra-op threads; default: torch's choice (the number of cores).
    :param weights_dtype: dtype of the stored weights (``'float16'`` halves the file; metrics are then measured with
        the rounded weights).
    :raises TrainingDivergedError: when the loss becomes NaN or infinite.
    """
    if epochs < 1:
        raise ValueError(f'epochs must be at least 1, not {epochs}')
    if learning_rate <= 0:
        raise ValueError(f'learning_rate must be positive, not {learning_rate}')
    if num_threads:
        torch.set_num_threads(num_threads)
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    pl.seed_everything(seed, workers=True, verbose=False)
    data = FingerprintDataModule(
        dataset_path,
        split=split,
        test_fraction=test_fraction,
        val_fraction=val_fraction,
        batch_size=batch_size,
        seed=seed,
    )
    has_validation = len(data.val_indices) > 0
    image_size = data.images.shape[-1]
    if data.images.shape[-2] != image_size:
        raise ValueError(f'{dataset_path}: images must be square, not {tuple(data.images.shape[-2:])}')
    net = ConvNet(len(data.classes), image_size, in_channels=int(data.images.shape[1]))
    module = ClassifierModule(net, learning_rate=learning_rate, n_classes=len(data.classes))
    csv_path = output_dir / 'metrics.csv'
    csv_path.unlink(missing_ok=True)
    logger = pl.loggers.CSVLogger(output_dir, name='', version='')
    trainer = pl.Trainer(
        max_epochs=epochs,
        max_steps=max_steps,
        accelerator=accelerator,
        devices=devices,
        precision=precision,
        # Deterministic on CPU; CUDA's max-pool backward has no deterministic kernel, so only warn there.
        deterministic=True if _accelerator_is_cpu(accelerator) else 'warn',
        logger=logger,
        enable_checkpointing=False,
        enable_progress_bar=progress,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        limit_val_batches=1.0 if has_validation else 0,
        log_every_n_steps=1,
        callbacks=[] if has_validation else [_SameRandomStream()],
    )
    deterministic = torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled()
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings('ignore', '.*does not have many workers.*')
            trainer.fit(module, datamodule=data)
    finally:
        # Lightning switches deterministic algorithms on for the whole process; give the caller its setting back.
        torch.use_deterministic_algorithms(deterministic[0], warn_only=deterministic[1])
    train_seconds = time.perf_counter() - start

    hyperparameters = {
        'epochs': epochs,
        'batch_size': batch_size,
        'learning_rate': learning_rate,
        'optimizer': 'Adam',
        'loss': 'cross_entropy',
        'max_steps': max_steps,
        'precision': precision,
    }
    training = {
        'dataset': data.summary,
        'split': split,
        'test_fraction': test_fraction,
        'val_fraction': val_fraction,
        'seed': seed,
        'n_train': len(data.train_indices),
        'n_val': len(data.val_indices),
        'n_test': len(data.test_indices),
        'test_species': data.test_species,
        'hyperparameters': hyperparameters,
        'device': str(trainer.strategy.root_device),
        'torch_version': torch.__version__,
        'lightning_version': pl.__version__,
        'train_seconds': round(train_seconds, 2),
    }
    net = module.net.cpu().float()
    classifier = Classifier(net, data.classes, data.settings, data.settings_hash, {'training': training})
    model_path = output_dir / 'model.safetensors'
    classifier.save(model_path, weights_dtype=weights_dtype)  # rounds the weights first when float16
    metrics = {'train': _evaluate(classifier, data, data.train_indices)}
    if has_validation:
        metrics['val'] = _evaluate(classifier, data, data.val_indices)
    metrics['test'] = _evaluate(classifier, data, data.test_indices)  # the only look at the test set
    metrics['train_accuracy'] = metrics['train']['accuracy']
    if has_validation:
        metrics['val_accuracy'] = metrics['val']['accuracy']
    metrics['test_accuracy'] = metrics['test']['accuracy']
    classifier._extra['metrics'] = {k: metrics[k] for k in ('train_accuracy', 'test_accuracy')} | {
        'test_confusion_matrix': metrics['test']['confusion_matrix']
    }
    classifier.save(model_path, weights_dtype=weights_dtype)
    metrics_path = output_dir / 'metrics.json'
    report = {
        **metrics,
        'training': training,
        'test_indices': data.test_indices.tolist(),
        'val_indices': data.val_indices.tolist(),
    }
    metrics_path.write_text(json.dumps(report, indent=2))
    (output_dir / 'hparams.yaml').unlink(missing_ok=True)  # CSVLogger's copy of what metrics.json already holds
    return TrainingResult(model_path, metrics_path, csv_path, metrics, classifier)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog='python -m aiida_crystalface.ml.training',
        description='Train the ConvNet on a fingerprint dataset file. Exit codes: 0 success, 1 unexpected error, '
        '2 bad input, 3 training diverged (NaN/inf loss), 4 out of memory.',
    )
    parser.add_argument('dataset', type=Path, help='dataset file (HDF5, written by aiida_crystalface.core.datasets)')
    parser.add_argument('-o', '--output', type=Path, required=True, help='output folder for the model and metrics')
    parser.add_argument('--split', choices=SPLITS, default='random', help='random 75/25 or held-out species')
    parser.add_argument('--test-fraction', type=float, default=0.25, help='test set: measured once, after training')
    parser.add_argument(
        '--val-fraction', type=float, default=0.0, help='of the other items, held out for validation after each epoch'
    )
    parser.add_argument('--epochs', type=int, default=2)
    parser.add_argument('--batch-size', type=int, default=32)
    parser.add_argument('--learning-rate', type=float, default=1e-3)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--max-steps', type=int, default=-1, help='stop after this many optimiser steps')
    parser.add_argument('--precision', default='32-true', help="Lightning precision: '32-true' or 'bf16-mixed'")
    parser.add_argument('--accelerator', default='auto', help="'auto' (GPU when present), 'cpu', 'gpu'")
    parser.add_argument('--devices', default='auto')
    parser.add_argument('--num-threads', type=int, default=None)
    parser.add_argument('--weights-dtype', choices=('float32', 'float16'), default='float32')
    parser.add_argument('--no-progress', action='store_true', help='no progress bar')
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """The command-line entry; returns the exit code."""
    args = _parser().parse_args(argv)
    logging.getLogger('pytorch_lightning').setLevel(logging.WARNING)
    devices = int(args.devices) if str(args.devices).isdigit() else args.devices
    try:
        result = train_classifier(
            args.dataset,
            args.output,
            split=args.split,
            test_fraction=args.test_fraction,
            val_fraction=args.val_fraction,
            epochs=args.epochs,
            batch_size=args.batch_size,
            learning_rate=args.learning_rate,
            seed=args.seed,
            max_steps=args.max_steps,
            precision=args.precision,
            accelerator=args.accelerator,
            devices=devices,
            num_threads=args.num_threads,
            weights_dtype=args.weights_dtype,
            progress=not args.no_progress,
        )
    except TrainingDivergedError as exception:
        print(f'error: training diverged: {exception}', file=sys.stderr)
        return EXIT_DIVERGED
    except (torch.OutOfMemoryError, MemoryError) as exception:
        print(f'error: out of memory: {exception}', file=sys.stderr)
        return EXIT_OUT_OF_MEMORY
    except (ValueError, OSError, KeyError) as exception:
        print(f'error: bad input: {exception}', file=sys.stderr)
        return EXIT_BAD_INPUT
    metrics = result.metrics
    print(f'model: {result.model_path}')
    validation = f'validation accuracy {metrics["val_accuracy"]:.4f}, ' if 'val_accuracy' in metrics else ''
    print(
        f'train accuracy {metrics["train_accuracy"]:.4f}, {validation}test accuracy {metrics["test_accuracy"]:.4f} '
        '(the test set measured once, after training)'
    )
    return EXIT_OK


if __name__ == '__main__':
    sys.exit(main())
