"""The open-set model: the ConvNet of Table 1 with one more output, ``other``, trained with outlier exposure.

Why (``docs/ml.md``, "Knowing what it does not know"): a network trained on four classes maps every crystal to one of
them, most of them with a probability near 1 (hcp Mg: diamond, p = 0.97; perovskite: sc, p = 1.00), and a density
or distance in its feature space separates outsiders from damaged members only partly (ROC AUC about 0.95 for the
paper's model, measured: not enough to keep 99 % of 50 %-vacancy members while turning away 99 % of outsiders).
So the network is shown what "none of these" looks like while it learns: crystals of 136 AFLOW prototypes and of
random pyxtal space groups, damaged as the members are, all with the target ``other``
(:mod:`aiida_crystalface.core.openset`). Then, on a calibration part that training never saw (other species, other
prototypes, other pyxtal seeds):

1. a **temperature** ``T`` that makes the softmax of ``logits / T`` calibrated (least negative log-likelihood);
2. the **decision rule**: the answer is ``unknown`` when the calibrated ``p(other)`` exceeds ``threshold``, else the
   most probable class; ``threshold`` is the value that makes the fewest errors on the calibration part (members
   and outsiders weighted equally), fixed once and stored in the model file, never chosen by the user. A record with
   ``other_score = 'pairwise'`` compares instead ``p(other) / (p(other) + p(best class))``: ``other`` against the
   class that would be the answer alone, whatever the temperature spreads over the other classes (:data:`SCORES`).
3. between the two, the **lattice rule** (``lattice_rule`` in the record, no fitting): a class whose Bravais lattice
   and sites per lattice point are not those the orientation step found (exactly, damaged or not) is ``unknown``
   (:func:`aiida_crystalface.core.openset.lattice_admits`); the threshold is fitted with the rule applied.

The **uncertainty** of an answer is one minus its calibrated probability: ``1 - p(class)`` for a class,
``1 - p(other)`` for ``unknown`` -- the probability, as calibrated, that the answer is wrong.

Command (no AiiDA needed; writes ``OUTPUT/model.safetensors`` and ``OUTPUT/metrics.json``)::

    python -m aiida_crystalface.ml.openset -o aiida_crystalface/ml/pretrained/open-4class --seed 0
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from aiida_crystalface.ml.classifier import OTHER, SCORES, Classifier, other_score

__all__ = (
    'calibrate',
    'images_and_targets',
    'main',
    'other_score',
    'recalibrate_open_set',
    'rule_objective',
    'train_open_set',
)

#: Threshold grid searched at calibration (calibrated p(other) above which the answer is ``unknown``); the values
#: under 0.05 serve an ``outsider_target`` (:func:`calibrate`).
THRESHOLDS = np.concatenate([[0.001, 0.002, 0.005, 0.01, 0.02, 0.03, 0.04], np.round(np.arange(0.05, 0.96, 0.01), 2)])
TEMPERATURES = np.exp(np.linspace(np.log(0.25), np.log(8.0), 81))


def images_and_targets(items: Sequence[Any], classes: Sequence[str], settings: Any = None, *, progress: bool = False):
    """Fingerprints of ``items`` and their targets (index in ``classes``, or ``len(classes)`` for outsiders).

    Items in which the orientation step finds no lattice (melted by their damage) are left out: they never reach
    the network (their answer is ``amorphous``). Returns ``images`` (N, H, W), ``targets`` (N,), ``kept`` (indices
    into ``items``), ``no_lattice`` (indices of the items left out) and ``lattices`` (the lattice records of the
    kept items, for :meth:`Classifier.lattice_consistency`).
    """
    from aiida_crystalface.core.diffraction import FingerprintSettings, fingerprint_batch

    batch = fingerprint_batch(items, settings or FingerprintSettings(), progress=progress)
    found = np.array([bool(lattice and lattice.get('lattice_found')) for lattice in batch.lattices], dtype=bool)
    ok = np.asarray(batch.ok, dtype=int)
    index = {name: i for i, name in enumerate(classes)}
    targets = np.array([index.get(items[i].info.get('label'), len(classes)) for i in ok], dtype=np.int64)
    no_lattice = sorted(set(range(len(items))) - set(ok[found].tolist()))
    lattices = [lattice for lattice, f in zip(batch.lattices, found, strict=True) if f]
    return batch.images[found], targets[found], ok[found], no_lattice, lattices


def _softmax(logits: np.ndarray, temperature: float) -> np.ndarray:
    z = logits.astype(np.float64) / temperature
    z -= z.max(axis=1, keepdims=True)
    p = np.exp(z)
    return p / p.sum(axis=1, keepdims=True)


def _answers(
    probabilities: np.ndarray,
    threshold: float,
    consistent: np.ndarray | None = None,
    restrict: bool = False,
    ratio: float = 0.0,
    *,
    score: str = 'softmax',
) -> np.ndarray:
    """Index of each answer: a class index, or the index of ``other`` (the last) for ``unknown``.

    ``score``: what is compared with ``threshold`` (:data:`SCORES`).

    ``consistent`` (N, C): whether the lattice found admits each class; a class it does not admit is ``unknown``.
    ``restrict``: the best class is sought among the admitted ones only (``lattice_rule = 'restrict'``).
    ``ratio`` (with ``restrict``): the best admitted class is the answer only where its probability is at least
    ``ratio`` times that of the most probable class; below, the network prefers by that much a class the lattice
    rules out, and the answer is ``unknown`` (0: never; 1: only where the most probable class is admitted).
    """
    other = probabilities.shape[1] - 1
    top = probabilities[:, :other].argmax(axis=1)
    best = top
    if restrict and consistent is not None:
        masked = np.where(consistent, probabilities[:, :other], -1.0).argmax(axis=1)
        best = np.where(consistent.any(axis=1), masked, top)
    rows = np.arange(len(best))
    answers = np.where(other_score(probabilities[:, other], probabilities[rows, best], score) > threshold, other, best)
    if restrict and consistent is not None and ratio > 0:
        weak = probabilities[rows, best] < ratio * probabilities[rows, top]
        answers = np.where(weak, other, answers)
    if consistent is not None:
        answers = np.where((answers != other) & ~consistent[rows, best], other, answers)
    return answers


def calibrate(
    logits: np.ndarray,
    targets: np.ndarray,
    consistent: np.ndarray | None = None,
    *,
    restrict: bool = False,
    ratios: Sequence[float] = (0.0,),
    outsider_target: float | None = None,
    score: str = 'softmax',
) -> dict[str, Any]:
    """Fit the temperature and the threshold on calibration data (see the module docstring).

    ``consistent`` (N, C): :meth:`Classifier.lattice_consistency` of the items, for a model with the lattice rule;
    the threshold is then the one that makes the fewest errors with the rule applied. With ``restrict``, the
    ``ratio`` of :func:`_answers` is fitted with it, jointly, from ``ratios`` (the smallest of equally good ones), and
    stored as ``restrict_ratio``.

    ``outsider_target``: instead of the balanced error (members and outsiders weighted equally), the rule is the one
    with the fewest member errors among those that give at most this share of the calibration outsiders a class
    (where none does, the one that gives the fewest); stored as ``outsider_target``.

    ``score`` (:data:`SCORES`): what the threshold is compared with; stored as ``other_score`` unless ``'softmax'``.
    """
    if score not in SCORES:
        raise ValueError(f'score must be one of {SCORES}, not {score!r}')
    rows = np.arange(len(targets))
    nll = [float(-np.log(_softmax(logits, t)[rows, targets] + 1e-12).mean()) for t in TEMPERATURES]
    temperature = float(TEMPERATURES[int(np.argmin(nll))])
    probabilities = _softmax(logits, temperature)
    other = logits.shape[1] - 1
    members, outsiders = targets != other, targets == other
    grid = sorted({float(r) for r in ratios}) if restrict else [0.0]
    member_errors = np.empty((len(grid), len(THRESHOLDS)))
    outsider_errors = np.empty_like(member_errors)
    for i, ratio in enumerate(grid):
        for j, threshold in enumerate(THRESHOLDS):
            wrong = _answers(probabilities, threshold, consistent, restrict, ratio, score=score) != targets
            member_errors[i, j], outsider_errors[i, j] = wrong[members].mean(), wrong[outsiders].mean()
    errors = np.round(rule_objective(member_errors, outsider_errors, outsider_target), 12)
    i = int(np.flatnonzero(errors.min(axis=1) == errors.min())[0])
    best = np.flatnonzero(errors[i] == errors[i].min())
    threshold = float(THRESHOLDS[best[np.argmin(np.abs(THRESHOLDS[best] - 0.5))]])
    wrong = _answers(probabilities, threshold, consistent, restrict, grid[i], score=score) != targets
    record = {
        'temperature': round(temperature, 6),
        'threshold': threshold,
        'calibration_nll': round(float(min(nll)), 6),
        'calibration_member_error': round(float(wrong[members].mean()), 6),
        'calibration_outsider_error': round(float(wrong[outsiders].mean()), 6),
        'calibration_items': {'members': int(members.sum()), 'outsiders': int(outsiders.sum())},
    }
    if restrict and len(grid) > 1:
        record['restrict_ratio'] = grid[i]
        record['restrict_ratio_grid'] = grid
    if outsider_target is not None:
        record['outsider_target'] = float(outsider_target)
    if score != 'softmax':
        record['other_score'] = score
    return record


def rule_objective(member_error, outsider_error, outsider_target: float | None = None):
    """What :func:`calibrate` minimises over the decision rules: the balanced error ``(member + outsider) / 2``; or,
    with ``outsider_target``, the member error of the rules whose outsider error is at most the target and
    ``1 + outsider error`` for the others (so that any rule that meets the target beats every rule that does not)."""
    member_error, outsider_error = np.asarray(member_error, dtype=float), np.asarray(outsider_error, dtype=float)
    if outsider_target is None:
        return 0.5 * (member_error + outsider_error)
    if not 0.0 <= float(outsider_target) < 1.0:
        raise ValueError(f'outsider_target must be a share in [0, 1), got {outsider_target!r}')
    return np.where(outsider_error <= float(outsider_target) + 1e-12, member_error, 1.0 + outsider_error)


def train_open_set(
    output_dir: str | Path,
    *,
    seed: int = 0,
    epochs: int = 6,
    batch_size: int = 32,
    learning_rate: float = 1e-3,
    draws: int = 2,
    progress: bool = True,
) -> Classifier:
    """Build the train and calibration parts, train the five-output ConvNet, calibrate it, and save it.

    Writes ``output_dir/model.safetensors`` (the model, its open-set record and the training record in the
    metadata) and ``output_dir/metrics.json``. Deterministic for a ``seed`` on the same software (CPU).
    """
    import pytorch_lightning as pl
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    from aiida_crystalface.core.diffraction import FingerprintSettings
    from aiida_crystalface.core.openset import CLASS_PROTOTYPES, open_set_items, open_set_split
    from aiida_crystalface.core.prototypes import CLASSES
    from aiida_crystalface.ml.convnet import ConvNet
    from aiida_crystalface.ml.training import ClassifierModule

    started = time.perf_counter()
    classes = list(CLASSES)
    settings = FingerprintSettings()
    parts = {}
    for part in ('train', 'calibration'):
        _say(f'building the {part} part (seed {seed}) ...', progress)
        items = open_set_items(part, seed, draws=draws)
        images, targets, _, no_lattice, lattices = images_and_targets(items, classes, settings, progress=progress)
        parts[part] = (images, targets, len(items), len(no_lattice), lattices)
        _say(f'  {len(items)} structures, {len(images)} images ({len(no_lattice)} with no lattice left out)', progress)

    pl.seed_everything(seed, workers=True, verbose=False)
    torch.use_deterministic_algorithms(True, warn_only=True)
    net = ConvNet(len(classes) + 1)
    module = ClassifierModule(net, learning_rate=learning_rate)
    train_images, train_targets = parts['train'][:2]
    loader = DataLoader(
        TensorDataset(torch.from_numpy(train_images).unsqueeze(1), torch.from_numpy(train_targets)),
        batch_size=batch_size,
        shuffle=True,
        generator=torch.Generator().manual_seed(seed),
    )
    trainer = pl.Trainer(
        max_epochs=epochs,
        accelerator='cpu',
        deterministic=True,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=progress,
        enable_model_summary=False,
    )
    trainer.fit(module, loader)

    provisional = Classifier(
        net.eval(),
        classes,
        settings,
        metadata={
            'open_set': {'temperature': 1.0, 'lattice_rule': True},
            'prototypes': {name: dict(CLASS_PROTOTYPES[name]) for name in classes},
        },
    )
    cal_images, cal_targets, cal_lattices = parts['calibration'][0], parts['calibration'][1], parts['calibration'][4]
    record = calibrate(provisional.logits(cal_images), cal_targets, provisional.lattice_consistency(cal_lattices))
    split = open_set_split(seed)
    record.update(
        lattice_rule=True,
        method='outlier-exposure',
        outputs=[*classes, OTHER],
        seed=int(seed),
        split={
            part: {'species': v['species'], 'prototypes': v['prototypes'], 'pyxtal_seed_start': v['pyxtal_seed_start']}
            for part, v in split.items()
        },
    )
    train_accuracy = float((provisional.logits(train_images).argmax(axis=1) == train_targets).mean())
    training = {
        'protocol': 'outlier exposure: Table 1 ConvNet with an extra output "other"; Adam; cross-entropy',
        'epochs': int(epochs),
        'batch_size': int(batch_size),
        'learning_rate': float(learning_rate),
        'seed': int(seed),
        'draws': int(draws),
        'train_items': int(parts['train'][2]),
        'train_images': len(train_images),
        'train_no_lattice': int(parts['train'][3]),
        'calibration_images': len(cal_images),
        'train_accuracy': round(train_accuracy, 6),
        'seconds': round(time.perf_counter() - started, 1),
        'command': f'python -m aiida_crystalface.ml.openset -o OUTPUT --seed {seed} --epochs {epochs}',
    }
    metadata = {
        'open_set': record,
        'prototypes': {name: dict(CLASS_PROTOTYPES[name]) for name in classes},
        'training': training,
    }
    classifier = Classifier(net.eval(), classes, settings, metadata=metadata)
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    classifier.save(output_dir / 'model.safetensors', weights_dtype='float16')
    (output_dir / 'metrics.json').write_text(json.dumps({'open_set': record, 'training': training}, indent=2) + '\n')
    _say(
        f'done in {training["seconds"]:.0f} s: T = {record["temperature"]:.3f}, threshold = {record["threshold"]}, '
        f'calibration errors: members {100 * record["calibration_member_error"]:.2f} %, '
        f'outsiders {100 * record["calibration_outsider_error"]:.2f} %',
        True,
    )
    return Classifier.load(output_dir / 'model.safetensors')


def recalibrate_open_set(model: str | Path, output_dir: str | Path, *, progress: bool = True) -> Classifier:
    """Fit the temperature and threshold of a trained open-set model again, with the lattice rule on.

    The network is not touched: the calibration part of the model's own split (its recorded seed) is rebuilt, and
    the decision rule fitted on it with :func:`calibrate`, the lattice rule applied
    (:meth:`Classifier.lattice_consistency`). Writes ``output_dir/model.safetensors`` (same weights, new open-set
    record; the old one is kept under ``open_set['previous']``) and ``output_dir/metrics.json``.
    """
    from aiida_crystalface.core.diffraction import FingerprintSettings
    from aiida_crystalface.core.openset import open_set_items

    classifier = Classifier.load(model) if not isinstance(model, Classifier) else model
    old = dict(classifier.open_set)
    if not old:
        raise ValueError(f'{model}: not an open-set model (no open_set record in its metadata)')
    seed = int(old.get('seed', 0))
    settings = FingerprintSettings.from_dict(classifier.settings) if classifier.settings else FingerprintSettings()
    _say(f'building the calibration part (seed {seed}) ...', progress)
    items = open_set_items('calibration', seed, draws=int(classifier.metadata.get('training', {}).get('draws', 2)))
    images, targets, _, _, lattices = images_and_targets(items, classifier.classes, settings, progress=progress)
    classifier.open_set['lattice_rule'] = True
    consistent = classifier.lattice_consistency(lattices)
    record = calibrate(classifier.logits(images), targets, consistent)
    kept = {k: v for k, v in old.items() if k not in record and k != 'previous'}
    previous = {k: old[k] for k in record if k in old}
    classifier.open_set.clear()
    classifier.open_set.update(kept, **record, lattice_rule=True, previous=previous)
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    classifier.save(output_dir / 'model.safetensors', weights_dtype='float16')
    training = classifier.metadata.get('training', {})
    (output_dir / 'metrics.json').write_text(
        json.dumps({'open_set': classifier.open_set, 'training': training}, indent=2) + '\n'
    )
    _say(
        f'recalibrated: T = {record["temperature"]:.3f}, threshold = {record["threshold"]}, calibration errors: '
        f'members {100 * record["calibration_member_error"]:.2f} %, '
        f'outsiders {100 * record["calibration_outsider_error"]:.2f} %',
        True,
    )
    return Classifier.load(output_dir / 'model.safetensors')


def _say(message: str, show: bool) -> None:
    if show:
        print(message, file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog='python -m aiida_crystalface.ml.openset', description=__doc__.split('\n')[0])
    parser.add_argument('-o', '--output', required=True, help='folder for model.safetensors and metrics.json')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--epochs', type=int, default=6)
    parser.add_argument('--draws', type=int, default=2, help='draws of each member / outsider variant')
    parser.add_argument(
        '--recalibrate', metavar='MODEL', help='fit the decision rule of a trained model again (lattice rule on)'
    )
    args = parser.parse_args(argv)
    if args.recalibrate:
        recalibrate_open_set(args.recalibrate, args.output)
    else:
        train_open_set(args.output, seed=args.seed, epochs=args.epochs, draws=args.draws)
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
