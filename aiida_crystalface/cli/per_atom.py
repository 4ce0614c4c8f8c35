"""``aiida-crystalface classify --per-atom``: a class for every atom, written as an extxyz that OVITO and ASE read."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click
import numpy as np

__all__ = ('COLUMNS', 'classify_per_atom', 'write_extxyz')

#: The per-atom columns written to the extxyz file: the answer, its largest class probability, the uncertainty.
COLUMNS = ('crystalface_label', 'crystalface_p', 'crystalface_uncertainty')


def write_extxyz(path: str | Path, structures: Sequence[Any], results: Sequence[dict[str, Any]]) -> Path:
    """Write ``structures`` (internal form), one frame each, with the per-atom columns of their ``results``.

    ``results`` are :meth:`~aiida_crystalface.ml.Classifier.classify_atoms` answers, in the order of the structures.
    The columns (:data:`COLUMNS`) are the label (a string), the largest class probability and the uncertainty; the
    frame's info holds the count of each label (``crystalface_counts``, JSON) and the source file (``source``).
    """
    import ase
    import ase.io

    frames = []
    for structure, result in zip(structures, results, strict=True):
        atoms = ase.Atoms(
            numbers=structure.numbers, positions=structure.positions, cell=structure.cell, pbc=structure.pbc
        )
        labels = np.asarray(result['labels'], dtype=str)
        atoms.new_array(COLUMNS[0], labels)
        atoms.new_array(COLUMNS[1], np.asarray(result['probabilities'], dtype=float).max(axis=1))
        atoms.new_array(COLUMNS[2], np.asarray(result['uncertainty'], dtype=float))
        atoms.info['crystalface_counts'] = json.dumps(counts(labels))
        atoms.info['source'] = str(structure.label)
        frames.append(atoms)
    path = Path(path)
    ase.io.write(str(path), frames, format='extxyz')
    return path


def counts(labels: Sequence[str]) -> dict[str, int]:
    """Count of each label, most frequent first."""
    values, number = np.unique(np.asarray(labels, dtype=str), return_counts=True)
    order = np.argsort(-number, kind='stable')
    return {str(values[i]): int(number[i]) for i in order}


def classify_per_atom(
    ctx: click.Context,
    records: Sequence[Any],
    model: str | None,
    *,
    store: bool,
    output: str | None,
    plot: str | None,
    stride: float | None,
    as_json: bool,
    batch_size: int,
    precision: str = 'float32',
) -> list[dict[str, Any]]:
    """Classify every atom of every good input; write the extxyz (``output``) and the slice PNG (``plot``).

    With ``store`` the structures are stored and classified by ``ClassifyAtomsWorkChain`` (one
    LocalClassificationData node per structure, with provenance); otherwise in memory. Returns one JSON-friendly
    record per input: ``{'file', 'atoms', 'counts', 'fractions', 'uuid'}`` or ``{'file', 'error'}``.
    """
    good = [i for i, record in enumerate(records) if record.ok]
    results: list[dict[str, Any]] = [{'file': r.file, 'error': r.error} for r in records]
    answers: dict[int, dict[str, Any]] = {}
    uuids: dict[int, str | None] = {}
    with contextlib.redirect_stdout(sys.stderr) if as_json else contextlib.nullcontext():
        if store and good:
            structures = [records[i].structure for i in good]
            answers, uuids, errors = _stored(ctx, structures, model, stride, batch_size, precision=precision)
            answers = {good[k]: v for k, v in answers.items()}
            uuids = {good[k]: v for k, v in uuids.items()}
            for k, message in errors.items():
                results[good[k]] = {'file': records[good[k]].file, 'error': message}
        elif good:
            from .utils import load_classifier

            classifier = load_classifier(model, use_profile=False, per_atom=True)
            for i in good:
                try:
                    answers[i] = classifier.classify_atoms(
                        records[i].structure, stride=stride, progress=True, precision=precision
                    )
                    uuids[i] = None
                except (ValueError, ArithmeticError) as exception:
                    results[i] = {'file': records[i].file, 'error': str(exception)}
    done = sorted(answers)
    for i in done:
        labels = answers[i]['labels']
        number = counts(labels)
        results[i] = {
            'file': records[i].file,
            'atoms': len(labels),
            'counts': number,
            'fractions': {name: round(c / len(labels), 6) for name, c in number.items()},
            'uuid': uuids.get(i),
        }
    if output and done:
        write_extxyz(output, [records[i].structure for i in done], [answers[i] for i in done])
        click.echo(f'Per-atom labels of {len(done)} structure(s) written to {output}', err=True)
    if plot and done:
        from aiida_crystalface.core.local_plots import plot_fractions, plot_slice

        if len(done) == 1:
            structure = records[done[0]].structure
            plot_slice(structure.positions, answers[done[0]]['labels'], plot, title=str(structure.label))
        else:
            plot_fractions([results[i]['fractions'] for i in done], plot, title='fraction of each label per frame')
        click.echo(f'Picture written to {plot}', err=True)
    return results


def _stored(ctx, structures: list, model: str | None, stride: float | None, batch_size: int, *, precision: str):
    """Store the structures and run ClassifyAtomsWorkChain; return answers, node UUIDs and errors by position."""
    from aiida import orm
    from aiida.engine import run_get_node

    from aiida_crystalface.calculations.utils import structure_data
    from aiida_crystalface.workflows.local import ClassifyAtomsWorkChain

    from .profile import ensure_profile
    from .utils import load_model_node, quiet_process_reports

    ensure_profile(ctx)
    names = [f'structure_{k:05d}' for k in range(len(structures))]
    nodes = {name: structure_data(s).store() for name, s in zip(names, structures, strict=True)}
    inputs: dict[str, Any] = {'structures': nodes, 'batch_size': orm.Int(batch_size)}
    if model is not None:
        inputs['model'] = load_model_node(model)
    options = {} if stride is None else {'stride': float(stride)}
    if precision != 'float32':
        options['precision'] = precision
    if options:
        inputs['options'] = orm.Dict(options)
    with quiet_process_reports():
        outputs, node = run_get_node(ClassifyAtomsWorkChain, **inputs)
    click.echo(f'{node.process_label}<{node.pk}> {node.process_state.value}', err=True)
    found = outputs.get('classifications', {})
    failures = outputs['failures'].get_dict() if 'failures' in outputs else {}
    answers, uuids, errors = {}, {}, {}
    for k, name in enumerate(names):
        if name in found:
            local = found[name]
            answers[k] = {
                'labels': local.labels,
                'probabilities': local.probabilities,
                'uncertainty': local.uncertainty,
            }
            uuids[k] = local.uuid
        else:
            errors[k] = failures.get(name) or node.exit_message or 'not classified'
    return answers, uuids, errors
