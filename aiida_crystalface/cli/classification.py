"""Classify the structures read from the command line, with or without storing them, and print the results.

Each result is a dict as promised by the ``classify --json`` contract: ``{"file", "label", "probabilities", "uuid"}``
for a classified input, ``{"file", "error"}`` for one that could not be classified; results keep the input order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import click

from .inputs import InputRecord

__all__ = ('classify_records', 'print_results')


def classify_records(records: Sequence[InputRecord], *, model: str | None, store: bool) -> list[dict[str, Any]]:
    """Classify every good record; return one result per record, in order."""
    results: list[dict[str, Any]] = [{'file': r.file, 'error': r.error} for r in records]
    good = [i for i, record in enumerate(records) if record.ok]
    if not good:
        return results
    structures = [records[i].structure for i in good]
    outcome = _classify_stored(structures, model) if store else _classify_unstored(structures, model)
    for local, index in enumerate(good):
        results[index] = {'file': records[index].file, **outcome[local]}
    return results


def _classify_unstored(structures: list, model: str | None) -> list[dict[str, Any]]:
    """Fingerprint and predict in memory: no profile is loaded and nothing is written."""
    from aiida_crystalface.core.diffraction import FingerprintSettings, fingerprint_batch
    from aiida_crystalface.core.orientation import no_lattice_message

    from .models_io import load_classifier

    classifier = load_classifier(model, use_profile=False)
    settings = FingerprintSettings.from_dict(classifier.settings)
    batch = fingerprint_batch(structures, settings, progress=True)
    outcome: list[dict[str, Any]] = [
        {'error': batch.errors.get(i, 'not fingerprinted')} for i in range(len(structures))
    ]
    if len(batch.ok):
        probabilities = classifier.predict(batch.images, settings_hash=settings.hash)
        for row, index, lattice in zip(probabilities, batch.ok, batch.lattices, strict=True):
            if lattice is not None and not lattice['lattice_found']:
                # Never a confident crystal class for a structure with no lattice (amorphous, gas, molecule).
                outcome[int(index)] = {'error': f'{structures[index].label}: {no_lattice_message(lattice)}'}
            else:
                outcome[int(index)] = _prediction(classifier.classes, row, uuid=None)
    return outcome


def _classify_stored(structures: list, model: str | None) -> list[dict[str, Any]]:
    """Run ClassifyStructuresWorkChain on the structures, stored as StructureData; read the predictions back."""
    from .workflow_runner import classify_structures

    run = classify_structures(structures, model=model)
    return [{k: v for k, v in result.items() if k != 'image'} for result in run.results]


def _prediction(classes: Sequence[str], row, uuid: str | None) -> dict[str, Any]:
    probabilities = {name: float(p) for name, p in zip(classes, row, strict=True)}
    label = max(probabilities, key=probabilities.get)
    return {'label': label, 'probabilities': probabilities, 'uuid': uuid}


def print_results(results: Sequence[dict[str, Any]]) -> None:
    """Print a table of the classified inputs on standard output and the failed ones on standard error."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title='Classification', show_lines=False)
    table.add_column('file', overflow='fold')
    for column in ('label', 'probability'):
        table.add_column(column)
    table.add_column('prediction node', overflow='fold')
    for result in results:
        if 'error' not in result:
            p = result['probabilities'][result['label']]
            table.add_row(result['file'], result['label'], f'{p:.3f}', result['uuid'] or '-')
    Console().print(table)
    for result in results:
        if 'error' in result:
            click.secho(f'Error: {result["file"]}: {result["error"]}', fg='red', err=True)
