"""The model of many bulk prototypes: the ConvNet of Table 1 on three-channel standard-orientation fingerprints.

The classes are those of :data:`aiida_crystalface.core.classes.BULK_CLASSES` (59 bulk prototypes: every elemental
and binary bulk prototype of ARISE, perovskite, fluorite and common compound prototypes), plus the output
``other``, learnt by outlier exposure exactly as the four-class open-set model's (:mod:`.openset`): the network is
shown the library's other prototypes and random pyxtal crystals, damaged as the members are, with the target
``other``; temperature and threshold are then fitted on a calibration part that training never saw
(:func:`.openset.calibrate`). The data: :func:`aiida_crystalface.core.bulkset.bulk_items`.

Where it departs from the paper's protocol: the fingerprint (``FingerprintSettings(orientation='standard',
channels=3)``: the standard conventional orientation of any lattice, one channel per crystal axis), the damaged
training data (the paper trains on pristine crystals only; damage in training is what the four-class open-set model
does too), the optimiser's schedule (Adam with a cosine decay of the rate) and the width: Table 1's six
convolutions and two poolings keep their kernels and order, with the input of three channels, the last four
convolutions 16 filters wide (:data:`BULK_FILTERS`, Table 1: 12, 12, 8, 8), a hidden layer of :data:`BULK_DENSE`
units (Table 1: 128) and 60 outputs. The width was chosen from the training accuracy of the previous run with
Table 1's widths (94.7 % after 16 epochs, still rising: underfit), not from any calibration or test figure; the
first two convolutions, which cost most of the time, are unchanged. The weights start from He initialisation
(:func:`.convnet.he_initialise`): from PyTorch's default, training sat where every image gets ``other``.

**The lattice rule** (:func:`aiida_crystalface.core.openset.lattice_admits`): each class's expected lattice, the one
the orientation step finds on its pristine crystal with species ignored, is measured here and stored in the model's
``prototypes`` record (``lattice``: ``{'bravais', 'sites'}``), with ``seen``: the lattices found on its damaged
*training* members (:func:`seen_lattices`; damage changes which reflections pass the coherence threshold, so the
lattice found on a damaged crystal can be a finer or a coarser one than its own). A class whose calibration members
the rule still turns away (a lattice that damage or pseudo-symmetry lets the orientation step see otherwise) is a
candidate for exemption, and is exempt (keeps no ``lattice``; listed in ``open_set['lattice_rule_exempt']``) where
exempting it lowers the calibration objective (:func:`choose_exemptions`). The answer is the most probable
admitted class, and ``unknown`` where it is under ``restrict_ratio`` times as probable as the most probable class.

**The objective** of the rule's fit: where the four-class open-set model weighs members and outsiders equally (the
balanced error), the bulk model keeps the outsiders it gives a class under a bound on the share of the calibration
outsiders, and within that bound makes the fewest member errors (:func:`aiida_crystalface.ml.openset.rule_objective`;
``--balanced`` for the other). The bound is the smallest of :data:`OUTSIDER_TARGETS` that costs at most
:data:`MEMBER_SLACK` more calibration member errors than the balanced rule (:func:`choose_outsider_target`). With
59 classes there are many more ways for an outsider to look like a member, and an outsider given a class is the
confident wrong label the open-set answer is for; a member called ``unknown`` is an honest miss.

Command (no AiiDA needed; writes ``OUTPUT/model.safetensors`` and ``OUTPUT/metrics.json``)::

    python -m aiida_crystalface.ml.bulk -o aiida_crystalface/ml/pretrained/bulk-59 --seed 0
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from aiida_crystalface.ml.classifier import OTHER, Classifier
from aiida_crystalface.ml.openset import calibrate, images_and_targets, rule_objective

__all__ = (
    'BULK_DENSE',
    'BULK_FILTERS',
    'BULK_SETTINGS',
    'COMPOSITION_TOLERANCES',
    'DISORDER_ALPHA',
    'MEMBER_SLACK',
    'OUTSIDER_TARGETS',
    'RESTRICT_RATIOS',
    'SEEN_SHARE',
    'add_disorder_rescue',
    'add_order_rescue',
    'add_order_veto',
    'bulk_prototypes',
    'choose_exemptions',
    'choose_outsider_target',
    'choose_rule',
    'composition_distances',
    'ensemble_bulk_models',
    'fit_decision_rule',
    'main',
    'part_items',
    'quantize_bulk_model',
    'recalibrate_bulk_model',
    'seen_lattices',
    'soft_targets',
    'train_bulk_model',
)

#: Fingerprint settings of the bulk model.
BULK_SETTINGS = {'orientation': 'standard', 'channels': 3}

#: Filters of the six convolutions of the bulk model (Table 1: 32, 16, 12, 12, 8, 8; see the module docstring).
BULK_FILTERS = (32, 16, 16, 16, 16, 16)

#: Units of the bulk model's hidden layer (Table 1: 128).
BULK_DENSE = 256

#: A lattice found on at least this share of a class's training members (and on at least two) is one of its seen
#: lattices (:func:`seen_lattices`).
SEEN_SHARE = 0.01
#: The grid of the restrict rule's ratio (:func:`aiida_crystalface.ml.openset._answers`), fitted with the threshold.
RESTRICT_RATIOS = (0.0, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0)
#: The bounds on the share of calibration outsiders given a class that :func:`choose_outsider_target` tries, smallest
#: first (``outsider_target`` of :func:`aiida_crystalface.ml.openset.calibrate`).
OUTSIDER_TARGETS = (0.005, 0.01, 0.015, 0.02, 0.025)
#: The most calibration member error (a share of the members) a bound may cost over the balanced rule.
MEMBER_SLACK = 0.01
#: The significance of the disorder rescue's test (:func:`add_disorder_rescue`): the share of crystals with random
#: damage whose superlattice peak lies above the limit. Chosen on the calibration part (docs/bulk.md, "The disorder
#: rescue"): every calibration member the rescue can reach lies under the limit at 0.05; a larger limit (a smaller
#: alpha) lets more ordered outsiders through.
DISORDER_ALPHA = 0.05
#: The tolerances of the composition rule that :func:`choose_rule` tries, loosest first (None: no composition rule;
#: :func:`aiida_crystalface.core.openset.composition_distance`).
COMPOSITION_TOLERANCES = (None, 0.3, 0.2, 0.15, 0.12, 0.1, 0.08, 0.06, 0.04)


def bulk_prototypes(classes: Sequence[str] | None = None) -> dict[str, dict]:
    """``{name: {'aflow', 'space_group', 'strukturbericht', 'kind', 'lattice', 'species_count', 'stoichiometry'}}``
    for the classes (default: all); ``species_count``: the elements of the prototype, ``stoichiometry``: their shares
    of its atoms, largest first (the species and composition rules of
    :meth:`~aiida_crystalface.ml.classifier.Classifier.lattice_consistency`)."""
    from aiida_crystalface.core.classes import BULK_CLASSES, class_structure
    from aiida_crystalface.core.openset import expected_lattice, stoichiometry

    names = list(BULK_CLASSES) if classes is None else list(classes)
    records = {}
    for name in names:
        structure = class_structure(name)
        shares = stoichiometry(structure)
        records[name] = {
            **BULK_CLASSES[name],
            'lattice': expected_lattice(structure),
            'species_count': len(shares),
            'stoichiometry': [round(share, 6) for share in shares],
        }
    return records


def _say(message: str, show: bool) -> None:
    if show:
        print(message, file=sys.stderr, flush=True)


def train_bulk_model(
    output_dir: str | Path,
    *,
    seed: int = 0,
    init_seed: int | None = None,
    epochs: int = 14,
    batch_size: int = 32,
    learning_rate: float = 1e-3,
    draws: int = 2,
    calibration_draws: int = 2,
    random_crystals: int | None = None,
    ordered: int = 0,
    vacancy_ordered: int = 0,
    teacher: str | Path | None = None,
    teacher_weight: float = 0.5,
    classes: Sequence[str] | None = None,
    cache: str | Path | None = None,
    outsider_target: float | str | None = 'auto',
    composition: bool = True,
    items: str | Path | None = None,
    items_only: bool = False,
    accelerator: str = 'cpu',
    progress: bool = True,
) -> Classifier | None:
    """Build the train and calibration parts, train, calibrate and save the bulk model (see the module docstring).

    Deterministic for a ``seed`` on the same software (CPU). ``seed`` draws the parts (the split of the species and
    prototypes, the damage) and, unless ``init_seed`` is given, the network's initial weights and the order of the
    batches; ``init_seed``: those two only, so that networks that differ in nothing else can be trained on the same
    parts (for an ensemble). ``classes``: a subset of the bulk classes (tests).
    ``random_crystals``: how many pyxtal crystals the *train* part holds (``n_random`` of
    :func:`~aiida_crystalface.core.bulkset.bulk_items`; default: its own,
    :data:`~aiida_crystalface.core.bulkset.PYXTAL_PER_PROTOTYPE` per outsider prototype); the calibration part keeps
    its default, so that the rule is fitted on the same kind of part as always. ``ordered``: how many ordered
    superstructures of the class lattices the train part holds (outsiders,
    :func:`~aiida_crystalface.core.bulkset.ordered_superstructure`); the calibration part holds none.
    ``vacancy_ordered``: as many vacancy-ordered superstructures (``vacancies=True``), train part only. ``teacher``: a
    trained bulk model (an ensemble, say) whose probabilities the network learns with the labels
    (:func:`soft_targets`, ``teacher_weight``): one network, one pass, in place of the teacher's several.
    ``cache``: a folder where the fingerprints of both parts are written (``<part>.npz`` and ``<part>.json``, the
    lattice records), for :func:`recalibrate_bulk_model`. ``outsider_target`` and ``composition``: see
    :func:`fit_decision_rule`.

    ``draws``: draws of each member and outsider variant in the train part; ``calibration_draws`` in the
    calibration part (2, as for every bundled model, so that rules fitted on it compare like with like).

    ``items``: a folder for the structures of both parts (:func:`part_items`): a part found there is read instead of
    built, one not found is built and written there. Building needs pymatgen, ASE and pyxtal; reading needs none of
    them, so that the parts can be built on one machine and the network trained on another (a GPU machine with
    only PyTorch and Numba, say). ``items_only``: build (and, with ``cache``, fingerprint) the parts and stop; returns
    None. ``accelerator``: Lightning's (``'cpu'``, ``'gpu'``, ``'auto'``); deterministic on CPU, and on a GPU as far
    as its kernels allow (the run is reproducible there in its statistics, not bit for bit).
    """
    import pytorch_lightning as pl
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    from aiida_crystalface.core.bulkset import SPECIES_PER_CLASS
    from aiida_crystalface.core.classes import BULK_CLASSES
    from aiida_crystalface.core.diffraction import FingerprintSettings
    from aiida_crystalface.ml.convnet import ConvNet, he_initialise

    started = time.perf_counter()
    names = list(BULK_CLASSES) if classes is None else list(classes)
    settings = FingerprintSettings(**BULK_SETTINGS)
    prototypes, split = _context(names, seed, items)
    parts = {}
    for part in ('train', 'calibration'):
        _say(f'building the {part} part (seed {seed}) ...', progress)
        n_random = random_crystals if part == 'train' else None
        n_ordered = int(ordered) if part == 'train' else 0
        n_vacancy = int(vacancy_ordered) if part == 'train' else 0
        recipe = {
            'part': part,
            'seed': int(seed),
            'classes': names,
            'draws': int(draws if part == 'train' else calibration_draws),
            'n_random': n_random,
            'n_ordered': n_ordered,
            'n_vacancy_ordered': n_vacancy,
        }
        items_ = part_items(recipe, items, progress=progress)
        if items_only and cache is None:
            continue
        images, targets, _, no_lattice, lattices = images_and_targets(items_, names, settings, progress=progress)
        parts[part] = (images, targets, len(items_), len(no_lattice), lattices)
        if cache is not None:
            _save_part(Path(cache), part, images, targets, lattices)
        _say(f'  {len(items_)} structures, {len(images)} images ({len(no_lattice)} with no lattice left out)', progress)
    if items_only:
        return None

    weights_seed = seed if init_seed is None else int(init_seed)
    pl.seed_everything(weights_seed, workers=True, verbose=False)
    torch.use_deterministic_algorithms(True, warn_only=True)
    net = he_initialise(
        ConvNet(len(names) + 1, in_channels=3, filters=BULK_FILTERS, dense=BULK_DENSE), seed=weights_seed
    )
    module = _CosineModule(net, learning_rate=learning_rate)
    train_images, train_targets = parts['train'][:2]
    fit_targets = torch.from_numpy(train_targets)
    if teacher is not None:
        fit_targets = torch.from_numpy(soft_targets(teacher, names, train_images, train_targets, teacher_weight))
        _say(f'  soft targets from {teacher} (weight {teacher_weight})', progress)
    loader = DataLoader(
        TensorDataset(torch.from_numpy(train_images), fit_targets),
        batch_size=batch_size,
        shuffle=True,
        generator=torch.Generator().manual_seed(weights_seed),
    )
    trainer = pl.Trainer(
        max_epochs=epochs,
        accelerator=accelerator,
        devices=1,
        deterministic=True,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=progress,
        enable_model_summary=False,
    )
    trainer.fit(module, loader)
    net.cpu().eval()
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    # The network alone, before the rule's fit: a stop from here on does not lose the training
    # (``--recalibrate OUTPUT/network.safetensors --cache PARTS`` fits the rule from it).
    Classifier(
        net,
        names,
        settings,
        metadata={
            'open_set': {
                'method': 'outlier-exposure',
                'outputs': [*names, OTHER],
                'fitted': False,
                'note': 'the network alone: no decision rule fitted yet (fit one with --recalibrate)',
            },
            'prototypes': prototypes,
            'training': {'stage': 'network, before the decision rule', 'seed': int(seed), 'epochs': int(epochs)},
        },
    ).save(output_dir / 'network.safetensors', weights_dtype='float16')

    cal_images, cal_targets, cal_lattices = parts['calibration'][0], parts['calibration'][1], parts['calibration'][4]
    record, prototypes = fit_decision_rule(
        net,
        names,
        settings,
        prototypes=prototypes,
        images=cal_images,
        targets=cal_targets,
        lattices=cal_lattices,
        seen=seen_lattices(names, train_targets, parts['train'][4]),
        outsider_target=outsider_target,
        composition=composition,
    )
    probe = Classifier(net, names, settings, metadata={'open_set': record, 'prototypes': prototypes})
    record.update(
        method='outlier-exposure',
        outputs=[*names, OTHER],
        seed=int(seed),
        split={
            part: {
                'species': 'core.bulkset.species_tuples(name, part, seed)',
                'species_per_class': SPECIES_PER_CLASS[part],
                'prototypes': v['prototypes'],
                'pyxtal_seed_start': v['pyxtal_seed_start'],
            }
            for part, v in split.items()
        },
    )
    train_accuracy = float((probe.logits(train_images).argmax(axis=1) == train_targets).mean())
    training = {
        'protocol': 'outlier exposure: Table 1 ConvNet widened (BULK_FILTERS, BULK_DENSE), He initialisation, 3 input '
        'channels, an extra output "other"; Adam with cosine decay; cross-entropy',
        'epochs': int(epochs),
        'batch_size': int(batch_size),
        'learning_rate': float(learning_rate),
        'seed': int(seed),
        **({} if init_seed is None else {'init_seed': int(init_seed)}),
        'draws': int(draws),
        'calibration_draws': int(calibration_draws),
        'random_crystals': None if random_crystals is None else int(random_crystals),
        'ordered_superstructures': int(ordered),
        'vacancy_ordered_superstructures': int(vacancy_ordered),
        'teacher': None
        if teacher is None
        else {'model': Path(teacher).parent.name or str(teacher), 'weight': float(teacher_weight)},
        'train_items': int(parts['train'][2]),
        'train_images': len(train_images),
        'train_no_lattice': int(parts['train'][3]),
        'calibration_images': len(cal_images),
        'train_accuracy': round(train_accuracy, 6),
        'seconds': round(time.perf_counter() - started, 1),
        'command': f'python -m aiida_crystalface.ml.bulk -o OUTPUT --seed {seed} --epochs {epochs} --draws {draws}'
        + ('' if init_seed is None else f' --init-seed {int(init_seed)}')
        + ('' if calibration_draws == 2 else f' --calibration-draws {int(calibration_draws)}')
        + ('' if random_crystals is None else f' --random {int(random_crystals)}')
        + (f' --ordered {int(ordered)}' if ordered else '')
        + (f' --vacancy-ordered {int(vacancy_ordered)}' if vacancy_ordered else '')
        + (f' --teacher {Path(teacher).parent.name or teacher} --teacher-weight {teacher_weight}' if teacher else '')
        + (
            ''
            if outsider_target == 'auto'
            else ' --balanced'
            if outsider_target is None
            else f' --outsider-target {outsider_target}'
        )
        + ('' if composition else ' --no-composition-rule')
        + ('' if accelerator == 'cpu' else f' --accelerator {accelerator}'),
        'accelerator': str(accelerator),
        'device': _device_name(trainer),
    }
    classifier = Classifier(
        net, names, settings, metadata={'open_set': record, 'prototypes': prototypes, 'training': training}
    )
    classifier.save(output_dir / 'model.safetensors', weights_dtype='float16')
    (output_dir / 'metrics.json').write_text(json.dumps({'open_set': record, 'training': training}, indent=2) + '\n')
    _say(
        f'done in {training["seconds"]:.0f} s: train accuracy {100 * train_accuracy:.2f} %, '
        f'T = {record["temperature"]:.3f}, threshold = {record["threshold"]}, calibration errors: members '
        f'{100 * record["calibration_member_error"]:.2f} %, '
        f'outsiders {100 * record["calibration_outsider_error"]:.2f} %'
        f'; lattice rule exempt: {record["lattice_rule_exempt"] or "none"}',
        True,
    )
    return Classifier.load(output_dir / 'model.safetensors')


def part_items(recipe: dict, folder: str | Path | None = None, *, progress: bool = False) -> list:
    """The structures of one part, built by :func:`~aiida_crystalface.core.bulkset.bulk_items` from ``recipe`` (its
    arguments: ``part``, ``seed``, ``classes``, ``draws``, ``n_random``, ``n_ordered``, ``n_vacancy_ordered``).

    With a ``folder``, ``<folder>/<part>-items.npz`` is read where it exists and was written for the same recipe
    (another recipe raises ``ValueError`` naming the file), and written after the build where it does not
    (:func:`~aiida_crystalface.core.structures.save_structures`, ``compact``: positions to 1/65536 of the cell).
    """
    from aiida_crystalface.core.bulkset import bulk_items
    from aiida_crystalface.core.structures import load_structures, save_structures

    recipe = json.loads(json.dumps(recipe))
    path = None if folder is None else Path(folder) / f'{recipe["part"]}-items.npz'
    if path is not None and path.is_file():
        structures, extra = load_structures(path, extra=True)
        if (extra or {}).get('recipe') != recipe:
            raise ValueError(
                f'{path}: written for another recipe ({(extra or {}).get("recipe")}), not {recipe}; give another '
                '--items folder or remove the file'
            )
        _say(f'  read {len(structures)} structures from {path}', progress)
        return structures
    args = {k: v for k, v in recipe.items() if k not in ('part', 'seed')}
    structures = bulk_items(recipe['part'], recipe['seed'], **args)
    if path is not None:
        save_structures(path, structures, compact=True, extra={'recipe': recipe})
        _say(f'  wrote {len(structures)} structures to {path}', progress)
    return structures


def _context(names: Sequence[str], seed: int, folder: str | Path | None) -> tuple[dict, dict]:
    """:func:`bulk_prototypes` of ``names`` and :func:`~aiida_crystalface.core.bulkset.bulk_split` of ``seed``
    (both read the AFLOW library through pymatgen), kept in ``<folder>/context.json`` beside the parts' structures
    when a folder is given, so that a machine without pymatgen can train from that folder."""
    from aiida_crystalface.core.bulkset import bulk_split

    key = {'classes': list(names), 'seed': int(seed)}
    path = None if folder is None else Path(folder) / 'context.json'
    if path is not None and path.is_file():
        context = json.loads(path.read_text())
        if context.get('key') != key:
            raise ValueError(f'{path}: written for {context.get("key")}, not {key}; give another --items folder')
        return context['prototypes'], context['split']
    prototypes, split = json.loads(json.dumps(bulk_prototypes(names))), json.loads(json.dumps(bulk_split(seed)))
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({'key': key, 'prototypes': prototypes, 'split': split}, indent=1) + '\n')
    return prototypes, split


def soft_targets(teacher, names: Sequence[str], images, targets, weight: float = 0.5):
    """(N, C) float32 training targets: ``1 - weight`` of the one-hot label plus ``weight`` of the probabilities of
    ``teacher`` (a bulk model file or :class:`Classifier` of the same classes and fingerprint; its network's softmax,
    no temperature) on ``images``. Knowledge distillation: the student learns how the teacher ranks the other
    classes, which a label does not say, and keeps the label where the teacher is wrong."""
    import numpy as np

    model = teacher if isinstance(teacher, Classifier) else Classifier.load(teacher)
    if list(model.classes) != list(names):
        raise ValueError(f"{teacher}: the teacher's classes are not the student's")
    if not 0.0 <= float(weight) <= 1.0:
        raise ValueError(f'teacher_weight must be in [0, 1], not {weight!r}')
    logits = model.logits(images).astype(np.float64)
    probabilities = np.exp(logits - logits.max(axis=1, keepdims=True))
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    onehot = np.eye(len(names) + 1)[np.asarray(targets, dtype=int)]
    return ((1.0 - weight) * onehot + weight * probabilities).astype(np.float32)


def seen_lattices(names: Sequence[str], targets, lattices, *, share: float = SEEN_SHARE) -> dict[str, list[list]]:
    """For each class, the ``[bravais, sites]`` pairs the orientation step found on its members (``targets`` index
    ``names``; outsiders and records with no standard lattice are skipped), each found on at least ``share`` of the
    class's members and on at least two of them, most frequent first. Give it the *train* part: the lattices a
    class's crystals show when damaged (:func:`aiida_crystalface.core.openset.lattice_admits`)."""
    import collections

    counts = {name: collections.Counter() for name in names}
    for target, record in zip(targets, lattices, strict=True):
        if int(target) >= len(names) or not record or not record.get('lattice_standard'):
            continue
        pair = (str(record['lattice_standard']), int(record.get('sites_per_lattice_point', -1)))
        counts[names[int(target)]][pair] += 1
    seen = {}
    for name in names:
        total = sum(counts[name].values())
        seen[name] = [[b, n] for (b, n), c in counts[name].most_common() if c >= max(2, share * total)]
    return seen


