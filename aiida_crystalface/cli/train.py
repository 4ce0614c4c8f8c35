"""``aiida-crystalface train``: train a ConvNet on a dataset file, with provenance (the training CalcJob) by default."""

from __future__ import annotations

import threading
import time
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
    '--test-fraction',
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    default=0.25,
    show_default=True,
    help='Fraction held out as the test set, used only for the final metrics.',
)
@click.option(
    '--val-fraction',
    type=click.FloatRange(0, 1, max_open=True),
    default=0.1,
    show_default=True,
    help='Fraction of the training items held out for validation (val_loss / val_acc per epoch); 0: none, as in the '
    "paper's protocol.",
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
def cmd_train(  # noqa: PLR0917
    ctx, dataset, output_dir, epochs, batch_size, learning_rate, split, test_fraction, val_fraction, seed, store
):
    """Train a ConvNet classifier on a dataset file.

    DATASET is a file written by `aiida-crystalface dataset`. Three disjoint splits: training, validation (monitored
    per epoch) and test (measured once, at the end: the metrics reported).
    """
    hyper = {
        'epochs': epochs,
        'batch_size': batch_size,
        'learning_rate': learning_rate,
        'split': split,
        'test_fraction': test_fraction,
        'val_fraction': val_fraction,
        'seed': seed,
    }
    start = time.perf_counter()
    if store:
        from aiida_crystalface.workflows.launch import train_on_dataset_file, training_workdir

        from .profile import ensure_profile
        from .utils import quiet_process_reports

        profile = ensure_profile(ctx)
        from aiida.manage import get_manager

        workdir = training_workdir(Path(get_manager().get_config().dirpath), profile.name)
        click.echo(
            'Training through TrainClassifierWorkChain (the crystalface.train CalcJob on this machine).', err=True
        )
        with _EpochWatcher(workdir, epochs), quiet_process_reports():
            try:
                node, model, metrics = train_on_dataset_file(dataset, output_dir, hyper)
            except RuntimeError as exception:
                raise click.ClickException(str(exception)) from None
        click.echo(f'{node.process_label}<{node.pk}> finished; the model is node {model.pk} ({model.uuid}).', err=True)
    else:
        from aiida_crystalface.ml import train_classifier

        result = train_classifier(dataset, output_dir, progress=True, **hyper)
        metrics = result.metrics
    _print_metrics(metrics, output_dir, time.perf_counter() - start)


class _EpochWatcher:
    """A progress bar of the epochs done by the training CalcJob, read from the ``metrics.csv`` that Lightning writes
    in the job's folder (under ``workdir``) after each epoch; the elapsed time runs while the job does."""

    def __init__(self, workdir: Path, epochs: int):
        self.workdir, self.epochs = Path(workdir), epochs
        self.stop = threading.Event()
        self.started = time.time()

    def __enter__(self):
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        from .utils import console

        self.progress = Progress(
            TextColumn('{task.description}'),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn('epochs'),
            TimeElapsedColumn(),
            console=console(stderr=True),
            transient=True,
        )
        self.task = self.progress.add_task('Training', total=self.epochs)
        self.thread = None
        if self.progress.console.is_terminal:  # no bar in a log file or a pipe: the summary line says what was done
            self.progress.start()
            self.thread = threading.Thread(target=self._watch, daemon=True)
            self.thread.start()
        return self

    def _epochs_done(self) -> int:
        newest = [p for p in self.workdir.glob('*/*/*/model/metrics.csv') if p.stat().st_mtime >= self.started]
        if not newest:
            return 0
        lines = max(newest, key=lambda p: p.stat().st_mtime).read_text().splitlines()
        if not lines:
            return 0
        header = lines[0].split(',')
        column = header.index('train_loss') if 'train_loss' in header else None
        if column is None:
            return 0
        return sum(1 for line in lines[1:] if len(line.split(',')) > column and line.split(',')[column])

    def _watch(self) -> None:
        while not self.stop.wait(2.0):
            try:
                self.progress.update(self.task, completed=min(self._epochs_done(), self.epochs))
            except OSError:
                continue

    def __exit__(self, *exc) -> None:
        if self.thread is not None:
            self.stop.set()
            self.thread.join()
            self.progress.stop()


def _print_metrics(metrics: dict, output_dir: Path, seconds: float) -> None:
    from .utils import console, plain, table

    metrics = plain(metrics)
    output = table('Training', [('metric', {}), ('value', {'justify': 'right'})])
    for key in ('train_accuracy', 'val_accuracy', 'test_accuracy'):
        if isinstance(metrics.get(key), (int, float)):
            output.add_row(key.replace('_', ' '), f'{metrics[key]:.4f}')
    console().print(output)
    test = metrics.get('test_accuracy')
    summary = f'test accuracy {test:.4f}, ' if isinstance(test, (int, float)) else ''
    click.echo(f'Done in {seconds:.0f} s: {summary}model in {output_dir / "model.safetensors"}.', err=True)
