"""Helpers shared by the calcfunctions: fast StructureData conversion, batch failure reports, seeds."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from aiida import orm
from aiida.engine import ExitCode, Process

__all__ = ('EXIT_SOME_FAILED', 'derive_seed', 'finish_batch', 'structure_data', 'to_atomic')

#: Exit status of a batched calcfunction in which some items failed (every other item still has its output).
EXIT_SOME_FAILED = 410


def structure_data(structure: Any) -> orm.StructureData:
    """Build an unstored StructureData from an ``AtomicStructure`` without the per-atom ``append_atom`` calls.

    ``append_atom`` validates every site against every kind (quadratic in the atom count); writing the ``kinds`` and
    ``sites`` attributes in one go gives the same node content far faster.
    """
    from aiida_crystalface.core.structures import chemical_symbol

    node = orm.StructureData(cell=np.asarray(structure.cell, dtype=float).tolist(), pbc=(True, True, True))
    symbols = [chemical_symbol(int(z)) for z in structure.numbers]
    kinds = [{'name': s, 'symbols': [s], 'weights': [1.0], 'mass': float(_mass(s))} for s in dict.fromkeys(symbols)]
    sites = [
        {'kind_name': s, 'position': [float(x) for x in p]} for s, p in zip(symbols, structure.positions, strict=True)
    ]
    node.base.attributes.set_many({'kinds': kinds, 'sites': sites})
    node.label = str(structure.label)[:255]
    return node


def _mass(symbol: str) -> float:
    from aiida.common.constants import elements

    for entry in elements.values():
        if entry['symbol'] == symbol:
            return entry['mass']
    return 1.0


def to_atomic(key: str, node: orm.StructureData) -> Any:
    """Convert a StructureData into the internal form, labelled so that error messages name the input."""
    from aiida_crystalface.core.structures import to_atomic_structure

    return to_atomic_structure(node, label=f'{key} (StructureData<{node.pk or node.uuid}>)')


def derive_seed(seed: int, index: int) -> int:
    """A per-item seed from the batch seed and the item's position, independent of batch composition."""
    return int(np.random.SeedSequence([int(seed), int(index)]).generate_state(1, dtype=np.uint32)[0])


def finish_batch(outputs: Mapping[str, orm.Data], errors: Mapping[str, str], what: str) -> ExitCode | dict:
    """Return the outputs of a batched calcfunction, or attach them and return an exit code naming the failures.

    A process function cannot return outputs and an exit code together, so on failure the outputs are attached
    through the running process (they are stored and linked like returned ones) together with a ``failures`` Dict
    ({input name: message}), and the exit code's message names every failed input.
    """
    if not errors:
        return dict(outputs)
    process = Process.current()
    for key, node in outputs.items():
        process.out(key, node)
    process.out('failures', orm.Dict(dict(errors)))
    names = '; '.join(f'{key}: {message}' for key, message in errors.items())
    return ExitCode(EXIT_SOME_FAILED, f'{len(errors)} of {len(errors) + len(outputs)} {what} failed: {names}')
