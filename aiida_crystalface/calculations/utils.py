"""Helpers shared by the calcfunctions: fast StructureData conversion, batch failure reports, seeds."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from aiida import orm
from aiida.engine import ExitCode, Process

__all__ = (
    'EXIT_SOME_FAILED',
    'derive_seed',
    'finish_batch',
    'local_computer',
    'structure_data',
    'to_atomic',
)

#: Exit status of a batched calcfunction in which some items failed (every other item still has its output).
EXIT_SOME_FAILED = 410


def _cell_for_aiida(structure: Any) -> np.ndarray:
    """The structure's cell, with a box around the atoms where a non-periodic direction has no cell vector.

    StructureData wants three independent cell vectors even along non-periodic directions (a finite cluster built
    with no cell, such as ASE's ``Octahedron``): those get the edge of the atoms' bounding box plus 10 angstrom,
    along the Cartesian axis that completes the periodic vectors.
    """
    cell = np.array(structure.cell, dtype=float)
    if abs(np.linalg.det(cell)) > 1e-6 or all(structure.pbc):
        return cell
    positions = np.asarray(structure.positions, dtype=float).reshape(-1, 3)
    extent = (positions.max(axis=0) - positions.min(axis=0)) if len(positions) else np.zeros(3)
    for axis in range(3):
        if structure.pbc[axis] or abs(np.linalg.det(cell)) > 1e-6:
            continue
        others = cell[[i for i in range(3) if i != axis]]
        for candidate in np.eye(3)[np.argsort(-extent)]:
            rank = np.linalg.matrix_rank(np.vstack([others, candidate]), tol=1e-6)
            if rank > np.linalg.matrix_rank(others, tol=1e-6):
                cell[axis] = candidate * (float(np.dot(extent, np.abs(candidate))) + 10.0)
                break
    return cell


def structure_data(structure: Any) -> orm.StructureData:
    """Build an unstored StructureData from an ``AtomicStructure`` without the per-atom ``append_atom`` calls.

    ``append_atom`` validates every site against every kind (quadratic in the atom count); writing the ``kinds`` and
    ``sites`` attributes in one go gives the same node content far faster.
    """
    from aiida_crystalface.core.structures import chemical_symbol

    node = orm.StructureData(cell=_cell_for_aiida(structure).tolist(), pbc=tuple(bool(p) for p in structure.pbc))
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
    """Convert a StructureData into the internal form, labelled so that error messages name the input.

    Reads the raw attributes as ``core.structures`` does for a StructureData, with its checks and messages, but
    through ``attributes.items()``: ``attributes.all`` deep-copies the sites of a stored node (about as long as the
    fingerprint itself), and nothing here changes them.
    """
    from aiida_crystalface.core.structures import StructureError, atomic_number, to_atomic_structure

    label = f'{key} (StructureData<{node.pk or node.uuid}>)'
    if type(node) is not orm.StructureData:  # a subclass may keep its structure elsewhere
        return to_atomic_structure(node, label=label)
    attributes = dict(node.base.attributes.items())
    numbers_of_kind = {}
    for kind in attributes.get('kinds', []):
        if len(kind['symbols']) != 1 or sum(kind['weights']) < 1.0 - 1e-8:
            raise StructureError(f'{label}: alloy or vacancy kinds ({kind["name"]}) are not supported')
        numbers_of_kind[kind['name']] = atomic_number(kind['symbols'][0])
    sites = attributes.get('sites', [])
    positions = np.array([site['position'] for site in sites], dtype=float).reshape(-1, 3)
    numbers = [numbers_of_kind[site['kind_name']] for site in sites]
    return to_atomic_structure({'cell': attributes['cell'], 'positions': positions, 'numbers': numbers}, label=label)


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


def local_computer(label: str, workdir: Any, description: str, poll_interval: float = 0.5) -> tuple[orm.Computer, bool]:
    """Return the computer ``label`` and whether it was created: ``core.local`` + ``core.direct`` on this machine.

    A missing computer is created with ``workdir`` (made if needed), one MPI process per machine and the minimum job
    poll interval ``poll_interval`` (seconds). An existing one is returned as it is, configured for the current user
    when it is not yet (what ``verdi computer configure`` does); it is never changed otherwise.
    """
    from pathlib import Path

    from aiida.common.exceptions import NotExistent

    created = False
    try:
        computer = orm.load_computer(label)
    except NotExistent:
        Path(workdir).mkdir(parents=True, exist_ok=True)
        computer = orm.Computer(
            label=label,
            hostname='localhost',
            description=description,
            transport_type='core.local',
            scheduler_type='core.direct',
            workdir=str(workdir),
        ).store()
        computer.set_minimum_job_poll_interval(poll_interval)
        computer.set_default_mpiprocs_per_machine(1)
        created = True
    if computer.transport_type == 'core.local' and not computer.is_configured:
        computer.configure(safe_interval=0.0)
    return computer, created