def fit_decision_rule(
    net,
    names,
    settings,
    *,
    prototypes,
    images,
    targets,
    lattices,
    seen=None,
    outsider_target='auto',
    composition=True,
    score='softmax',
):
    """The lattice rule's exemptions, the temperature and the threshold, fitted on the calibration part.

    The rule is ``'restrict'``: the answer is the most probable class among those the lattice found admits
    (:func:`aiida_crystalface.core.openset.lattice_admits` with each class's expected lattice and, given ``seen``
    (:func:`seen_lattices` of the train part), the lattices found on its damaged training members), ``unknown`` where
    it admits none, and ``unknown`` too where the best admitted class is less than ``restrict_ratio`` times as probable
    as the most probable class (fitted with the threshold from :data:`RESTRICT_RATIOS`); a class is exempt (always
    admitted) where that lowers the calibration objective (:func:`choose_exemptions`). The objective
    (:func:`aiida_crystalface.ml.openset.rule_objective`): the fewest member errors among the rules that give at most
    ``outsider_target`` of the calibration outsiders a class (``'auto'``: :func:`choose_outsider_target`), or with
    ``None`` the balanced error. The composition rule's tolerance is fitted with the bound (:func:`choose_rule`;
    ``composition=False``: no composition rule). The species and composition rules hold for exempt classes too.
    ``score``: what the threshold is compared with (:data:`aiida_crystalface.ml.classifier.SCORES`). Returns
    ``(open-set record, prototypes)`` (exempt classes keep no ``lattice``).
    """
    prototypes = {name: dict(record) for name, record in prototypes.items()}
    for name, pairs in (seen or {}).items():
        if name in prototypes and prototypes[name].get('lattice'):
            prototypes[name]['lattice'] = {**prototypes[name]['lattice'], 'seen': [list(p) for p in pairs]}
    rule = {'open_set': {'lattice_rule': 'restrict'}, 'prototypes': prototypes}
    probe = Classifier(net, names, settings, metadata=rule)
    consistent = probe.lattice_consistency(lattices)
    misses = {}
    for index, name in enumerate(names):
        rows = targets == index
        misses[name] = round(float((~consistent[rows, index]).mean()) if rows.any() else 0.0, 4)
    logits = probe.logits(images)
    # the species rule alone: the classifier's own rule with every class exempt from the lattice rule
    every_exempt = {
        'open_set': {'lattice_rule': 'restrict', 'lattice_rule_exempt': list(names)},
        'prototypes': prototypes,
    }
    facts = Classifier(net, names, settings, metadata=every_exempt).lattice_consistency(lattices)
    distances = composition_distances(lattices, names, prototypes)
    tolerances = COMPOSITION_TOLERANCES if composition else (None,)
    auto = outsider_target == 'auto'
    tolerance, outsider_target, table = choose_rule(
        logits, targets, consistent, distances, outsider_target=outsider_target, tolerances=tolerances, score=score
    )
    facts &= _composition_admits(distances, tolerance)
    consistent = consistent & facts
    exempt = choose_exemptions(
        logits, targets, consistent, names, misses, outsider_target=outsider_target, keep=facts, score=score
    )
    for name in exempt:
        prototypes[name]['lattice'] = None
    admitted = _admitted(consistent, names, exempt) & facts
    record = calibrate(
        logits, targets, admitted, restrict=True, ratios=RESTRICT_RATIOS, outsider_target=outsider_target, score=score
    )
    record.update(
        lattice_rule='restrict',
        lattice_rule_exempt=exempt,
        lattice_rule_calibration_misses={k: v for k, v in misses.items() if v},
        composition_tolerance=tolerance,
        composition_rule='ml.bulk.choose_rule (core.openset.composition_distance)',
    )
    if seen:
        record['lattice_rule_seen'] = 'lattices of the train part (ml.bulk.seen_lattices)'
    record['rule_table'] = table
    if auto:
        record['outsider_target_rule'] = f'choose_rule (member slack {MEMBER_SLACK})'
        record.setdefault('outsider_target', outsider_target)
    return record, prototypes


