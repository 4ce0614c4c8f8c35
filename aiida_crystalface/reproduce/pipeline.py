"""The reproduction pipeline: datasets, training, evaluation and series, each as a stored process with provenance.

Graph of one run (every node below is added to the run's Group)::

    build_paper_dataset(pristine) --> dataset --> TrainClassifierCalculation (random split)  --> model, metrics
                                             \\-> TrainClassifierCalculation (species split) --> model, metrics
    prototype_templates --> templates (the baseline)
    build_paper_dataset(defective) --> dataset
    evaluate_classifier(model, dataset, templates[, metrics]) --> scores (ConvNet and baseline, per variant)
    BccToScWorkChain / LindemannWorkChain (one per species, with the model) --> summary

The figures that need no training (Fig. 2) are computed with :mod:`aiida_crystalface.core` directly.
"""

from __future__ import annotations

import dataclasses
import datetime
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np

from .config import ReproduceConfig

__all__ = ('run_reproduction',)


def run_reproduction(config: ReproduceConfig, output_dir: str | Path, *, code: Any = None, echo=print) -> dict:
    """Run every step of ``config``, write the figures and ``report.md`` into ``output_dir``; return the results.

    Needs a loaded AiiDA profile. ``code``: the InstalledCode that runs the training (default: this environment's
    python on a localhost computer, :func:`~aiida_crystalface.calculations.train.get_local_code`).
    """
    from aiida import orm

    from . import figures, report

    output_dir = Path(output_dir).resolve()
    (output_dir / 'figures').mkdir(parents=True, exist_ok=True)
    started, clock = datetime.datetime.now().astimezone(), time.perf_counter()
    group = orm.Group(label=f'crystalface-reproduce/{config.mode}/{started:%Y%m%d-%H%M%S-%f}').store()
    if code is None:
        from aiida_crystalface.calculations.train import get_local_code

        code = get_local_code(workdir=output_dir / 'aiida-work')
    results: dict[str, Any] = {'config': config.to_dict(), 'group': group.label, 'timings': {}}
    run = _Runner(results, group, echo)
    datasets = run.step('datasets', _datasets, config)
    models = run.step('training', _training, config, code, datasets['pristine'])
    templates = run.step('templates', _templates, config, models['random']['model'])
    run.step('evaluation', _evaluation, datasets, models, templates)
    run.step('series', _series, config, models['random']['model'])
    results['provenance'] = _provenance(datasets, models, templates)
    results['training'] = {
        split: {k: v for k, v in value['metrics'].get_dict().items() if k != 'test_indices'}
        for split, value in models.items()
    }
    run.step('figures', figures.write_all, results, datasets, models, output_dir / 'figures', config)
    results['wall_seconds'] = round(time.perf_counter() - clock, 1)
    results['started'] = started.isoformat(timespec='seconds')
    results['machine'] = _machine()
    report.write(results, output_dir)
    echo(f'Report: {output_dir / "report.md"} ({results["wall_seconds"]:.0f} s)')
    return results


class _Runner:
    """Run named steps, time them, and add the nodes they return to the group."""

    def __init__(self, results: dict, group, echo):
        self.results, self.group, self.echo = results, group, echo

    def step(self, name: str, function, *args):
        self.echo(f'[reproduce] {name} ...')
        start = time.perf_counter()
        value = function(*args)
        seconds = round(time.perf_counter() - start, 1)
        self.results['timings'][name] = seconds
        self.echo(f'[reproduce] {name} done in {seconds:.1f} s')
        nodes = [node for node in _nodes(value) if node.is_stored]
        if nodes:
            self.group.add_nodes(nodes)
        if name in ('evaluation', 'series'):
            self.results[name] = _plain(value)
        return value


def _nodes(value) -> list:
    from aiida import orm

    if isinstance(value, orm.Node):
        return [value]
    if isinstance(value, dict):
        return [n for v in value.values() for n in _nodes(v)]
    if isinstance(value, (list, tuple)):
        return [n for v in value for n in _nodes(v)]
    return []


