"""Train on a dataset file with provenance: the dataset becomes a node and ``TrainClassifierWorkChain`` runs the
``crystalface.train`` CalcJob on it on this machine (given a dataset, the WorkChain skips building its own)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

__all__ = ('train_stored',)


def train_stored(dataset: Path, output_dir: Path, hyper: dict[str, Any]):
    """Store ``dataset``, run the training CalcJob, write the model and metrics to ``output_dir``.

    Returns the model node and the metrics (a dict).
    """
    from aiida import orm
    from aiida.engine import run_get_node
    from aiida.manage import get_manager

    from aiida_crystalface.calculations.train import get_local_code
    from aiida_crystalface.data.dataset import FingerprintDatasetData
    from aiida_crystalface.workflows.train import TrainClassifierWorkChain

    profile = get_manager().get_profile()
    config_dir = Path(get_manager().get_config().dirpath)
    code = get_local_code(workdir=config_dir / 'scratch' / profile.name / 'crystalface')
    dataset_node = FingerprintDatasetData(file=Path(dataset).resolve()).store()
    click.echo(
        f'Training on dataset node {dataset_node.pk} with TrainClassifierWorkChain (the crystalface.train CalcJob '
        f'on {code.full_label}).',
        err=True,
    )
    outputs, node = run_get_node(
        TrainClassifierWorkChain,
        dataset=dataset_node,
        training={'parameters': orm.Dict(hyper), 'code': code},
    )
    if not node.is_finished_ok:
        raise click.ClickException(
            f'the training job {node.process_label}<{node.pk}> failed: exit status {node.exit_status}: '
            f'{node.exit_message} (see `verdi process report {node.pk}`)'
        )
    output_dir.mkdir(parents=True, exist_ok=True)
    model = outputs['model']
    with model.open(mode='rb') as handle:
        (output_dir / 'model.safetensors').write_bytes(handle.read())
    metrics = outputs['metrics'].get_dict()
    (output_dir / 'metrics.json').write_text(json.dumps(metrics, indent=2))
    return model, metrics