def composition_distances(lattices, names: Sequence[str], prototypes: dict[str, dict]):
    """(N, C) float: :func:`aiida_crystalface.core.openset.composition_distance` of each record's
    ``species_fractions`` from each class's ``stoichiometry``; NaN where it does not decide (no record, no shares,
    an elemental class)."""
    import numpy as np

    from aiida_crystalface.core.openset import composition_distance

    shares = [prototypes[name].get('stoichiometry') for name in names]
    out = np.full((len(lattices), len(names)), np.nan)
    for i, entry in enumerate(lattices):
        fractions = entry.get('species_fractions') if isinstance(entry, dict) else None
        if not fractions:
            continue
        for c, share in enumerate(shares):
            if share:
                distance = composition_distance(fractions, share)
                out[i, c] = np.nan if distance is None else distance
    return out


def _composition_admits(distances, tolerance):
    import numpy as np

    if tolerance is None:
        return np.ones(distances.shape, dtype=bool)
    with np.errstate(invalid='ignore'):
        return ~(distances > tolerance)


def choose_rule(
    logits,
    targets,
    consistent,
    distances,
    *,
    outsider_target='auto',
    tolerances=COMPOSITION_TOLERANCES,
    candidates=OUTSIDER_TARGETS,
    slack=MEMBER_SLACK,
    score='softmax',
):
    """The composition rule's tolerance and the bound on the outsiders given a class, chosen together on the
    calibration part. Returns ``(tolerance, outsider_target, table)``; ``table``: ``[[tolerance, bound, member error,
    outsider error], ...]`` (bound None: the balanced rule).

    For every tolerance of ``tolerances`` (None: no composition rule) the threshold and ratio are fitted
    (:func:`aiida_crystalface.ml.openset.calibrate`) for the balanced error and under each bound of ``candidates``.
    With ``outsider_target='auto'`` the bound is the smallest of ``candidates`` that some fitted rule meets at a cost
    of at most ``slack`` more member errors than the balanced rule without the composition rule; among the rules that
    do, the one with the fewest member errors (ties: the loosest tolerance). Where none does, the balanced rule of
    the tolerance with the lowest balanced error. With a fixed bound (or None, the balanced error), the tolerance
    whose rule has the lowest objective (:func:`aiida_crystalface.ml.openset.rule_objective`). A composition rule
    that turns members away and no outsider is never chosen: a looser one makes as few errors.
    """
    bounds = (None, *candidates) if outsider_target == 'auto' else (outsider_target,)
    table = []
    for tolerance in tolerances:
        admitted = consistent & _composition_admits(distances, tolerance)
        for bound in bounds:
            record = calibrate(
                logits, targets, admitted, restrict=True, ratios=RESTRICT_RATIOS, outsider_target=bound, score=score
            )
            table.append([tolerance, bound, record['calibration_member_error'], record['calibration_outsider_error']])
    if outsider_target != 'auto':
        best = min(
            range(len(table)),
            key=lambda i: (round(float(rule_objective(table[i][2], table[i][3], outsider_target)), 9), i),
        )
        return table[best][0], outsider_target, table
    reference = table[0][2]
    for bound in candidates:
        feasible = [i for i, row in enumerate(table) if row[3] <= bound + 1e-12 and row[2] <= reference + slack + 1e-12]
        if feasible:
            best = min(feasible, key=lambda i: (round(table[i][2], 9), i))
            tolerance, chosen = table[best][0], table[best][1]
            return tolerance, (None if chosen is None else float(chosen)), table
    balanced = [i for i, row in enumerate(table) if row[1] is None]
    best = min(balanced, key=lambda i: (round(float(rule_objective(table[i][2], table[i][3], None)), 9), i))
    return table[best][0], None, table


