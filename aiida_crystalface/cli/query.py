"""``aiida-crystalface query``: stored predictions with their structures, filtered by label, probability and model."""

from __future__ import annotations

import json
import os

import click

from .params import options
from .root import cmd_root

__all__ = ('cmd_query',)


@cmd_root.command('query')
@click.option('-l', '--label', type=click.STRING, default=None, help='Only predictions of this class (e.g. bcc).')
@click.option(
    '--min-probability',
    type=click.FloatRange(0, 1),
    default=0.0,
    show_default=True,
    help='Only predictions at least this probable.',
)
@options.MODEL(help='Only predictions of this model node (UUID, a prefix of it, or PK).', metavar='UUID_OR_PK')
@options.LIMIT()
@options.JSON()
@options.WIDE()
@click.pass_context
def cmd_query(ctx, label, min_probability, model, limit, as_json, wide):  # noqa: PLR0917
    """Show stored predictions with their structures.

    Newest first, filtered by label, probability and model.

    The table shows each structure's PK and name (the file it was read from) and the first 8 characters of the
    prediction's UUID (enough for `verdi node show`); --json gives every UUID in full.
    """
    from aiida_crystalface.provenance import query_predictions

    from .profile import ensure_profile
    from .utils import console, format_label, identifier_column, short_id, table

    ensure_profile(ctx)
    rows = query_predictions(label=label, min_probability=min_probability, model=model, limit=limit)
    if as_json:
        click.echo(json.dumps(rows))
    else:
        with_uncertainty = any(row['uncertainty'] is not None for row in rows)
        columns = [
            ('PK', {'justify': 'right', 'no_wrap': True}),
            ('structure', {'overflow': 'fold', 'ratio': 1}),
            ('formula', {'no_wrap': True}),
            ('label', {'no_wrap': True}),
            ('p', {'justify': 'right', 'no_wrap': True}),
        ]
        if with_uncertainty:
            columns.append(('unc.', {'justify': 'right', 'no_wrap': True}))
        columns += [('model', {'justify': 'right', 'no_wrap': True}), identifier_column('prediction', wide)]
        output = table(None, columns)
        for row in rows:
            cells = [
                str(row['structure_pk']),
                # the file's name: the whole path is in --json (a folded path would be hard to read)
                os.path.basename(row['structure_label']) if row['structure_label'] else '-',
                row['formula'],
                format_label(row['label']),
                f'{row["probability"]:.3f}',
            ]
            if with_uncertainty:
                cells.append('-' if row['uncertainty'] is None else f'{row["uncertainty"]:.3f}')
            cells += [str(row['model_pk']), short_id(row['prediction_uuid'], wide)]
            output.add_row(*cells)
        console(wide=wide).print(output)
    click.echo(f'{len(rows)} prediction(s){" (limit reached: raise --limit)" if len(rows) == limit else ""}.', err=True)
