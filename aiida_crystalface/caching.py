"""aiida-core's node hashes and attribute cleaning, without its per-node costs, for nodes stored by the thousand.

AiiDA hashes every node it stores (the ``_aiida_hash`` extra that caching looks up), and a process node's hash
includes the hash of every input. aiida-core pays for that per node: its ``make_hash`` dispatches on the type of every
leaf (a 128-atom StructureData has about a thousand), the hash of a repository file asks the object store whether the
object exists (a fresh connection to its index each time), and a process recomputes the hash of each of its inputs
from scratch although each input carries it in its extras since it was stored. ``Node.store`` also cleans the
attributes twice, with an abstract-type check per leaf.

Everything here gives *the same values and hashes as aiida-core*, bit for bit (tests/aiida/test_storage_path.py
compares them); nothing is skipped that could change a result:

- :func:`make_hash` and :func:`clean_value` are ``aiida.common.hashing.make_hash`` and
  ``aiida.orm.implementation.utils.clean_value`` for the JSON types that attributes hold (dict, list, tuple, str, int,
  float, bool, None), with exact-type checks instead of ``singledispatch`` and ABCs; a value of any other type goes to
  aiida-core's function.
- :class:`BatchNodeCaching` (the caching interface of the plugin's fingerprint and classification nodes) hashes with
  them, and takes the hash of a repository file from its key when the object store's keys are SHA-256 hashes, which
  is what aiida-core's disk-objectstore backend returns as well, after checking that the object exists.
- :func:`stored_input_hashes` makes the process node of a batched calcfunction hash its inputs from their stored
  ``_aiida_hash`` extras: a stored node cannot change its attributes or its files, so the stored hash is the hash
  aiida-core would compute again. An input without it (a hash that was cleared) is hashed as aiida-core does.
- :func:`fast_storing` gives one unstored node (a StructureData from ``calculations.utils.structure_data``) the
  faster cleaning and hashing for its ``store()``.

What this relies on of aiida-core beyond its public API, each in one place: the ``_CLS_NODE_CACHING`` attribute
through which aiida-core's node classes choose their caching interface (set on a class, or on one instance), the
``get_or_create_db_record`` classmethod of a process class (wrapped for two calcfunctions, as
``calculations.links`` does for their links), and ``SqlaNode.clean_values`` (mirrored for one instance, only where
the backend node uses exactly that method). Where a precondition does not hold, aiida-core's own code runs.
"""

from __future__ import annotations

import functools
import hashlib
import math
import types
import weakref
from operator import itemgetter
from typing import Any

from aiida.common import exceptions
from aiida.common import hashing as aiida_hashing
from aiida.orm.implementation.utils import clean_value as aiida_clean_value
from aiida.orm.nodes.caching import NodeCaching
from aiida.orm.nodes.process.process import ProcessNodeCaching

__all__ = (
    'BatchNodeCaching',
    'StoredInputHashCaching',
    'clean_value',
    'fast_storing',
    'make_hash',
    'repository_hash',
    'stored_input_hashes',
)

_OPTIONS = aiida_hashing.BLAKE2B_OPTIONS
_FLOAT_FORMAT = f'%.{aiida_hashing.AIIDA_FLOAT_PRECISION}g'


class _UnsupportedTypeError(Exception):
    """A value of a type that only aiida-core's ``make_hash`` knows how to hash."""


def _digest(kind: bytes, content: bytes = b'') -> bytes:
    return hashlib.blake2b(content, person=kind, node_depth=0, **_OPTIONS).digest()


_LIST = _digest(b'list(')
_DICT = _digest(b'dict(')
_END = _digest(b')')
_NONE = _digest(b'none')
_BOOL = {True: _digest(b'bool', b'\x01'), False: _digest(b'bool', b'\x00')}


@functools.lru_cache(maxsize=4096)
def _str_digest(value: str) -> bytes:
    """Strings repeat (attribute names, kind names): their digest is kept."""
    return _digest(b'str', value.encode('utf-8'))


def _collect(value: Any, out: list[bytes]) -> None:
    """Append the leaf digests of ``value`` to ``out`` in aiida-core's order (``aiida.common.hashing._make_hash``)."""
    kind = type(value)
    if kind is str:
        out.append(_str_digest(value))
    elif kind is float:
        out.append(_digest(b'float', (_FLOAT_FORMAT % (value if value != 0 else 0.0)).encode('utf-8')))
    elif kind is dict:
        items = []
        for key, item in value.items():
            key_digests: list[bytes] = []
            _collect(key, key_digests)
            items.append((key_digests, item))
        out.append(_DICT)
        for key_digests, item in sorted(items, key=itemgetter(0)):
            out.extend(key_digests)
            _collect(item, out)
        out.append(_END)
    elif kind is list or kind is tuple:
        out.append(_LIST)
        for item in value:
            _collect(item, out)
        out.append(_END)
    elif kind is bool:
        out.append(_BOOL[value])
    elif kind is int:
        out.append(_digest(b'int', str(value).encode('utf-8')))
    elif value is None:
        out.append(_NONE)
    else:
        raise _UnsupportedTypeError(kind)


