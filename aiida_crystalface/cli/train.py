"""``aiida-crystalface train``: train a ConvNet on a dataset file, with provenance (the training CalcJob) by default."""

from __future__ import annotations

from pathlib import Path

import click

from .params import options
from .root import cmd_root

__all__ = ('cmd_train',)


@cmd_root.command('train')
@click.argument('dataset', type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    '-o',
    '--output',
    'output_dir',
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help='Folder to write model.safetensors and metrics.json to.',
)
@click.option('--epochs', type=click.IntRange(min=1), default=2, show_default=True, help='Training epochs.')
@click.option('--batch-size', type=click.IntRange(min=1), default=32, show_default=True, help='Mini-batch size.')
@click.option('--learning-rate', type=click.FloatRange(min=0, min_open=True), default=1e-3, show_default=True)
@click.option(
    '--split',
    type=click.Choice(['random', 'species']),
    default='random',
    show_default=True,
    help="random: the paper's 75/25 split; species: whole species held out for the test.",
)
@click.option(
    '--test-fraction', type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.25, show_default=True
)
@options.SEED()
@click.option(
    '--store/--no-store',
    default=True,
    show_default=True,
    help='Store the dataset and train through TrainClassifierWorkChain (its crystalface.train CalcJob): '
    'dataset, hyper-parameters and model are kept with provenance; --no-store trains directly in this process and '
    'writes only OUTPUT.',
)
@click.pass_context
def cmd_train(ctx, dataset, output_dir, epochs, batch_size, learning_rate, split, test_fraction, seed, store):  # noqa: PLR0917
    """Train a ConvNet classifier on DATASET (a file written by `aiida-crystalface dataset`)."""
    hyper = {
        'epochs': epochs,
        'batch_size': batch_size,
        'learning_rate': learning_rate,
        'split': split,
        'test_fraction': test_fraction,
        'seed': seed,
    }
    if store:
        from .profile import ensure_profile
        from .training import train_stored

        ensure_profile(ctx)
        node, metrics = train_stored(dataset, output_dir, hyper)
        click.echo(f'Stored the model as node {node.pk} ({node.uuid}).', err=True)
    else:
        from aiida_crystalface.ml import train_classifier

        result = train_classifier(dataset, output_dir, progress=True, **hyper)
        metrics = result.metrics
    _print_metrics(metrics, output_dir)


def _print_metrics(metrics: dict, output_dir: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title='Training')
    table.add_column('metric')
    table.add_column('value')
    for key, value in metrics.items():
        if isinstance(value, (int, float, str)):
            table.add_row(key, f'{value:.4f}' if isinstance(value, float) else str(value))
    table.add_row('model file', str(output_dir / 'model.safetensors'))
    Console().print(table)
