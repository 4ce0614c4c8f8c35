"""``aiida-crystalface classify``: classify structure files, storing every result with provenance by default."""

from __future__ import annotations

import contextlib
import json
import sys

import click

from .params import options
from .root import cmd_root

__all__ = ('cmd_classify',)


@cmd_root.command('classify')
@click.argument('files', nargs=-1, required=True, type=click.Path(dir_okay=False))
@options.MODEL()
@click.option(
    '--store/--no-store',
    default=True,
    show_default=True,
    help='Store structures, fingerprints and predictions in the AiiDA profile (through ClassifyStructuresWorkChain); '
    '--no-store computes without a profile and writes nothing.',
)
@options.JSON()
@click.pass_context
def cmd_classify(ctx, files, model, store, as_json):
    """Classify the crystal structure of FILES (CIF, POSCAR, extxyz, or any format ASE or pymatgen reads).

    A file holding several frames (an extxyz trajectory) is classified frame by frame, each named FILE@i. Exit status:
    0 when every input was classified, 1 when any was not (every good input is still classified and stored).
    """
    from .classification import classify_records, print_results
    from .inputs import read_inputs

    records = read_inputs(files)
    if store:
        from .profile import ensure_profile

        ensure_profile(ctx)
    if as_json:
        # Standard output carries the JSON document and nothing else: whatever the work writes there on the way (an
        # AiiDA process's report, a progress line) goes to standard error.
        with contextlib.redirect_stdout(sys.stderr):
            results = classify_records(records, model=model, store=store)
        click.echo(json.dumps(results))
    else:
        results = classify_records(records, model=model, store=store)
        print_results(results)
    ctx.exit(0 if all('error' not in result for result in results) else 1)
