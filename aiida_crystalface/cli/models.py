"""``aiida-crystalface models``: the model nodes stored in the profile."""

from __future__ import annotations

import click

from .root import cmd_root

__all__ = ('cmd_models',)


@cmd_root.group('models')
def cmd_models():
    """Inspect the ConvNet model nodes stored in the profile."""


@cmd_models.command('list')
@click.pass_context
def cmd_models_list(ctx):
    """List the stored models: classes, fingerprint settings hash, test accuracy and how many predictions each made."""
    from aiida import orm
    from rich.console import Console
    from rich.table import Table

    from aiida_crystalface.data.classification import ClassificationData
    from aiida_crystalface.data.model import ConvNetModelData

    from .profile import ensure_profile

    ensure_profile(ctx)
    table = Table(title='Stored models')
    for column in ('PK', 'UUID', 'created', 'classes', 'settings hash', 'test accuracy', 'predictions'):
        table.add_column(column)
    query = orm.QueryBuilder().append(ConvNetModelData, project=['*']).order_by({ConvNetModelData: {'ctime': 'desc'}})
    for (node,) in query.iterall():
        count = (
            orm.QueryBuilder()
            .append(ConvNetModelData, filters={'id': node.pk}, tag='model')
            .append(orm.CalcFunctionNode, with_incoming='model', tag='predict')
            .append(ClassificationData, with_incoming='predict')
            .count()
        )
        accuracy = (node.metrics or {}).get('test_accuracy', (node.metrics or {}).get('test', {}).get('accuracy'))
        table.add_row(
            str(node.pk),
            node.uuid,
            node.ctime.strftime('%Y-%m-%d %H:%M'),
            ', '.join(node.classes),
            node.settings_hash,
            '-' if accuracy is None else f'{accuracy:.3f}',
            str(count),
        )
    Console().print(table)