def choose_outsider_target(logits, targets, consistent, *, candidates=OUTSIDER_TARGETS, slack=MEMBER_SLACK):
    """The bound on the outsiders given a class for the rule's fit, chosen on the calibration part: the smallest of
    ``candidates`` whose rule (threshold and ratio fitted under it, no class exempt) makes at most ``slack`` more
    member errors than the balanced rule, or ``None`` (the balanced rule) where none does or the balanced rule meets
    it already. A network whose outsiders and members overlap in ``p(other)`` buys each outsider with many members;
    the slack says how many it may spend. Returns ``(target, curve)``; ``curve``: ``[[target, member error, outsider
    error], ...]``, ``None`` for the balanced rule first."""
    curve = []
    for target in (None, *candidates):
        record = calibrate(logits, targets, consistent, restrict=True, ratios=RESTRICT_RATIOS, outsider_target=target)
        curve.append([target, record['calibration_member_error'], record['calibration_outsider_error']])
    _, balanced_members, balanced_outsiders = curve[0]
    for target, members, _outsiders in curve[1:]:
        if target >= balanced_outsiders:
            break
        if members <= balanced_members + slack + 1e-12:
            return float(target), curve
    return None, curve


def choose_exemptions(
    logits,
    targets,
    consistent,
    names,
    misses,
    *,
    ratios=RESTRICT_RATIOS,
    outsider_target=None,
    keep=None,
    score='softmax',
) -> list[str]:
    """The classes the lattice rule exempts: chosen greedily, on the calibration part, for the rule's objective
    (:func:`aiida_crystalface.ml.openset.rule_objective`: the balanced error, or with ``outsider_target`` the member
    error under that bound on the outsider error).

    ``consistent`` (N, C): whether each item's lattice admits each class with no class exempt; ``misses``: the share
    of each class's calibration members its lattice rule turns away. The candidates are the classes with misses, the
    most missed first; each is exempted (its column of ``consistent`` made all True) where that lowers the objective
    of the whole rule, the temperature, threshold and ratio fitted again (:func:`calibrate`), below the best so
    far. Exempting a class keeps its members whose lattice the orientation step saw otherwise, and lets every outsider
    the network takes for it through: which weighs more is measured, not assumed.
    """

    def objective(exempt: list[str]) -> float:
        admitted = _admitted(consistent, names, exempt)
        if keep is not None:  # the rules exemption does not lift (species, composition)
            admitted &= keep
        record = calibrate(
            logits, targets, admitted, restrict=True, ratios=ratios, outsider_target=outsider_target, score=score
        )
        errors = record['calibration_member_error'], record['calibration_outsider_error']
        return round(float(rule_objective(*errors, outsider_target)), 9)

    candidates = sorted((name for name in names if misses.get(name)), key=lambda name: (-misses[name], name))
    exempt: list[str] = []
    best = objective(exempt)
    for name in candidates:
        error = objective([*exempt, name])
        if error < best:
            exempt, best = [*exempt, name], error
    return exempt


