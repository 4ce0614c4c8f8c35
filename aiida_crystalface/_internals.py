"""Every use of aiida-core internals in aiida-crystalface, in one module: linear-time links for batched calcfunctions.

Why it exists. A batched calcfunction of this package has one input and one output per structure (hundreds per
call). aiida-core validates and stores each link on its own:

- each input (``Process._setup_inputs`` -> ``NodeLinks.add_incoming``): a graph-cycle query, and a scan of every link
  added so far to the new process node (a regex match per cached link), so N inputs cost N queries and O(N^2) work;
- each output (``Process.update_outputs``): a query for the labels the process node already uses, a cycle query, and
  its own commit (one fsync on SQLite) for the node and its link.

Every one of those checks is decided by construction for the links a batch makes: the process node is new (not
stored, no link but the ``CALL_CALC`` from its caller), so no input can close a cycle and no link can repeat; the
labels are the keys of the flat inputs and outputs, distinct by construction; an output is a new node with no link.
This module keeps the checks that can fail (node and link types, labels, one storage backend), adds the input links
in one pass, and stores a batch's new outputs together inside one storage transaction with their ``CREATE`` links
written by one ``bulk_insert``. Anything outside those preconditions goes through aiida-core's own code.

What it uses of aiida-core beyond its documented API (the only place in the package that does):

- ``Process._setup_inputs`` and ``Process.update_outputs``, replaced on the process class that ``@calcfunction``
  builds for one of the package's functions (never on aiida-core's classes);
- ``StorageBackend.bulk_insert`` for the link rows (public on the storage backend, not a front-end API: #1875, #3382);
- ``NodeLinks.incoming_cache`` and ``LinkTriple``, to add the input links to the new node as aiida-core does;
- ``Node._CLS_NODE_CACHING``, the documented hook through which a Data class chooses how it is hashed
  (:func:`set_caching_class`; aiida-pseudo uses it the same way). Not under the switch: it defines what is stored.

Guards:

- a version check: active only on the aiida-core versions CI tests (:data:`TESTED`), and only while aiida-core's
  ``FunctionProcess`` still uses the base ``Process`` methods replaced here; otherwise aiida-core's code runs;
- a switch: the environment variable ``AIIDA_CRYSTALFACE_INTERNALS=0`` (read at every call), or
  :func:`set_enabled` / the :func:`enabled` context manager. Off, every call is aiida-core's own code; the graph is
  the same either way (tests/aiida/test_internals.py compares the two).

The upstream change that would remove this module: a batch link API in aiida-core's engine, i.e. ``_setup_inputs``
validating all links of a new process node in one pass (no cycle query for an unstored target, uniqueness against a
set rather than a scan of the cache) and ``update_outputs`` storing the new outputs of a process and their links in
one transaction with one bulk insert of the links (the front-end bulk storage asked for in aiida-core #1875 and
#3382). With both, the decorator below can be dropped and the calcfunctions are plain ``@calcfunction``. A public
name for the caching hook (e.g. a ``Node.caching_class`` class attribute or registration function) would remove
:func:`set_caching_class`.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from typing import Any

from aiida import __version__ as aiida_version
from aiida import orm
from aiida.common.links import LinkType, validate_link_label
from aiida.engine.processes.functions import FunctionProcess
from aiida.engine.processes.process import Process

__all__ = (
    'ENV_VAR',
    'REPLACED_METHODS',
    'TESTED',
    'active',
    'batched_links',
    'enabled',
    'is_enabled',
    'set_caching_class',
    'set_enabled',
)

#: The environment variable that turns the module off: ``0``, ``false``, ``no`` or ``off``.
ENV_VAR = 'AIIDA_CRYSTALFACE_INTERNALS'

#: The oldest and newest aiida-core (major, minor) that CI tests with this module on and off (.ci/run).
TESTED = ((2, 6), (2, 9))

#: The engine methods replaced on the process classes of the package's calcfunctions (with aiida-core's as fallback).
REPLACED_METHODS = ('_setup_inputs', 'update_outputs')

_override: bool | None = None


def _version(text: str) -> tuple[int, int]:
    match = re.match(r'(\d+)\.(\d+)', text)
    return (int(match.group(1)), int(match.group(2))) if match else (0, 0)


def _compatible() -> bool:
    """Whether this aiida-core is a tested version whose ``FunctionProcess`` uses the base methods replaced here."""
    low, high = TESTED
    return (
        low <= _version(aiida_version) <= high
        and FunctionProcess._setup_inputs is Process._setup_inputs
        and FunctionProcess.update_outputs is Process.update_outputs
    )


_COMPATIBLE = _compatible()


def is_enabled() -> bool:
    """Whether the switch is on: :func:`set_enabled` if it was called, else the environment variable (default on)."""
    if _override is not None:
        return _override
    return os.environ.get(ENV_VAR, '1').strip().lower() not in ('0', 'false', 'no', 'off')


def active() -> bool:
    """Whether the internals are used now: the switch is on and this aiida-core passed the version check."""
    return _COMPATIBLE and is_enabled()


def set_enabled(value: bool | None) -> None:
    """Turn the internals on (``True``) or off (``False``) in this process; ``None`` goes back to the environment."""
    global _override  # noqa: PLW0603 (one switch for the process, by design)
    _override = None if value is None else bool(value)


@contextlib.contextmanager
def enabled(value: bool) -> Iterator[None]:
    """Context manager: the internals on or off inside the block, the previous setting restored after it."""
    global _override  # noqa: PLW0603
    previous = _override
    _override = bool(value)
    try:
        yield
    finally:
        _override = previous


def batched_links(function: Any) -> Any:
    """Give a calcfunction linear-time input and output links (see the module docstring); outer decorator.

    Use as ``@batched_links`` above ``@calcfunction``. Only the process class built for this function changes; each
    call checks :func:`active` and runs aiida-core's own code when it is off.
    """
    process_class = getattr(function, 'process_class', None)
    if process_class is None or not issubclass(process_class, FunctionProcess):
        raise TypeError(f'batched_links: {function!r} is not a process function')
    process_class._setup_inputs = _setup_inputs
    process_class.update_outputs = _update_outputs
    return function


def _check(source: orm.Node, target: orm.Node, source_type: type, target_type: type, label: str) -> None:
    """The checks of ``aiida.orm.utils.links.validate_link`` that a link of a batch can fail."""
    if not isinstance(source, source_type) or not isinstance(target, target_type):
        raise ValueError(f'cannot link {type(source).__name__} to {type(target).__name__} under the label {label!r}')
    if source.backend is not target.backend:
        raise ValueError(f'{label}: the nodes of a link must be in the same storage backend')
    try:
        validate_link_label(label)
    except ValueError as exception:
        raise ValueError(f'invalid link label `{label}`: {exception}') from exception


def _setup_inputs(self: FunctionProcess) -> None:
    """``Process._setup_inputs`` in one pass, for a new process node whose only link is the call from its caller."""
    from aiida.orm.utils.links import LinkTriple

    node = self.node
    cache = node.base.links.incoming_cache
    if (
        not active()
        or not isinstance(node, orm.CalculationNode)
        or node.is_stored
        or any(triple.link_type is not LinkType.CALL_CALC for triple in cache)
    ):
        Process._setup_inputs(self)
        return
    triples = []
    for name, source in self._flat_inputs().items():
        if source is None:  # a port that accepts None
            continue
        _check(source, node, orm.Data, orm.CalculationNode, name)
        triples.append(LinkTriple(source, LinkType.INPUT_CALC, name))
    cache.extend(triples)


def _update_outputs(self: FunctionProcess) -> None:
    """``Process.update_outputs`` for a batch: the new outputs stored in one transaction, their links bulk-inserted.

    The labels the process node already uses are read once per call (as aiida-core does); an output that is stored
    already, or has links of its own, goes through aiida-core's checks.
    """
    if not active():
        Process.update_outputs(self)
        return
    if self.metadata.store_provenance is False:
        return
    outputs = self._flat_outputs()
    if not outputs:
        return
    node = self.node
    if not isinstance(node, orm.CalculationNode) or not node.is_stored:
        Process.update_outputs(self)
        return
    from aiida.orm.entities import EntityTypes

    storage = node.backend
    used = set(node.base.links.get_outgoing(link_type=(LinkType.CREATE, LinkType.RETURN)).all_link_labels())
    new = {label: output for label, output in outputs.items() if label not in used}
    if not new:
        return
    with contextlib.nullcontext() if storage.in_transaction else storage.transaction():
        rows = []
        for label, output in new.items():
            if output.is_stored or output.base.links.incoming_cache:
                output.base.links.add_incoming(node, LinkType.CREATE, label)  # aiida-core's checks decide
                output.store()
                continue
            _check(node, output, orm.CalculationNode, orm.Data, label)
            output.store()
            rows.append({'input_id': node.pk, 'output_id': output.pk, 'label': label, 'type': LinkType.CREATE.value})
        if rows:
            storage.bulk_insert(EntityTypes.LINK, rows)


def set_caching_class(node_class: type, caching_class: type) -> None:
    """Give a Data class of the package its own hashing: aiida-core's documented hook, its ``_CLS_NODE_CACHING``.

    aiida-core's caching documentation (and aiida-pseudo for its pseudopotentials) customise a node's hash by setting
    this class attribute to a ``NodeCaching`` subclass that overrides ``get_objects_to_hash``. It is not under the
    switch: a node's hash is part of what is stored, and must not depend on how it was stored.
    """
    from aiida.orm.nodes.caching import NodeCaching

    if not (issubclass(node_class, orm.Data) and issubclass(caching_class, NodeCaching)):
        raise TypeError(f'set_caching_class: {node_class!r} / {caching_class!r} is not a Data / NodeCaching pair')
    node_class._CLS_NODE_CACHING = caching_class
