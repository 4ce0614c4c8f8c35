"""Helpers of the WorkChains: batching, one storage transaction per batch, the bundled model node."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator, Mapping
from typing import Any

from aiida import orm
from aiida.manage import get_manager

__all__ = (
    'BatchResult',
    'batches',
    'bundled_model',
    'format_failures',
    'load_nodes',
    'one_transaction',
    'run_batch',
    'run_batched',
)


def batches(items: Mapping[str, Any], size: int) -> Iterator[dict[str, Any]]:
    """Split a mapping into dicts of at most ``size`` items, in a stable (sorted) order."""
    keys = sorted(items)
    for start in range(0, len(keys), max(1, int(size))):
        yield {key: items[key] for key in keys[start : start + size]}


@contextlib.contextmanager
def one_transaction() -> Iterator[None]:
    """Store everything created inside in one database transaction (one commit instead of one per node).

    A batched calcfunction stores hundreds of nodes and links; on SQLite each separate commit costs an fsync.
    """
    with get_manager().get_profile_storage().transaction():
        yield


def load_nodes(pks: Mapping[str, int]) -> dict[str, orm.Node]:
    """Load the nodes of ``{name: pk}`` in one query; ``{name: node}`` in the same order.

    Node objects of these rows that are already in memory are the same database rows, brought up to date by the query.
    Call it inside :func:`one_transaction`: a query run outside any transaction commits when it ends (aiida-core's
    ``QueryBuilder`` opens a transaction of its own), and a commit expires every row the session holds, so each node
    would be read again, one query per node, at its next use.
    """
    if not pks:
        return {}
    query = orm.QueryBuilder().append(orm.Node, filters={'id': {'in': list(pks.values())}}, project=['id', '*'])
    by_pk = dict(query.all())
    return {name: by_pk[pk] for name, pk in pks.items()}


@dataclasses.dataclass
class BatchResult:
    """What one batched calcfunction made: outputs by item name (and their pks), failures, the ``failures`` node."""

    outputs: dict[str, orm.Data]
    pks: dict[str, int]
    failures: dict[str, str]
    failure_node: orm.Dict | None


def run_batch(
    function: Any, items: Mapping[str, orm.Data | int], refresh: Mapping[str, int] | None = None, **fixed: orm.Data
) -> BatchResult:
    """Run a batched calcfunction on ``items`` in one storage transaction.

    :param items: the inputs by name: nodes, or pks (loaded in one query inside the transaction).
    :param refresh: pks of node ``items`` that an earlier commit expired; their rows are read back in one query
        (otherwise each is read on its own when the calcfunction first touches it).

    Everything read from the new nodes (pks, the failures, the exit status) is read before the commit: afterwards
    every row is expired, and each node would be read again from the database, one query per node, at its next use.
    """
    with one_transaction():
        pks = {key: item for key, item in items.items() if isinstance(item, int)}
        load_nodes(dict(refresh or {}))
        batch = {**items, **load_nodes(pks)}
        result, node = function.run_get_node(**fixed, **batch)
        failure_node = result.pop('failures', None)
        if failure_node is not None:
            failures = dict(failure_node.get_dict())
        elif not node.is_finished_ok:
            failures = {key: node.exit_message or f'exit status {node.exit_status}' for key in batch}
        else:
            failures = {}
        output_pks = {key: output.pk for key, output in result.items()}
    return BatchResult(dict(result), output_pks, failures, failure_node)


def run_batched(
    function: Any, items: Mapping[str, orm.Data | int], size: int, **fixed: orm.Data
) -> tuple[dict, dict, list]:
    """Run a batched calcfunction over ``items`` (nodes, or pks loaded one batch at a time) in batches.

    :returns: outputs by item name, failure messages by item name, and the ``failures`` Dict nodes of the batches.
    """
    outputs: dict[str, orm.Data] = {}
    failures: dict[str, str] = {}
    failure_nodes: list[orm.Dict] = []
    for names in batches(items, size):
        batch = run_batch(function, names, **fixed)
        outputs.update(batch.outputs)
        failures.update(batch.failures)
        if batch.failure_node is not None:
            failure_nodes.append(batch.failure_node)
    return outputs, failures, failure_nodes


def bundled_model(name: str | None = None) -> orm.Data:
    """Return the node of the model bundled with the package, stored once (by checksum) and reused afterwards."""
    from importlib.resources import as_file, files

    from aiida_crystalface.data.model import ConvNetModelData

    name = name or _default_pretrained_name()
    resource = files('aiida_crystalface.ml').joinpath('pretrained', name, 'model.safetensors')
    if not resource.is_file():
        raise FileNotFoundError(f'no bundled model named {name!r} in aiida_crystalface/ml/pretrained/')
    with as_file(resource) as path:
        return ConvNetModelData.get_or_create(path)


def _default_pretrained_name() -> str:
    from aiida_crystalface.ml.classifier import PRETRAINED_DEFAULT  # the module imports torch lazily

    return PRETRAINED_DEFAULT


def format_failures(failures: Mapping[str, str], limit: int = 20) -> str:
    """One line naming every failed input (the first ``limit`` in full)."""
    items = [f'{key}: {message}' for key, message in sorted(failures.items())]
    extra = f'; ... and {len(items) - limit} more (all in the report)' if len(items) > limit else ''
    return '; '.join(items[:limit]) + extra