def _admitted(consistent, names: Sequence[str], exempt: Sequence[str]):
    """``consistent`` with the columns of the ``exempt`` classes made all True (an exempt class: always admitted)."""
    import numpy as np

    admitted = np.array(consistent, dtype=bool, copy=True)
    admitted[:, [names.index(name) for name in exempt]] = True
    return admitted


def recalibrate_bulk_model(
    model: str | Path | Classifier,
    cache: str | Path,
    output_dir: str | Path,
    *,
    outsider_target: float | str | None = 'auto',
    composition: bool = True,
    score: str = 'softmax',
) -> Classifier:
    """Fit the decision rule of a trained bulk model (a file or a :class:`Classifier`) again
    (:func:`fit_decision_rule`) on the calibration part cached by :func:`train_bulk_model` (``cache``); the network is
    not touched. Writes ``output_dir/model.safetensors``
    and ``output_dir/metrics.json`` (the old record kept under ``open_set['previous']``). The seen lattices come from
    the train part's records in ``cache`` (``train.json``; without them, none)."""
    classifier = model if isinstance(model, Classifier) else Classifier.load(model)
    images, targets, lattices = _load_part(Path(cache), 'calibration')
    names = classifier.classes
    seen = None
    if (Path(cache) / 'train.json').is_file():
        seen = seen_lattices(names, *_load_part(Path(cache), 'train', images=False))
    from aiida_crystalface.core.diffraction import FingerprintSettings

    settings = FingerprintSettings.from_dict(classifier.settings)
    record, prototypes = fit_decision_rule(
        classifier.net,
        names,
        settings,
        prototypes=bulk_prototypes(names),
        images=images,
        targets=targets,
        lattices=lattices,
        seen=seen,
        outsider_target=outsider_target,
        composition=composition,
        score=score,
    )
    old = dict(classifier.open_set)
    fitted = ('previous', 'other_score')  # the new fit says its own (a softmax record has no other_score)
    record = {
        **{k: v for k, v in old.items() if k not in record and not k.startswith('outsider_target') and k not in fitted},
        **record,
    }
    kept = ('temperature', 'threshold', 'restrict_ratio', 'lattice_rule', 'lattice_rule_exempt', 'outsider_target')
    kept += ('calibration_member_error', 'calibration_outsider_error', 'composition_tolerance', 'other_score')
    record['previous'] = {k: old[k] for k in kept if k in old}
    metadata = {**classifier.metadata, 'open_set': record, 'prototypes': prototypes}
    fresh = Classifier(classifier.net, names, settings, metadata=_extra(metadata))
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    fresh.save(output_dir / 'model.safetensors', weights_dtype='float16')
    training = classifier.metadata.get('training', {})
    (output_dir / 'metrics.json').write_text(json.dumps({'open_set': record, 'training': training}, indent=2) + '\n')
    _say(
        f'recalibrated: T = {record["temperature"]:.3f}, threshold = {record["threshold"]}, calibration errors: '
        f'members {100 * record["calibration_member_error"]:.2f} %, '
        f'outsiders {100 * record["calibration_outsider_error"]:.2f} %; exempt: {record["lattice_rule_exempt"]}',
        True,
    )
    return Classifier.load(output_dir / 'model.safetensors')