def _plain(value):
    """Nodes -> ``{'uuid', 'pk', 'type'}`` plus the Dict content; for results.json and the report."""
    from aiida import orm

    if isinstance(value, orm.Dict):
        return {'uuid': value.uuid, 'pk': value.pk, 'type': 'Dict', 'content': value.get_dict()}
    if isinstance(value, orm.Node):
        return {'uuid': value.uuid, 'pk': value.pk, 'type': value.__class__.__name__}
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _provenance(datasets: dict, models: dict, templates) -> dict:
    uuids = {f'{name} dataset': node.uuid for name, node in datasets.items()}
    for split, value in models.items():
        uuids[f'model ({split} split)'] = value['model'].uuid
        uuids[f'training CalcJob ({split} split)'] = value['calculation'].uuid
    uuids['baseline templates'] = templates.uuid
    return uuids


def _datasets(config: ReproduceConfig) -> dict:
    from aiida import orm

    from .build_paper_dataset import build_paper_dataset

    parameters = orm.Dict(
        {'species': list(config.species) if config.species else None, 'prototype_options': config.prototype_options()}
    )
    seed = orm.Int(config.data_seed)
    return {
        'pristine': build_paper_dataset(orm.Str('pristine'), parameters, seed),
        'defective': build_paper_dataset(orm.Str('defective'), parameters, seed),
    }


def _training(config: ReproduceConfig, code, dataset) -> dict:
    """Train on the pristine set with the random 75/25 split and with held-out species, through the CalcJob."""
    from aiida import orm
    from aiida.engine import run_get_node

    from aiida_crystalface.calculations.train import TrainClassifierCalculation

    models = {}
    for split in ('random', 'species'):
        parameters = {
            'split': split,
            'test_fraction': 0.25,
            'epochs': config.epochs,
            'batch_size': 32,
            'learning_rate': 1e-3,
            'seed': config.training_seed,
            'max_steps': config.max_steps,
            'accelerator': 'cpu',
        }
        outputs, node = run_get_node(
            TrainClassifierCalculation, code=code, dataset=dataset, parameters=orm.Dict(parameters)
        )
        if not node.is_finished_ok:
            raise RuntimeError(f'training ({split} split) failed: {node.process_label}<{node.pk}> {node.exit_message}')
        models[split] = {'calculation': node, 'model': outputs['model'], 'metrics': outputs['metrics']}
    return models


def _templates(config: ReproduceConfig, model):
    from aiida import orm

    from .prototype_templates import prototype_templates

    return prototype_templates(orm.Dict(model.settings), orm.Str(config.template_species))


def _evaluation(datasets: dict, models: dict, templates) -> dict:
    from .evaluate_classifier import evaluate_classifier

    return {
        'pristine_random': evaluate_classifier(
            models['random']['model'], datasets['pristine'], templates, models['random']['metrics']
        ),
        'pristine_species': evaluate_classifier(
            models['species']['model'], datasets['pristine'], templates, models['species']['metrics']
        ),
        'defective': evaluate_classifier(models['random']['model'], datasets['defective'], templates),
    }


def _series(config: ReproduceConfig, model) -> dict:
    """bcc -> sc and Lindemann series, one WorkChain per species, pooled per level."""
    from aiida import orm
    from aiida.engine import run_get_node

    from aiida_crystalface.workflows.experiments import BccToScWorkChain, LindemannWorkChain

    series = {}
    for name, workchain in (('bcc_to_sc', BccToScWorkChain), ('lindemann', LindemannWorkChain)):
        runs = []
        for index, species in enumerate(config.series_species):
            inputs = {
                'species': orm.Str(species),
                'samples': orm.Int(config.series_samples),
                'supercell_atoms': orm.Int(config.series_atoms),
                'seed': orm.Int(config.series_seed * 100 + index),
                'classify': {'model': model},
            }
            outputs, node = run_get_node(workchain, **inputs)
            if not node.is_finished_ok:
                raise RuntimeError(
                    f'{name} series ({species}) failed: {node.process_label}<{node.pk}> {node.exit_message}'
                )
            runs.append({'species': species, 'workchain': node, 'summary': outputs['summary']})
        series[name] = {'runs': runs, 'pooled': pool_summaries([r['summary'].get_dict() for r in runs])}
    return series


