"""Helpers of the WorkChains: batches that a restarted worker resumes, the bundled model node.

A WorkChain that loops over structures runs one batch per step (a ``while_`` loop), so its context is checkpointed
after each batch. The batch step is idempotent: :func:`run_batch` first looks for what the calcfunctions called
under the batch's call link label already made (``CALL_CALC`` links of the WorkChain's node, see
:func:`batch_label`) and runs the calcfunction only on the items that have no output and no recorded failure yet.
A worker that dies in the middle of a batch therefore costs that batch at most, and no item gets a second output.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from aiida import orm
from aiida.common.links import LinkType
from aiida.manage import get_manager

__all__ = (
    'BatchResult',
    'batch_label',
    'batch_names',
    'batches',
    'bundled_model',
    'called',
    'format_failures',
    'load_nodes',
    'one_transaction',
    'run_batch',
)

FAILURES = 'failures'


def batches(items: Mapping[str, Any], size: int) -> Iterator[dict[str, Any]]:
    """Split a mapping into dicts of at most ``size`` items, in a stable (sorted) order."""
    keys = sorted(items)
    size = max(1, int(size))
    for start in range(0, len(keys), size):
        yield {key: items[key] for key in keys[start : start + size]}


def batch_names(names: Sequence[str], index: int, size: int) -> list[str]:
    """The names of batch ``index`` (0-based) when the sorted ``names`` are cut into batches of ``size``."""
    size = max(1, int(size))
    return list(names[index * size : (index + 1) * size])


def batch_label(step: str, index: int) -> str:
    """The call link label of batch ``index`` of ``step``: how a restarted WorkChain finds what a batch made."""
    return f'{step}_{index:05d}'


@contextlib.contextmanager
def one_transaction() -> Iterator[None]:
    """Store everything created inside in one database transaction (one commit instead of one per node).

    For storing finished nodes in bulk (structures of a large set, say); never around a process, whose node must
    stay in the database when it fails.
    """
    with get_manager().get_profile_storage().transaction():
        yield


def load_nodes(pks: Mapping[str, int]) -> dict[str, orm.Node]:
    """Load the nodes of ``{name: pk}`` in one query; ``{name: node}`` in the same order."""
    if not pks:
        return {}
    query = orm.QueryBuilder().append(orm.Node, filters={'id': {'in': list(set(pks.values()))}}, project=['id', '*'])
    by_pk = dict(query.all())
    return {name: by_pk[pk] for name, pk in pks.items()}


@dataclasses.dataclass
class BatchResult:
    """What a batch made, over every calcfunction called under its label (an earlier, interrupted one included).

    :param outputs: output node by item name.
    :param failures: failure message by item name.
    :param failure_nodes: the ``failures`` Dict outputs of the batch's calcfunctions.
    :param reused: how many outputs were found from an earlier call (a restarted worker) rather than made now.
    :param excepted: the calcfunction that raised, if one did (the exception message in ``message``).
    """

    outputs: dict[str, orm.Data]
    failures: dict[str, str]
    failure_nodes: list[orm.Dict]
    reused: int = 0
    excepted: orm.ProcessNode | None = None
    message: str = ''


def called(workchain: orm.ProcessNode, label: str) -> list[orm.CalcFunctionNode]:
    """The calcfunctions ``workchain`` called under the call link label ``label``, oldest first."""
    builder = orm.QueryBuilder()
    builder.append(orm.WorkflowNode, filters={'id': workchain.pk}, tag='workchain')
    builder.append(
        orm.CalcFunctionNode,
        with_incoming='workchain',
        edge_filters={'type': LinkType.CALL_CALC.value, 'label': label},
        project='*',
    )
    return sorted(builder.all(flat=True), key=lambda node: node.pk)


def _made(calls: list[orm.CalcFunctionNode]) -> tuple[dict[str, orm.Data], dict[str, str], list[orm.Dict]]:
    """Outputs by name, failures by name and the ``failures`` nodes of ``calls`` (one query for the outputs)."""
    if not calls:
        return {}, {}, []
    builder = orm.QueryBuilder()
    builder.append(orm.CalcFunctionNode, filters={'id': {'in': [c.pk for c in calls]}}, tag='calc')
    builder.append(
        orm.Data,
        with_incoming='calc',
        edge_filters={'type': LinkType.CREATE.value},
        edge_project='label',
        edge_tag='link',
        project='*',
        tag='node',
    )
    outputs: dict[str, orm.Data] = {}
    failure_nodes: list[orm.Dict] = []
    for row in builder.iterdict():
        label, node = row['link']['label'], row['node']['*']
        if label == FAILURES:
            failure_nodes.append(node)
        else:
            outputs[label] = node
    failures: dict[str, str] = {}
    for node in sorted(failure_nodes, key=lambda n: n.pk):
        failures.update({key: str(message) for key, message in node.get_dict().items() if key not in outputs})
    return outputs, failures, failure_nodes


def run_batch(
    process: Any, function: Any, label: str, items: Mapping[str, orm.Data | int], **fixed: orm.Data
) -> BatchResult:
    """Run one batch of a batched calcfunction from a WorkChain step, idempotently.

    :param process: the running WorkChain (the calcfunction's caller).
    :param function: the batched calcfunction.
    :param label: the batch's call link label (:func:`batch_label`): the same on every try of the batch.
    :param items: the batch's items by name: nodes, or pks (loaded in one query).
    :param fixed: the inputs every item shares (settings, model, seed...).

    What earlier calls under ``label`` made (a worker stopped in the middle of the batch) is kept: the calcfunction
    runs only on the items with neither an output nor a recorded failure. A calcfunction that raises stays in the
    graph as an EXCEPTED node with its traceback; it is returned as ``excepted`` and the exception is not re-raised.
    """
    calls = called(process.node, label)
    outputs, failures, failure_nodes = _made(calls)
    reused = len(outputs)
    todo = {name: item for name, item in items.items() if name not in outputs and name not in failures}
    if calls and todo:
        process.report(
            f'{label}: {len(outputs)} output(s) of earlier calls {[c.pk for c in calls]} kept; '
            f'running the {len(todo)} item(s) left'
        )
    if not todo:
        return BatchResult(outputs, failures, failure_nodes, reused)
    pks = {name: item for name, item in todo.items() if isinstance(item, int)}
    inputs = {**todo, **load_nodes(pks)}
    try:
        result, node = function.run_get_node(**fixed, **inputs, metadata={'call_link_label': label})
    except Exception as exception:
        excepted = [c for c in called(process.node, label) if c.is_excepted]
        message = f'{type(exception).__name__}: {exception}'
        return BatchResult(outputs, failures, failure_nodes, reused, excepted[-1] if excepted else None, message)
    result = dict(result)
    failure_node = result.pop(FAILURES, None)
    if failure_node is not None:
        failure_nodes.append(failure_node)
        failures.update({key: str(message) for key, message in failure_node.get_dict().items()})
    elif not node.is_finished_ok:
        failures.update({key: node.exit_message or f'exit status {node.exit_status}' for key in inputs})
    outputs.update(result)
    return BatchResult(outputs, failures, failure_nodes, reused)


def bundled_model(name: str | None = None, *, per_atom: bool = False) -> orm.Data:
    """Return the node of the model bundled with the package, stored once (by checksum) and reused afterwards:
    ``name``, or the default model (the per-atom default with ``per_atom``)."""
    from importlib.resources import as_file, files

    from aiida_crystalface.data.model import ConvNetModelData

    name = name or _default_pretrained_name(per_atom)
    resource = files('aiida_crystalface.ml').joinpath('pretrained', name, 'model.safetensors')
    if not resource.is_file():
        raise FileNotFoundError(f'no bundled model named {name!r} in aiida_crystalface/ml/pretrained/')
    with as_file(resource) as path:
        return ConvNetModelData.get_or_create(path)


def _default_pretrained_name(per_atom: bool = False) -> str:
    from aiida_crystalface.ml.classifier import PER_ATOM_DEFAULT, PRETRAINED_DEFAULT  # the module imports torch lazily

    return PER_ATOM_DEFAULT if per_atom else PRETRAINED_DEFAULT


def format_failures(failures: Mapping[str, str], limit: int = 20) -> str:
    """One line naming every failed input (the first ``limit`` in full)."""
    items = [f'{key}: {message}' for key, message in sorted(failures.items())]
    extra = f'; ... and {len(items) - limit} more (all in the report)' if len(items) > limit else ''
    return '; '.join(items[:limit]) + extra
