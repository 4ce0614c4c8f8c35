"""``verdi data crystalface``: list and export the fingerprint and model nodes of a profile.

Registered under the ``aiida.cmdline.data`` entry point, so ``verdi`` loads the profile before these commands run.
"""

from __future__ import annotations

from pathlib import Path

import click
from aiida.cmdline.commands.cmd_data import verdi_data
from aiida.cmdline.params import arguments
from aiida.cmdline.utils import decorators, echo

from .params import options

__all__ = ('data_crystalface',)

KINDS = {'fingerprint': 'crystalface.fingerprint', 'model': 'crystalface.model'}


@verdi_data.group('crystalface')
def data_crystalface():
    """Inspect and export aiida-crystalface fingerprint and model nodes."""


@data_crystalface.command('list')
@click.option('-k', '--kind', type=click.Choice(sorted(KINDS)), default=None, help='Only nodes of this kind.')
@click.option(
    '-n', '--limit', type=click.IntRange(min=1), default=50, show_default=True, help='At most this many rows.'
)
@options.WIDE()
@decorators.with_dbenv()
def data_crystalface_list(kind, limit, wide):
    """List fingerprint and model nodes, newest first."""
    from aiida import orm
    from aiida.plugins import DataFactory

    from .utils import console, identifier_column, short_id, table

    output = table(
        'aiida-crystalface nodes',
        [
            ('PK', {'justify': 'right', 'no_wrap': True}),
            identifier_column('UUID', wide),
            ('kind', {'no_wrap': True}),
            ('created', {'no_wrap': True}),
            ('details', {'overflow': 'fold', 'ratio': 1}),
        ],
    )
    for name in [kind] if kind else sorted(KINDS):
        query = orm.QueryBuilder().append(DataFactory(KINDS[name]), project=['*'])
        query.order_by({DataFactory(KINDS[name]): {'ctime': 'desc'}}).limit(limit)
        for (node,) in query.iterall():
            created = node.ctime.strftime('%Y-%m-%d %H:%M')
            output.add_row(str(node.pk), short_id(node.uuid, wide), name, created, _details(node))
    console(wide=wide).print(output)


def _details(node) -> str:
    """One line of the attributes a user looks for first (classes and settings hash, or the image shape)."""
    attributes = node.base.attributes.all
    parts = []
    for key in ('classes', 'settings_hash', 'package_version', 'image_shape'):
        if key in attributes:
            parts.append(f'{key}={attributes[key]}')
    return ', '.join(parts)


@data_crystalface.command('export')
@arguments.NODE()
@click.option('-o', '--output', type=click.Path(dir_okay=False, path_type=Path), required=True, help='File to write.')
@decorators.with_dbenv()
def data_crystalface_export(node, output):
    """Export NODE: a model to its .safetensors file; a fingerprint to .npy, or to PNG for any other suffix."""
    from aiida.plugins import DataFactory

    output.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(node, DataFactory(KINDS['model'])):
        with node.open(mode='rb') as source:
            output.write_bytes(source.read())
    elif isinstance(node, DataFactory(KINDS['fingerprint'])):
        image = node.image
        if output.suffix.lower() == '.npy':
            import numpy as np

            np.save(output, image)
        else:
            from aiida_crystalface.core.render import save_fingerprint_png

            save_fingerprint_png(image, output, title=f'fingerprint {node.pk}', settings=node.settings)
    else:
        echo.echo_critical(f'node {node.pk} is a {type(node).__name__}, neither a fingerprint nor a model node')
    echo.echo_success(f'exported node {node.pk} to {output}')