def make_hash(value: Any) -> str:
    """``aiida.common.hashing.make_hash(value)``, faster for the JSON types that node attributes hold."""
    digests: list[bytes] = []
    try:
        _collect(value, digests)
    except _UnsupportedTypeError:
        return aiida_hashing.make_hash(value)
    final = hashlib.blake2b(node_depth=1, last_node=True, **_OPTIONS)
    for digest in digests:
        final.update(digest)
    final.update(hashlib.blake2b(node_depth=0, last_node=True, **_OPTIONS).digest())
    return final.hexdigest()


def clean_value(value: Any) -> Any:
    """``aiida.orm.implementation.utils.clean_value(value)``, faster for the JSON types that attributes hold.

    The same result: floats rounded to AiiDA's 14 significant digits (and written as ints where aiida-core does so),
    tuples as lists, NaN and infinity refused with aiida-core's error; a value of any other type is cleaned by
    aiida-core's own function.
    """
    kind = type(value)
    if kind is float:
        if not math.isfinite(value):
            raise exceptions.ValidationError('nan and inf/-inf can not be serialized to the database')
        text = _FLOAT_FORMAT % value
        number = float(text)
        return int(number) if 'e' in text and number.is_integer() else number
    if kind is dict:
        return {key: clean_value(item) for key, item in value.items()}
    if kind is list or kind is tuple:
        return [clean_value(item) for item in value]
    if kind is str or kind is int or kind is bool or value is None:
        return value
    return aiida_clean_value(value)


_KEY_FORMATS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _key_format(storage: Any) -> str | None:
    """The key format of a storage's object store (read once per storage: it reads the container's config file)."""
    try:
        return _KEY_FORMATS[storage]
    except (KeyError, TypeError):
        pass
    key_format = storage.get_repository().key_format
    try:
        _KEY_FORMATS[storage] = key_format
    except TypeError:
        pass
    return key_format


def repository_hash(node: Any) -> str:
    """``node.base.repository.hash()`` of a stored node, without a look-up in the object store per file.

    aiida-core's disk-objectstore backend returns an object's key as its SHA-256 hash (its keys are SHA-256 hashes
    of the content) after checking that the object exists, with a new connection to the store's index each time.
    The files of a stored node exist, so where the keys are SHA-256 the key is taken as it is; the object is built
    exactly as ``aiida.repository.Repository.hash`` builds it. Any other case goes through aiida-core.
    """
    repository = node.base.repository
    if not node.is_stored or _key_format(node.backend) != 'sha256':
        return repository.hash()
    objects: dict[str, Any] = {}
    for root, dirnames, filenames in repository.walk():
        objects['__dirnames__'] = dirnames  # as aiida-core does: the last folder walked wins
        for filename in filenames:
            objects[str(root / filename)] = repository.get_object(root / filename).key
    return make_hash(objects)


class BatchNodeCaching(NodeCaching):
    """``NodeCaching`` with the same hash, computed by :func:`make_hash` and :func:`repository_hash`.

    For data node classes that calcfunctions create by the thousand: set ``_CLS_NODE_CACHING = BatchNodeCaching``.
    """

    def _compute_hash(self, ignore_errors: bool = True, **kwargs: Any) -> str | None:
        if kwargs:  # options of aiida-core's make_hash: let aiida-core apply them
            return super()._compute_hash(ignore_errors=ignore_errors, **kwargs)
        try:
            return make_hash(self.get_objects_to_hash())
        except exceptions.HashingError:
            if not ignore_errors:
                raise
            self._node.logger.exception('Node hashing failed')
            return None

    def get_objects_to_hash(self) -> dict[str, Any]:
        """``NodeCaching.get_objects_to_hash`` with the repository hash of :func:`repository_hash`."""
        node = self._node
        return {
            'class': str(node.__class__),
            'attributes': {
                key: value
                for key, value in node.base.attributes.items()
                if key not in node._hash_ignored_attributes and key not in node._updatable_attributes
            },
            'repository_hash': repository_hash(node),
            'computer_uuid': node.computer.uuid if node.computer is not None else None,
        }


def _input_hash(node: Any) -> str | None:
    """The hash aiida-core computes for a process input: its stored hash, or computed where none is stored."""
    stored = node.base.caching.get_hash() if node.is_stored else None
    return stored if stored is not None else node.base.caching.compute_hash()


