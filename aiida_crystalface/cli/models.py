"""``aiida-crystalface models``: the model nodes stored in the profile."""

from __future__ import annotations

import json

import click

from .params import options
from .root import cmd_root

__all__ = ('cmd_models',)


@cmd_root.group('models')
def cmd_models():
    """Inspect the stored ConvNet model nodes."""


@cmd_models.command('list')
@options.JSON()
@options.WIDE()
@click.pass_context
def cmd_models_list(ctx, as_json, wide):
    """List the stored models: classes, settings hash, test accuracy, predictions made.

    The test accuracy is measured on the test split of the model's training, which took no part in training or model
    selection.
    """
    from aiida_crystalface.provenance import models_overview

    from .profile import ensure_profile
    from .utils import console, identifier_column, short_id, table

    ensure_profile(ctx)
    rows = models_overview()
    if as_json:
        click.echo(json.dumps(rows))
        return
    output = table(
        None,
        [
            ('PK', {'justify': 'right', 'no_wrap': True}),
            identifier_column('UUID', wide),
            ('created', {'no_wrap': True}),
            ('classes', {'overflow': 'fold', 'ratio': 1}),
            ('settings', {'no_wrap': True}),
            ('test acc.', {'justify': 'right', 'no_wrap': True}),
            ('predictions', {'justify': 'right', 'no_wrap': True}),
        ],
    )
    for row in rows:
        accuracy = row['test_accuracy']
        output.add_row(
            str(row['pk']),
            short_id(row['uuid'], wide),
            row['created'][:16].replace('T', ' '),
            ', '.join(row['classes']),
            row['settings_hash'][:8] if not wide else row['settings_hash'],
            '-' if accuracy is None else f'{accuracy:.3f}',
            str(row['predictions']),
        )
    console(wide=wide).print(output)