def ensemble_bulk_models(
    models: Sequence[str | Path],
    cache: str | Path,
    output_dir: str | Path,
    *,
    outsider_target: float | str | None = 'auto',
    composition: bool = True,
    combine: str = 'geometric',
    score: str = 'softmax',
) -> Classifier:
    """Join trained bulk models into one (:class:`~aiida_crystalface.ml.convnet.Ensemble`: the mean of their
    log-probabilities, ``combine='geometric'``, or of their probabilities, ``'arithmetic'``) and fit its decision rule
    on the cached calibration part (:func:`recalibrate_bulk_model`). The models must share their classes and
    fingerprint settings; their training records are kept under ``training['ensemble']``. Writes
    ``output_dir/model.safetensors`` and ``output_dir/metrics.json``."""
    from aiida_crystalface.core.diffraction import FingerprintSettings
    from aiida_crystalface.ml.convnet import Ensemble

    loaded = [Classifier.load(model) for model in models]
    first = loaded[0]
    for path, other in zip(models[1:], loaded[1:], strict=True):
        if other.classes != first.classes or other.settings_hash != first.settings_hash:
            raise ValueError(f'{path}: its classes or fingerprint settings are not those of {models[0]}')
    # An ensemble given as a member joins with its own members: every network weighs the same.
    nets = [net for model in loaded for net in (model.net.members if isinstance(model.net, Ensemble) else [model.net])]
    net = Ensemble(nets, combine).eval()
    names = ' '.join(Path(model).parent.name or str(model) for model in models)
    option = '' if combine == 'geometric' else f' --combine {combine}'
    option += '' if score == 'softmax' else f' --other-score {score}'
    training = {
        'ensemble': [model.metadata.get('training', {}) for model in loaded],
        'combine': combine,
        'command': f'python -m aiida_crystalface.ml.bulk --ensemble {names}{option} --cache PARTS -o OUTPUT',
    }
    metadata = {**_extra(first.metadata), 'training': training}
    joined = Classifier(net, first.classes, FingerprintSettings.from_dict(first.settings), metadata=metadata)
    return recalibrate_bulk_model(
        joined, cache, output_dir, outsider_target=outsider_target, composition=composition, score=score
    )


def add_disorder_rescue(
    model: str | Path | Classifier,
    cache: str | Path,
    output_dir: str | Path,
    *,
    alpha: float = DISORDER_ALPHA,
    alloys: bool = False,
) -> Classifier:
    """Give a bulk model the disorder rescue (``open_set['disorder_rescue']``, applied by
    :meth:`~aiida_crystalface.ml.classifier.Classifier.decide`) at significance ``alpha``, and measure it on the
    calibration part cached in ``cache`` (its lattice records must carry the orientation step's
    ``superlattice_peak``: a part fingerprinted by this version). ``alloys``: rescue crystals of several elements
    whose elements are arranged at random too (the records' ``species_superlattice_peak``). The network and the
    fitted rule are not touched.
    The record stores ``error``, the share of the calibration items the rescue changes that it gets wrong (with one
    right and one wrong added, so that it is never 0: the answer's uncertainty), and the calibration figures before
    and after. Writes ``output_dir/model.safetensors`` and ``output_dir/metrics.json``."""
    from aiida_crystalface.core.orientation import MIN_DISORDER_POINTS, disorder_limit

    disorder_limit(MIN_DISORDER_POINTS, 1, alpha)  # checks alpha
    rescue = {'alpha': float(alpha), 'error': 0.0, **({'alloys': True} if alloys else {})}
    extra = {'min_points': MIN_DISORDER_POINTS}
    label = f'disorder rescue (alpha {alpha}{", alloys" if alloys else ""})'
    return _add_rescue(
        model,
        cache,
        output_dir,
        key='disorder_rescue',
        rescue=rescue,
        extra=extra,
        label=label,
        needs='superlattice_peak',
    )


#: What the order rescue may change (:meth:`aiida_crystalface.ml.classifier.Classifier._order_rescue`).
ORDER_POLICIES = ('unknown', 'any')


def add_order_rescue(
    model: str | Path | Classifier,
    cache: str | Path,
    output_dir: str | Path,
    *,
    alpha: float = DISORDER_ALPHA,
    policy: str = 'unknown',
) -> Classifier:
    """Give a bulk model the order rescue (``open_set['order_rescue']``: the ordered compounds of cubic lattices
    named from the elements' order, :mod:`aiida_crystalface.core.ordering`; applied by
    :meth:`~aiida_crystalface.ml.classifier.Classifier.decide`) and measure it on the calibration part cached in
    ``cache`` (its lattice records must carry ``species_order``: a part fingerprinted by this version). ``policy``:
    ``'unknown'``, only the network's ``unknown`` answers are changed; ``'any'``, any answer the order contradicts.
    The record stores the class profiles (:func:`aiida_crystalface.core.ordering.class_profiles` of the model's
    classes), ``alpha`` (the random-damage bound on the species-blind lattice) and ``error`` as the disorder rescue's
    (:func:`add_disorder_rescue`). The network, the fitted rule and the disorder rescue are not touched."""
    from aiida_crystalface.core.ordering import class_profiles
    from aiida_crystalface.core.orientation import MIN_DISORDER_POINTS, disorder_limit

    disorder_limit(MIN_DISORDER_POINTS, 1, alpha)  # checks alpha
    if policy not in ORDER_POLICIES:
        raise ValueError(f'policy must be one of {ORDER_POLICIES}, not {policy!r}')
    classifier = model if isinstance(model, Classifier) else Classifier.load(model)
    profiles = {name: profile for name, profile in class_profiles().items() if name in classifier.classes}
    rescue = {'alpha': float(alpha), 'policy': policy, 'error': 0.0, 'profiles': profiles}
    label = f'order rescue (alpha {alpha}, policy {policy}, {len(profiles)} classes)'
    return _add_rescue(
        classifier, cache, output_dir, key='order_rescue', rescue=rescue, extra={}, label=label, needs='species_order'
    )


def add_order_veto(
    model: str | Path | Classifier, cache: str | Path, output_dir: str | Path, *, z: float | None = None
) -> Classifier:
    """Give a bulk model the order veto (``open_set['order_veto']``, applied last by
    :meth:`~aiida_crystalface.ml.classifier.Classifier.decide`): a class of one element is never the answer for a
    crystal of several elements that sit in an order (the lattice record's ``species_order_z``,
    :func:`aiida_crystalface.core.ordering.arrangement_z`, above ``z``; default
    :data:`~aiida_crystalface.core.ordering.ORDER_Z`); such an answer becomes ``unknown``. Measured on the calibration
    part cached in ``cache`` (a part fingerprinted by this version: its records carry ``species_order_z``), as the
    rescues are: the answers it changes, how many of them are right after, and ``harmed``, the right answers it made
    wrong. ``error``: the share of its ``unknown`` answers that were members, (wrong + 1) / (changed + 2). The network,
    the rule and the rescues are not touched."""
    import math

    from aiida_crystalface.core.ordering import ORDER_Z

    z = ORDER_Z if z is None else float(z)
    if not math.isfinite(z) or z <= 0:
        raise ValueError(f'z must be a positive number, not {z!r}')
    return _add_rescue(
        model,
        cache,
        output_dir,
        key='order_veto',
        rescue={'z': z, 'error': 0.0},
        extra={},
        label=f'order veto (z {z})',
        needs='species_order_z',
    )


