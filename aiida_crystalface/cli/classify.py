"""``aiida-crystalface classify``: classify structure files, storing every result with provenance by default."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from .params import options
from .root import cmd_root

__all__ = ('cmd_classify',)

#: Failed inputs named one per line on standard error; beyond this many, a count and a pointer to ``--json``.
MAX_ERROR_LINES = 20


@cmd_root.command('classify')
@click.argument('files', nargs=-1, required=True, type=click.Path(dir_okay=False))
@options.MODEL()
@click.option(
    '--store/--no-store',
    default=True,
    show_default=True,
    help='Store structures, fingerprints and predictions in the AiiDA profile (through ClassifyStructuresWorkChain); '
    '--no-store computes without a profile and writes nothing.',
)
@options.FORCE()
@click.option(
    '--batch-size',
    type=click.IntRange(min=1),
    default=500,
    show_default=True,
    help='Structures per storage transaction and per calcfunction.',
)
@click.option(
    '--per-atom',
    is_flag=True,
    help='A class for every atom, from windows around it (Classifier.classify_atoms): for polycrystals, interfaces, '
    'nanoparticles, slabs and MD snapshots. Stored as one LocalClassificationData node per structure.',
)
@click.option(
    '-o',
    '--output',
    type=click.Path(dir_okay=False, writable=True),
    help='With --per-atom: write the structures (one frame each) to this extxyz file with the per-atom columns '
    'crystalface_label, crystalface_p and crystalface_uncertainty, which OVITO and ASE read.',
)
@click.option(
    '--plot',
    type=click.Path(dir_okay=False, writable=True),
    help='With --per-atom: a PNG of a slice through the structure coloured by label (one structure), or of the '
    'fraction of each label against the frame (several).',
)
@click.option(
    '--stride',
    type=click.FloatRange(min=0.5),
    help="With --per-atom: window spacing in nearest-neighbour distances (default: the method's, 4).",
)
@click.option(
    '--precision',
    type=click.Choice(['float32', 'bfloat16', 'int8']),
    default='float32',
    show_default=True,
    help="The network's precision. int8 is about four times as fast on a CPU with VNNI and needs a model file "
    'that stores its int8 parameters (the bundled bulk-59 does); the answers may differ from float32 ones on a few '
    'inputs (docs/bulk.md). Stored predictions record it, and are reused only at the same precision.',
)
@options.JSON()
@options.WIDE()
@click.pass_context
def cmd_classify(ctx, files, model, store, force, batch_size, per_atom, output, plot, stride, precision, as_json, wide):  # noqa: PLR0917
    """Classify the crystal structures in structure files.

    FILES: one or more structure files.

    FILES: CIF, POSCAR, extxyz, or any format ASE or pymatgen reads. A file holding several frames (an extxyz
    trajectory) is classified frame by frame, each named FILE@i. A structure identical to one this model classified
    already (same cell, positions and elements, whatever the file name) is not stored again: its stored prediction is
    reported, unless --force. With --per-atom, every atom is classified instead (see that option). Exit status: 0
    when every input was classified, 1 when any was not (every good input is still classified and stored).
    """
    from .utils import read_inputs

    if not per_atom and (output or plot or stride):
        raise click.UsageError('--output, --plot and --stride go with --per-atom')
    if precision == 'int8':
        _check_int8(model, store=store, per_atom=per_atom)
    records = read_inputs(files)
    if per_atom:
        from .per_atom import classify_per_atom

        results = classify_per_atom(
            ctx,
            records,
            model,
            store=store,
            output=output,
            plot=plot,
            stride=stride,
            as_json=as_json,
            batch_size=min(batch_size, 10),
            precision=precision,
        )
        if as_json:
            click.echo(json.dumps(results))
        else:
            _print_per_atom(results, wide=wide)
        _print_summary(results, [False] * len(results), as_json=as_json)
        ctx.exit(0 if all('error' not in result for result in results) else 1)
    good = [i for i, record in enumerate(records) if record.ok]
    results: list[dict[str, Any]] = [{'file': r.file, 'error': r.error} for r in records]
    reused: list[bool] = [False] * len(records)
    if good:
        structures = [records[i].structure for i in good]
        # Standard output carries the JSON document and nothing else: whatever the work writes on the way goes to
        # standard error.
        with contextlib.redirect_stdout(sys.stderr) if as_json else contextlib.nullcontext():
            if store:
                outcome, again = _classify_stored(
                    ctx, structures, model, force=force, batch_size=batch_size, precision=precision
                )
            else:
                outcome, again = _classify_in_memory(structures, model, precision), [False] * len(structures)
        for local, index in enumerate(good):
            results[index] = {'file': records[index].file, **outcome[local]}
            reused[index] = again[local]
    if as_json:
        click.echo(json.dumps(results))
    else:
        _print_table(results, reused, wide=wide, stored=store)
    _print_summary(results, reused, as_json=as_json)
    ctx.exit(0 if all('error' not in result for result in results) else 1)


def _check_int8(model: str | None, *, store: bool, per_atom: bool = False) -> None:
    """``--precision int8`` needs a model file with int8 parameters: say so before any input is read or stored."""
    from aiida_crystalface.ml.classifier import bundled_model_names

    from .profile import ensure_profile
    from .utils import load_classifier, load_model_node

    if store and model is not None and not Path(model).is_file() and model not in bundled_model_names():
        ensure_profile(click.get_current_context())  # a node's UUID or PK
        has_int8 = load_model_node(model).has_int8
    else:
        has_int8 = bool(load_classifier(model, use_profile=False, per_atom=per_atom).metadata.get('int8'))
    if not has_int8:
        from aiida_crystalface.ml.classifier import PER_ATOM_DEFAULT, PRETRAINED_DEFAULT

        default = (
            f'{PER_ATOM_DEFAULT if per_atom else PRETRAINED_DEFAULT} (the default{" per atom" if per_atom else ""})'
        )
        raise click.BadParameter(
            f'the model {model or default} stores no int8 parameters: use --model bulk-59, or a '
            'model file saved after Classifier.quantize(images) (python -m aiida_crystalface.ml.bulk --quantize)',
            param_hint='--precision int8',
        )


def _classify_stored(ctx, structures: list, model: str | None, *, force: bool, batch_size: int, precision: str):
    """Store and classify through ClassifyStructuresWorkChain; return (results, reused) in input order."""
    from aiida_crystalface.workflows.launch import classify_structures

    from .profile import ensure_profile
    from .utils import load_model_node, quiet_process_reports, stage_progress

    ensure_profile(ctx)
    model_node = load_model_node(model) if model is not None else None
    stages = {'store': 'Storing structures', 'classify': 'Classifying (ClassifyStructuresWorkChain)'}
    with stage_progress(stages) as progress, quiet_process_reports():
        run = classify_structures(
            structures,
            model=model_node,
            batch_size=batch_size,
            force=force,
            precision=precision,
            progress=progress.update,
        )
    if run.workchain is not None:
        click.echo(
            f'{run.workchain.process_label}<{run.workchain.pk}> {run.workchain.process_state.value}; new structures '
            f'in the group {run.group.label}',
            err=True,
        )
    return run.results, run.reused


def _classify_in_memory(structures: list, model: str | None, precision: str = 'float32') -> list[dict[str, Any]]:
    """Classify in memory (:meth:`Classifier.classify`): no profile is loaded and nothing is written."""
    from .utils import load_classifier

    classifier = load_classifier(model, use_profile=False)
    answers = classifier.classify(structures, progress=True, precision=precision)
    return [
        {'error': _strip_index(answer['error'], i)} if 'error' in answer else {**answer, 'uuid': None}
        for i, answer in enumerate(answers)
    ]


def _strip_index(message: str, index: int) -> str:
    return message.removeprefix(f'structure {index}: ')


def _print_table(results: Sequence[dict[str, Any]], reused: Sequence[bool], *, wide: bool, stored: bool) -> None:
    """The classified inputs as a table on standard output (80 columns unless --wide)."""
    from .utils import console, format_label, identifier_column, short_id, table

    classified = [(r, again) for r, again in zip(results, reused, strict=True) if 'error' not in r]
    if not classified:
        return
    columns: list[tuple[str, dict]] = [
        ('file', {'overflow': 'fold', 'ratio': 1}),
        ('label', {'no_wrap': True}),
        ('p', {'justify': 'right', 'no_wrap': True}),
    ]
    with_uncertainty = any('uncertainty' in r for r, _ in classified)
    if with_uncertainty:
        columns.append(('unc.', {'justify': 'right', 'no_wrap': True}))
    if stored:
        columns += [identifier_column('prediction', wide), ('stored', {'no_wrap': True})]
    rows = table(None, columns)
    for result, again in classified:
        p = result['probabilities'].get(result['label'])  # none for an answer that is no class ('unknown')
        row = [result['file'], format_label(result['label']), '-' if p is None else f'{p:.3f}']
        if with_uncertainty:
            row.append('-' if result.get('uncertainty') is None else f'{result["uncertainty"]:.3f}')
        if stored:
            row += [short_id(result['uuid'], wide), 'found' if again else 'new']
        rows.add_row(*row)
    console(wide=wide).print(rows)


def _print_per_atom(results: Sequence[dict[str, Any]], *, wide: bool) -> None:
    """Per input: the atom count and the share of each label, on standard output."""
    from .utils import console, table

    classified = [r for r in results if 'error' not in r]
    if not classified:
        return
    rows = table(None, [('file', {'overflow': 'fold', 'ratio': 1}), ('atoms', {'justify': 'right'}), ('labels', {})])
    for result in classified:
        shares = ', '.join(f'{name} {100 * share:.1f}%' for name, share in result['fractions'].items())
        rows.add_row(result['file'], str(result['atoms']), shares)
    console(wide=wide).print(rows)


def _print_summary(results: Sequence[dict[str, Any]], reused: Sequence[bool], *, as_json: bool) -> None:
    """One line of counts on standard error, then the failed inputs (at most :data:`MAX_ERROR_LINES` of them)."""
    failed = [r for r in results if 'error' in r]
    n_reused = sum(reused)
    parts = [f'{len(results) - len(failed)} of {len(results)} input(s) classified']
    if n_reused:
        parts.append(
            f'{n_reused} found already (identical structure, same model: not stored again; --force stores it anew)'
        )
    if failed:
        parts.append(f'{len(failed)} failed')
    click.echo('; '.join(parts) + '.', err=True)
    for result in failed[:MAX_ERROR_LINES]:
        click.secho(f'Error: {result["file"]}: {result["error"]}', fg='red', err=True)
    if len(failed) > MAX_ERROR_LINES:
        where = 'in the JSON on standard output' if as_json else 'with --json'
        click.secho(f'... and {len(failed) - MAX_ERROR_LINES} more failed input(s): every one {where}.', err=True)
