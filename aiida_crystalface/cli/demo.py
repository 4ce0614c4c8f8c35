"""``aiida-crystalface demo``: classify a small pristine + defective set with provenance, and show the results."""

from __future__ import annotations

import time
from pathlib import Path

import click

from .params import options
from .root import cmd_root

__all__ = ('cmd_demo',)

GROUP_LABEL = 'crystalface/demo'


@cmd_root.command('demo')
@click.option(
    '-o',
    '--output',
    'output_dir',
    type=click.Path(file_okay=False, path_type=Path),
    default=Path('crystalface-demo'),
    show_default=True,
    help='Folder for the PNG figures.',
)
@options.MODEL()
@options.SEED()
@click.pass_context
def cmd_demo(ctx, output_dir, model, seed):
    """Build a small set of pristine and defective crystals, classify it through ClassifyStructuresWorkChain, store
    everything, and print the accuracy per defect kind.

    Writes PNG figures (one fingerprint per class, the confusion matrix) to OUTPUT and prints the QueryBuilder line
    that finds the results again. Takes a minute or two on a laptop.
    """
    from rich.console import Console

    from .demo_report import accuracy_table, save_figures
    from .demo_set import demo_structures
    from .profile import ensure_profile
    from .workflow_runner import classify_structures

    console = Console(stderr=True)
    start = time.perf_counter()
    profile = ensure_profile(ctx)
    with console.status('Building the pristine and defective structures'):
        items = demo_structures(seed)
    console.print(f'Built {len(items)} structures (seed {seed}) in {time.perf_counter() - start:.1f} s.')
    with console.status(f'Classifying {len(items)} structures through ClassifyStructuresWorkChain'):
        run = classify_structures([item[0] for item in items], model=model, group_label=GROUP_LABEL)
    console.print(
        f'ClassifyStructuresWorkChain<{run.workchain.pk}> finished: {run.workchain.process_state.value}, '
        f'exit status {run.workchain.exit_status}.'
    )
    Console().print(accuracy_table(items, run.results))
    figures = save_figures(items, run.results, run.classes, output_dir)
    click.echo(f'Figures: {", ".join(str(path) for path in figures)}')
    click.echo(
        f'Everything is stored in the AiiDA profile `{profile.name}` (structures in the group `{GROUP_LABEL}`). '
        'Find the results again in `verdi shell`:'
    )
    click.echo(
        "  QueryBuilder().append(DataFactory('crystalface.classification'), "
        "filters={'attributes.predicted_class': 'bcc', "
        "'attributes.max_probability': {'>=': 0.9}}, project=['uuid', 'attributes.max_probability']).all()"
    )
    click.echo(
        'or, with the structure behind each prediction: aiida-crystalface query --label bcc --min-probability 0.9'
    )
    click.echo(f'Done in {time.perf_counter() - start:.1f} s.')
