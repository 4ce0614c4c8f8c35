"""The peer of per-atom classification: OVITO's polyhedral template matching (PTM), labels in our class names.

``ptm_labels(atoms)`` runs :class:`ovito.modifiers.PolyhedralTemplateMatchingModifier` on an ``ase.Atoms`` with the
FCC, HCP, BCC (OVITO's defaults), SC, cubic-diamond and hexagonal-diamond templates enabled (icosahedral stays off,
as by default) and PTM's default RMSD cutoff (0.1 in OVITO 3.17), and maps OVITO's Structure Type to our names. A
free particle (``pbc`` all False, with or without a cell) is put in a non-periodic box 10 angstrom wider than its
extent on every side, since OVITO needs a simulation cell. Needs the ``benchmarks`` extra (``ovito``); the package
itself never imports it.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

__all__ = ('PTM_NAMES', 'ptm_labels')

#: OVITO's Structure Type names -> ours.
PTM_NAMES = {
    'OTHER': 'unknown',
    'FCC': 'fcc',
    'HCP': 'hcp',
    'BCC': 'bcc',
    'ICO': 'unknown',
    'SC': 'sc',
    'CUBIC_DIAMOND': 'diamond',
    'HEX_DIAMOND': 'hexagonal diamond',
    'GRAPHENE': 'unknown',
}


def _with_cell(atoms: Any, margin: float = 10.0) -> Any:
    """A copy of a free particle in a non-periodic box ``margin`` angstrom wider than it on every side."""
    free = atoms.copy()
    positions = free.get_positions()
    low, high = positions.min(axis=0), positions.max(axis=0)
    free.set_positions(positions - low + margin)
    free.set_cell(np.diag(high - low + 2 * margin))
    free.set_pbc(False)
    return free


def ptm_labels(atoms: Any) -> tuple[list[str], dict[str, float]]:
    """Per-atom PTM labels of ``atoms`` (ase.Atoms) and the timings.

    Returns ``(labels, timing)``: ``labels`` one name per atom (``'fcc'``, ``'bcc'``, ``'hcp'``, ``'sc'``,
    ``'diamond'``, ``'hexagonal diamond'`` or ``'unknown'``), ``timing`` ``{'convert_s', 'ptm_s', 'atoms_per_s'}``:
    the wall-clock seconds of the conversion to OVITO's data and of the PTM pipeline alone, and atoms per second of
    the latter.
    """
    from ovito.io.ase import ase_to_ovito
    from ovito.modifiers import PolyhedralTemplateMatchingModifier
    from ovito.pipeline import Pipeline, StaticSource

    started = time.perf_counter()
    if not np.any(atoms.pbc):
        atoms = _with_cell(atoms)
    data = ase_to_ovito(atoms)
    converted = time.perf_counter()
    modifier = PolyhedralTemplateMatchingModifier()
    kinds = PolyhedralTemplateMatchingModifier.Type
    for kind in (kinds.SC, kinds.CUBIC_DIAMOND, kinds.HEX_DIAMOND):
        modifier.structures[kind].enabled = True
    pipeline = Pipeline(source=StaticSource(data=data))
    pipeline.modifiers.append(modifier)
    types = np.asarray(pipeline.compute().particles['Structure Type'])
    finished = time.perf_counter()
    names = {int(getattr(kinds, name)): ours for name, ours in PTM_NAMES.items() if hasattr(kinds, name)}
    labels = [names.get(int(t), 'unknown') for t in types]
    ptm_s = finished - converted
    return labels, {
        'convert_s': converted - started,
        'ptm_s': ptm_s,
        'atoms_per_s': len(labels) / ptm_s if ptm_s > 0 else float('inf'),
    }
