"""Linear-time input and output links for the batched calcfunctions.

aiida-core validates every link of a process on its own: for each of a batch's N inputs it runs a graph-cycle query
and scans the incoming-link cache of the new process node (a regex match and a uuid load per cached link), so linking
N inputs costs N queries and O(N^2) Python work; each of the N outputs costs a query for the labels already used.
For the links a batched calcfunction makes, every one of those checks is decided by construction:

- inputs: the target is a process node that is not stored yet and has no link but the ``CALL_CALC`` from its caller,
  so it has no descendants (no cycle is possible) and no link with the same type and label (the labels are the keys
  of the flat inputs, distinct by construction);
- outputs: the source is this process node, the target a new node with no incoming link, and the labels are distinct
  keys of the flat outputs that this node does not use yet (read once per call, as aiida-core does); the links of
  the new outputs are inserted together, after the outputs are stored, in the same transaction.

The functions below keep the checks that can fail (node and link types, link labels, one backend) and add the links
in one pass; whenever a precondition does not hold they fall back to aiida-core's own path. They are installed on the
process class that ``@calcfunction`` builds for one of our functions only: aiida-core itself is not changed.
"""

from __future__ import annotations

import contextlib
from typing import Any

from aiida import orm
from aiida.common.links import LinkType, validate_link_label
from aiida.engine.processes.functions import FunctionProcess
from aiida.orm.entities import EntityTypes
from aiida.orm.utils.links import LinkTriple

__all__ = ('linear_links',)


def linear_links(function: Any) -> Any:
    """Give the process class of a calcfunction linear-time input and output linking (see the module docstring).

    Use as the outer decorator: ``@linear_links`` above ``@calcfunction``.
    """
    process_class = function.process_class
    if not issubclass(process_class, FunctionProcess) or process_class.__name__ != function.__name__:
        raise TypeError(f'linear_links: {function!r} is not a process function')
    process_class._setup_inputs = _setup_inputs
    process_class.update_outputs = _update_outputs
    return function


def _check(source: orm.Node, target: orm.Node, source_type: type, target_type: type, label: str) -> None:
    """The checks of ``aiida.orm.utils.links.validate_link`` that a new link of a batch can fail."""
    if not isinstance(source, source_type) or not isinstance(target, target_type):
        raise ValueError(f'cannot link {type(source).__name__} to {type(target).__name__} under the label {label!r}')
    if source.backend is not target.backend:
        raise ValueError(f'{label}: the nodes of a link must be in the same storage backend')
    try:
        validate_link_label(label)
    except ValueError as exception:
        raise ValueError(f'invalid link label `{label}`: {exception}') from exception


def _setup_inputs(self: FunctionProcess) -> None:
    """Link the inputs to the new process node in one pass (``Process._setup_inputs`` in linear time)."""
    node = self.node
    cache = node.base.links.incoming_cache
    if node.is_stored or node.is_sealed or any(t.link_type is not LinkType.CALL_CALC for t in cache):
        FunctionProcess._setup_inputs(self)
        return
    triples = []
    for name, source in self._flat_inputs().items():
        if source is None:  # a port that accepts None
            continue
        _check(source, node, orm.Data, orm.CalculationNode, name)
        triples.append(LinkTriple(source, LinkType.INPUT_CALC, name))
    cache.extend(triples)


def _update_outputs(self: FunctionProcess) -> None:
    """Store the new outputs and link them (``Process.update_outputs`` with one query per call instead of per output).

    A new output is stored without its link and the ``CREATE`` links of all of them are inserted together at the end,
    with the storage's public ``bulk_insert``, all in one transaction: aiida-core stores each link on its own inside
    a savepoint (three statements per output), which cost as much as storing the node.
    """
    if self.metadata.store_provenance is False:
        return
    outputs = self._flat_outputs()
    if not outputs:
        return
    node = self.node
    storage = node.backend
    stored = set(node.base.links.get_outgoing(link_type=(LinkType.CREATE, LinkType.RETURN)).all_link_labels())
    with contextlib.nullcontext() if storage.in_transaction else storage.transaction():
        links = []
        for label, output in outputs.items():
            if label in stored:
                continue
            if output.is_stored or output.base.links.incoming_cache:
                output.base.links.add_incoming(node, LinkType.CREATE, label)  # aiida-core's checks decide
                output.store()
                continue
            _check(node, output, orm.CalculationNode, orm.Data, label)
            output.store()
            links.append({'input_id': node.pk, 'output_id': output.pk, 'label': label, 'type': LinkType.CREATE.value})
        if links:
            storage.bulk_insert(EntityTypes.LINK, links)