def pool_summaries(summaries: list[dict]) -> dict:
    """Combine ``summarize_series`` Dicts of the same levels: pooled mean and (population) std per class and level.

    Means and spreads are over the classified samples; ``no_lattice`` is the pooled fraction of samples in which no
    lattice was found (they get no class); a level with no classified sample has None for its mean and spread.
    """
    first = summaries[0]
    n = np.array([s['n'] for s in summaries], dtype=float)  # (runs, levels)
    total = n.sum(axis=0)
    no_lattice = np.array([s.get('no_lattice', [0.0] * len(s['n'])) for s in summaries], dtype=float)
    classified = n * (1.0 - no_lattice)
    counted = classified.sum(axis=0)
    pooled = {'levels': first['levels'], 'classes': first['classes'], 'n': total.astype(int).tolist()}
    pooled['no_lattice'] = ((n * no_lattice).sum(axis=0) / np.maximum(total, 1)).tolist()
    pooled['mean'], pooled['std'], pooled['fraction'] = {}, {}, {}
    undefined = lambda values: [None if c == 0 else float(v) for v, c in zip(values, counted, strict=True)]  # noqa: E731
    for name in first['classes']:
        mean = np.array([[np.nan if v is None else v for v in s['mean'][name]] for s in summaries], dtype=float)
        std = np.array([[np.nan if v is None else v for v in s['std'][name]] for s in summaries], dtype=float)
        fraction = np.array([s['fraction'][name] for s in summaries], dtype=float)
        weights = np.where(classified > 0, classified, 0.0)
        m = np.nansum(weights * mean, axis=0) / np.maximum(counted, 1)
        second = np.nansum(weights * (std**2 + mean**2), axis=0) / np.maximum(counted, 1)
        pooled['mean'][name] = undefined(m)
        pooled['std'][name] = undefined(np.sqrt(np.maximum(second - m**2, 0.0)))
        pooled['fraction'][name] = ((n * fraction).sum(axis=0) / np.maximum(total, 1)).tolist()
    return pooled


def _machine() -> dict:
    import os

    import torch

    from aiida_crystalface import __version__

    return {
        'platform': platform.platform(),
        'processor': platform.processor() or platform.machine(),
        'cores': os.cpu_count(),
        'python': platform.python_version(),
        'torch': torch.__version__,
        'package_version': __version__,
    }


def fig2_structures(settings, species: str = 'Cu', seed: int = 0) -> dict:
    """Fig. 2d-f: a pristine fcc 128-atom supercell, the same with 50 % vacancies and with 0.15 angstrom
    displacements (seeded), and the Fig. 2c prototypes; fingerprints scattered as the dataset builders do."""
    from aiida_crystalface.core import defects
    from aiida_crystalface.core.cluster import replicate
    from aiida_crystalface.core.diffraction import fingerprints
    from aiida_crystalface.core.prototypes import prototype

    as_given = dataclasses.replace(settings, target_atoms=2, orientation='none')
    pristine = replicate(prototype(species, 'fcc'), 128)
    cells = {
        'pristine': pristine,
        'vacancies_50': defects.vacancies(pristine, 0.5, seed),
        'displacements_0.15': defects.displacements(pristine, 0.15, seed),
    }
    images = dict(zip(cells, fingerprints(list(cells.values()), as_given), strict=True))
    return {'images': images, 'n_atoms': {key: len(cell) for key, cell in cells.items()}}
