"""``aiida-crystalface query``: stored structures with their predictions, filtered by label and probability."""

from __future__ import annotations

import click

from .root import cmd_root

__all__ = ('cmd_query',)


@cmd_root.command('query')
@click.option('-l', '--label', type=click.STRING, default=None, help='Only predictions of this class (e.g. bcc).')
@click.option(
    '-p',
    '--min-probability',
    type=click.FloatRange(0, 1),
    default=0.0,
    show_default=True,
    help='Only predictions at least this probable.',
)
@click.option('-m', '--model', type=click.STRING, default=None, help='Only predictions of this model node (UUID / PK).')
@click.option(
    '-n', '--limit', type=click.IntRange(min=1), default=100, show_default=True, help='At most this many rows.'
)
@click.pass_context
def cmd_query(ctx, label, min_probability, model, limit):
    """Print a table of the stored structures with their predictions (newest first)."""
    from rich.console import Console
    from rich.table import Table

    from .profile import ensure_profile
    from .querying import query_predictions

    ensure_profile(ctx)
    rows = query_predictions(label=label, min_probability=min_probability, model=model, limit=limit)
    table = Table(title='Predictions')
    for column in ('structure', 'formula', 'label', 'probability', 'model', 'prediction'):
        table.add_column(column)
    for row in rows:
        table.add_row(
            f'{row["structure_pk"]}',
            row['formula'],
            row['label'],
            f'{row["probability"]:.3f}',
            f'{row["model_pk"]}',
            row['prediction_uuid'],
        )
    Console().print(table)
    click.echo(f'{len(rows)} prediction(s){" (limit reached)" if len(rows) == limit else ""}.', err=True)