def _add_rescue(model, cache, output_dir, *, key: str, rescue: dict, extra: dict, label: str, needs: str) -> Classifier:
    """Add the rescue ``rescue`` under ``open_set[key]`` and measure it on the cached calibration part (whose lattice
    records must have some ``needs``): the answers it changes, how many of them right, how many right answers it
    made wrong (``harmed``), the member and outsider errors before and after; ``error``: (wrong + 1) / (changed +
    2)."""
    from aiida_crystalface.core.diffraction import FingerprintSettings

    classifier = model if isinstance(model, Classifier) else Classifier.load(model)
    images, targets, lattices = _load_part(Path(cache), 'calibration')
    if not any(isinstance(record, dict) and needs in record for record in lattices):
        raise ValueError(
            f'{cache}: the calibration records have no {needs} (fingerprinted by an older version); '
            'build the part again (python -m aiida_crystalface.ml.bulk --items-only --cache DIR)'
        )
    names = classifier.classes
    settings = FingerprintSettings.from_dict(classifier.settings)
    truth = [names[t] if t < len(names) else 'unknown' for t in targets]
    is_member = [t < len(names) for t in targets]

    def measure(candidate: Classifier) -> tuple[list[str], float, float]:
        labels = [answer['label'] for answer in candidate.decide(images, lattices)]
        wrong_members = sum(m and a != t for a, t, m in zip(labels, truth, is_member, strict=True))
        wrong_outsiders = sum(
            not m and a not in ('unknown', 'amorphous') for a, m in zip(labels, is_member, strict=True)
        )
        n_members = max(sum(is_member), 1)
        return labels, wrong_members / n_members, wrong_outsiders / max(len(labels) - sum(is_member), 1)

    before, members_before, outsiders_before = measure(classifier)
    record = {**classifier.open_set, key: rescue}
    trial = Classifier(classifier.net, names, settings, metadata={**_extra(classifier.metadata), 'open_set': record})
    after, members_after, outsiders_after = measure(trial)
    changed = [i for i, (b, a) in enumerate(zip(before, after, strict=True)) if a != b]
    right = sum(after[i] == truth[i] for i in changed)
    harmed = sum(before[i] == truth[i] for i in changed)
    rescued_members = sum(is_member[i] for i in changed)
    record[key] = {
        **rescue,
        **extra,
        'error': round((len(changed) - right + 1) / (len(changed) + 2), 6),
        'calibration': {
            'items': len(truth),
            'changed': len(changed),
            'right': int(right),
            'harmed': int(harmed),
            'members_changed': int(rescued_members),
            'outsiders_changed': len(changed) - int(rescued_members),
            'member_error_before': round(members_before, 6),
            'member_error_after': round(members_after, 6),
            'outsider_error_before': round(outsiders_before, 6),
            'outsider_error_after': round(outsiders_after, 6),
        },
    }
    fresh = Classifier(classifier.net, names, settings, metadata={**_extra(classifier.metadata), 'open_set': record})
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    path = fresh.save(
        output_dir / 'model.safetensors', weights_dtype=classifier.metadata.get('weights_dtype', 'float32')
    )
    metrics = {'open_set': record, 'training': classifier.metadata.get('training', {})}
    (output_dir / 'metrics.json').write_text(json.dumps(metrics, indent=2) + '\n')
    _say(
        f'{label}: {len(changed)} calibration answers changed, {right} of them right, {harmed} right before; '
        f'members wrong {100 * members_before:.2f} -> {100 * members_after:.2f} %, outsiders given a class '
        f'{100 * outsiders_before:.2f} -> {100 * outsiders_after:.2f} %',
        True,
    )
    return Classifier.load(path)


def quantize_bulk_model(
    model: str | Path | Classifier, output_dir: str | Path, *, seed: int = 0, observe: int = 1, progress: bool = True
) -> Classifier:
    """Observe a bulk model's int8 activation ranges and store them in the model file
    (:meth:`~aiida_crystalface.ml.classifier.Classifier.quantize`), so that ``precision='int8'`` works from the file
    alone. The ranges are observed on members of the *train* part (:func:`aiida_crystalface.core.bulkset.bulk_items`
    of ``seed``: ``observe`` species tuples per class, every damage variant, one draw, no outsiders), the data the
    network was trained on; neither the calibration nor the test part is touched. The network and the decision rule
    are unchanged. Writes ``output_dir/model.safetensors`` (and copies the model's ``metrics.json`` there)."""
    import shutil

    from aiida_crystalface.core.bulkset import bulk_items
    from aiida_crystalface.core.diffraction import FingerprintSettings, fingerprint_batch

    classifier = model if isinstance(model, Classifier) else Classifier.load(model)
    observed = bulk_items(
        'train', seed, classes=classifier.classes, draws=1, species_per_class=observe, outsiders=False
    )
    batch = fingerprint_batch(observed, FingerprintSettings.from_dict(classifier.settings), progress=progress)
    observed_on = (
        f"core.bulkset.bulk_items('train', {seed}, draws=1, species_per_class={observe}, outsiders=False): "
        f'{len(batch.images)} train members'
    )
    classifier.quantize(batch.images, observed_on=observed_on)
    output_dir = Path(output_dir)
    weights = classifier.metadata.get('weights_dtype', 'float32')
    path = classifier.save(output_dir / 'model.safetensors', weights_dtype=weights)
    if not isinstance(model, Classifier):
        metrics = Path(model).parent / 'metrics.json'
        if metrics.is_file() and metrics.resolve() != (output_dir / 'metrics.json').resolve():
            shutil.copyfile(metrics, output_dir / 'metrics.json')
    _say(f'int8 parameters observed on {len(batch.images)} train members, written to {path}', True)
    return Classifier.load(path)


def _device_name(trainer) -> str:
    """The device the trainer trained on, in words (``cpu``, or ``cuda:0 (NVIDIA H200)``)."""
    import torch

    device = trainer.strategy.root_device
    if device.type == 'cuda':
        return f'{device} ({torch.cuda.get_device_name(device)})'
    return str(device)


def _extra(metadata: dict) -> dict:
    drop = {'package_version', 'format', 'format_version', 'classes', 'settings', 'settings_hash'}
    return {k: v for k, v in metadata.items() if k not in drop}


def _save_part(folder: Path, part: str, images, targets, lattices) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    import numpy as np

    np.savez(folder / f'{part}.npz', images=images, targets=targets)
    (folder / f'{part}.json').write_text(json.dumps(lattices))


def _load_part(folder: Path, part: str, *, images: bool = True):
    """A part cached by :func:`train_bulk_model`: ``(images, targets, lattice records)``, or ``(targets, records)``
    with ``images=False`` (the images are not read)."""
    import numpy as np

    with np.load(Path(folder) / f'{part}.npz') as data:
        arrays = (data['images'], data['targets']) if images else (data['targets'],)
    return (*arrays, json.loads((Path(folder) / f'{part}.json').read_text()))


def _cosine_module():
    import torch

    from aiida_crystalface.ml.training import ClassifierModule

    class CosineModule(ClassifierModule):
        """Adam with the learning rate decayed along a cosine over the epochs (to a hundredth)."""

        def configure_optimizers(self):
            optimiser = torch.optim.Adam(self.net.parameters(), lr=self.hparams.learning_rate)
            epochs = max(1, int(self.trainer.max_epochs or 1))
            schedule = torch.optim.lr_scheduler.CosineAnnealingLR(
                optimiser, T_max=epochs, eta_min=self.hparams.learning_rate / 100
            )
            return {'optimizer': optimiser, 'lr_scheduler': {'scheduler': schedule, 'interval': 'epoch'}}

    return CosineModule