class StoredInputHashCaching(ProcessNodeCaching):
    """``ProcessNodeCaching`` that takes the hash of each stored input from its ``_aiida_hash`` extra.

    aiida-core recomputes the hash of every input when it hashes a process node: for a batch of 500 structures that
    is 500 structure hashes, each over every site, after loading each input again. A stored node's attributes and
    files cannot change, so the hash stored with it is the one aiida-core would compute again; for a stored process
    node one query gives every input's link label and stored hash, without loading the inputs themselves.
    """

    def get_objects_to_hash(self) -> dict[str, Any]:
        objects = NodeCaching.get_objects_to_hash(self)
        objects['inputs'] = {
            label: value for label, value in self._input_hashes() if label not in self._hash_ignored_inputs
        }
        return objects

    def _input_hashes(self) -> list[tuple[str, str | None]]:
        from aiida import orm
        from aiida.common.links import LinkType

        node = self._node
        link_types = (LinkType.INPUT_CALC, LinkType.INPUT_WORK)
        if not node.is_stored:  # hashed before it is stored (caching on): the links are in the node's link cache
            return [
                (entry.link_label, _input_hash(entry.node))
                for entry in node.base.links.get_incoming(link_type=link_types)
            ]
        builder = orm.QueryBuilder(backend=node.backend)
        builder.append(orm.ProcessNode, filters={'id': node.pk}, tag='process')
        builder.append(
            orm.Node,
            with_outgoing='process',
            tag='input',
            edge_tag='link',
            edge_filters={'type': {'in': [link_type.value for link_type in link_types]}},
            edge_project='label',
            project=['id', f'extras.{self._HASH_EXTRA_KEY}'],
        )
        hashes = []
        for row in builder.iterdict():
            stored = row['input'][f'extras.{self._HASH_EXTRA_KEY}']
            if stored is None:
                stored = orm.load_node(row['input']['id']).base.caching.compute_hash()
            hashes.append((row['link']['label'], stored))
        return hashes


def stored_input_hashes(function: Any) -> Any:
    """Give the process nodes of a calcfunction :class:`StoredInputHashCaching` (same hash, inputs not rehashed).

    Use as a decorator above ``@calcfunction``. Only the ``get_or_create_db_record`` classmethod of the process class
    that ``@calcfunction`` built for this function is wrapped: each new process node gets the interface as an instance
    attribute; the node class (``CalcFunctionNode``) and its type string are unchanged.
    """
    process_class = function.process_class
    create = process_class.get_or_create_db_record.__func__  # a classmethod

    def get_or_create_db_record(cls):
        node = create(cls)
        if node._CLS_NODE_CACHING is ProcessNodeCaching:  # aiida-core's own interface, not a subclass of it
            node._CLS_NODE_CACHING = StoredInputHashCaching
            node.base.__dict__.pop('caching', None)  # in case it was built already (a cached_property)
        return node

    process_class.get_or_create_db_record = classmethod(get_or_create_db_record)
    return function


def fast_storing(node: Any) -> Any:
    """Make ``node.store()`` clean and hash an unstored node with :func:`clean_value` and :func:`make_hash`.

    For nodes with large attributes, such as a StructureData with its sites: aiida-core's ``Node.store`` cleans the
    attributes twice (``clean_value``, a type check per leaf) and hashes them, several milliseconds for 128 atoms,
    more than the rest of storing it. The node gets the same attributes and the same hash; only this instance is
    changed (its caching interface, and the ``clean_values`` of its backend node, which does what aiida-core's does
    with the faster function). Where either is not the one expected (another storage backend, a node class with its
    own caching interface), that part is left to aiida-core. Returns the node.
    """
    if node.is_stored:
        return node
    if node._CLS_NODE_CACHING is NodeCaching:
        node._CLS_NODE_CACHING = BatchNodeCaching
        node.base.__dict__.pop('caching', None)
    backend_node = node.backend_entity
    if _cleans_like_sqla(backend_node):
        backend_node.clean_values = types.MethodType(_clean_values, backend_node)
    return node


def _cleans_like_sqla(backend_node: Any) -> bool:
    """Whether the backend node cleans with aiida-core's SQLAlchemy ``clean_values`` (:func:`_clean_values`)."""
    from aiida.storage.psql_dos.orm.nodes import SqlaNode

    return isinstance(backend_node, SqlaNode) and type(backend_node).clean_values is SqlaNode.clean_values


def _clean_values(self: Any) -> None:
    """``SqlaNode.clean_values`` with :func:`clean_value`."""
    self.model.attributes = clean_value(self.model.attributes)
    self.model.extras = clean_value(self.model.extras)