def _CosineModule(net, learning_rate):  # noqa: N802 - a class built on first use (Lightning imported lazily)
    return _cosine_module()(net, learning_rate=learning_rate)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog='python -m aiida_crystalface.ml.bulk', description=__doc__.split('\n')[0])
    parser.add_argument('-o', '--output', required=True, help='folder for model.safetensors and metrics.json')
    parser.add_argument('--seed', type=int, default=0, help='draws the parts, and the weights unless --init-seed')
    parser.add_argument(
        '--init-seed', type=int, help="the network's initial weights and batch order only (default: --seed)"
    )
    parser.add_argument('--epochs', type=int, default=14)
    parser.add_argument('--draws', type=int, default=2, help='draws of each member / outsider variant')
    parser.add_argument(
        '--calibration-draws', type=int, default=2, help='draws of each variant in the calibration part (default 2)'
    )
    parser.add_argument(
        '--random', type=int, help='pyxtal crystals in the train part (default: 6 per outsider prototype of the part)'
    )
    parser.add_argument(
        '--ordered', type=int, default=0, help='ordered superstructures of the class lattices in the train part'
    )
    parser.add_argument(
        '--vacancy-ordered',
        type=int,
        default=0,
        help='vacancy-ordered superstructures of the class lattices in the train part',
    )
    parser.add_argument('--teacher', help='a trained bulk model whose probabilities the network learns with the labels')
    parser.add_argument('--teacher-weight', type=float, default=0.5, help='weight of the teacher (default 0.5)')
    parser.add_argument('--classes', nargs='+', help='a subset of the bulk classes (default: all)')
    parser.add_argument('--cache', help='folder for the fingerprints of the train and calibration parts')
    parser.add_argument(
        '--items',
        metavar='DIR',
        help='folder for the structures of the parts: read from it where there, else built and written there',
    )
    parser.add_argument(
        '--items-only', action='store_true', help='build the parts (into --items; with --cache, their fingerprints too)'
    )
    parser.add_argument('--accelerator', default='cpu', help="Lightning's accelerator: cpu (default), gpu or auto")
    parser.add_argument('--recalibrate', metavar='MODEL', help='fit the decision rule of MODEL again from --cache')
    parser.add_argument(
        '--ensemble', nargs='+', metavar='MODEL', help='join MODELs into one and fit its decision rule from --cache'
    )
    parser.add_argument(
        '--combine',
        choices=('geometric', 'arithmetic'),
        default='geometric',
        help='with --ensemble: join the networks by the mean of their log-probabilities (geometric, the default) or '
        'of their probabilities (arithmetic)',
    )
    parser.add_argument(
        '--other-score',
        choices=('softmax', 'pairwise'),
        default='softmax',
        help='with --ensemble or --recalibrate: compare the threshold with the calibrated p(other) (softmax, the '
        'default) or with p(other) / (p(other) + p(answer)) (pairwise)',
    )
    parser.add_argument(
        '--quantize',
        metavar='MODEL',
        help="observe MODEL's int8 activation ranges on train members and store them in OUTPUT/model.safetensors",
    )
    parser.add_argument(
        '--disorder-rescue',
        metavar='MODEL',
        help="add the disorder rescue to MODEL and measure it on --cache's calibration part (network and rule kept)",
    )
    parser.add_argument(
        '--order-rescue',
        metavar='MODEL',
        help="add the order rescue to MODEL and measure it on --cache's calibration part (network and rules kept)",
    )
    parser.add_argument(
        '--order-veto',
        metavar='MODEL',
        help="add the order veto to MODEL and measure it on --cache's calibration part (network, rules, rescues kept)",
    )
    parser.add_argument(
        '--order-z', type=float, help='with --order-veto: the z-score over which the elements are ordered (10)'
    )
    parser.add_argument(
        '--order-policy',
        choices=ORDER_POLICIES,
        default='unknown',
        help="with --order-rescue: change only the network's unknown answers (unknown, the default) or any (any)",
    )
    parser.add_argument(
        '--alpha',
        type=float,
        default=DISORDER_ALPHA,
        help=f'with --disorder-rescue: its significance ({DISORDER_ALPHA})',
    )
    parser.add_argument(
        '--alloys', action='store_true', help='with --disorder-rescue: rescue random alloys of several elements too'
    )
    parser.add_argument(
        '--observe', type=int, default=1, help='with --quantize: train species tuples per class (default 1)'
    )
    rule = parser.add_mutually_exclusive_group()
    rule.add_argument(
        '--outsider-target',
        default='auto',
        help='the share of calibration outsiders the rule may give a class, or "auto" (default: the smallest of '
        f'{", ".join(map(str, OUTSIDER_TARGETS))} that costs at most {MEMBER_SLACK} more member errors)',
    )
    rule.add_argument(
        '--balanced', action='store_true', help='fit the rule for the balanced error instead of --outsider-target'
    )
    parser.add_argument(
        '--no-composition-rule',
        action='store_true',
        help="fit no composition rule (a compound class admitted whatever the structure's element shares)",
    )
    args = parser.parse_args(argv)
    target = None if args.balanced else args.outsider_target
    if target not in (None, 'auto'):
        try:
            target = float(target)
        except ValueError:
            target = float('nan')
        if not 0.0 <= target < 1.0:
            parser.error(f'--outsider-target must be "auto" or a share in [0, 1), got {args.outsider_target!r}')
    rule = {'outsider_target': target, 'composition': not args.no_composition_rule, 'score': args.other_score}
    if args.disorder_rescue:
        if not args.cache:
            parser.error('--disorder-rescue needs --cache (a folder with the calibration part fingerprinted)')
        add_disorder_rescue(args.disorder_rescue, args.cache, args.output, alpha=args.alpha, alloys=args.alloys)
        return 0
    if args.order_rescue:
        if not args.cache:
            parser.error('--order-rescue needs --cache (a folder with the calibration part fingerprinted)')
        add_order_rescue(args.order_rescue, args.cache, args.output, alpha=args.alpha, policy=args.order_policy)
        return 0
    if args.order_veto:
        if not args.cache:
            parser.error('--order-veto needs --cache (a folder with the calibration part fingerprinted)')
        add_order_veto(args.order_veto, args.cache, args.output, z=args.order_z)
        return 0
    if args.quantize:
        quantize_bulk_model(args.quantize, args.output, seed=args.seed, observe=args.observe)
        return 0
    if args.ensemble:
        if not args.cache or len(args.ensemble) < 2:
            parser.error('--ensemble needs two or more models and --cache (the folder given to a training run)')
        ensemble_bulk_models(args.ensemble, args.cache, args.output, combine=args.combine, **rule)
        return 0
    if args.recalibrate:
        if not args.cache:
            parser.error('--recalibrate needs --cache (the folder given to the training run)')
        recalibrate_bulk_model(args.recalibrate, args.cache, args.output, **rule)
        return 0
    train_bulk_model(
        args.output,
        seed=args.seed,
        init_seed=args.init_seed,
        epochs=args.epochs,
        draws=args.draws,
        calibration_draws=args.calibration_draws,
        random_crystals=args.random,
        ordered=args.ordered,
        vacancy_ordered=args.vacancy_ordered,
        teacher=args.teacher,
        teacher_weight=args.teacher_weight,
        classes=args.classes,
        cache=args.cache,
        outsider_target=target,
        composition=not args.no_composition_rule,
        items=args.items,
        items_only=args.items_only,
        accelerator=args.accelerator,
    )
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
