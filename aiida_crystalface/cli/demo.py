"""``aiida-crystalface demo``: classify a small pristine + defective set with provenance, and show the results."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click
import numpy as np

from .params import options
from .root import cmd_root

__all__ = ('cmd_demo',)

GROUP_PREFIX = 'crystalface/demo'


@cmd_root.command('demo')
@click.option(
    '-o',
    '--output',
    'output_dir',
    type=click.Path(file_okay=False, path_type=Path),
    default=Path('crystalface-demo'),
    show_default=True,
    help='Folder for the PNG figures (in the current folder by default; git ignores it in the repository).',
)
@options.MODEL()
@options.SEED()
@options.FORCE()
@click.pass_context
def cmd_demo(ctx, output_dir, model, seed, force):
    """Classify a small set of pristine and defective crystals.

    Builds the set, classifies it through ClassifyStructuresWorkChain, stores everything with provenance, prints the
    accuracy per defect kind, writes PNG figures (one fingerprint per class, the confusion matrix) to OUTPUT and
    prints the QueryBuilder line that finds the results again. Takes a minute or two on a laptop. Run again, it finds
    the structures classified already and stores nothing new (unless --force).
    """
    from aiida_crystalface.core.demo import demo_structures
    from aiida_crystalface.provenance import predicted_class_key
    from aiida_crystalface.workflows.launch import classify_structures

    from .profile import ensure_profile
    from .utils import console, load_model_node, quiet_process_reports, stage_progress

    err = console(stderr=True)
    start = time.perf_counter()
    profile = ensure_profile(ctx)
    with err.status('Building the pristine and defective structures'):
        items = demo_structures(seed)
    err.print(f'Built {len(items)} structures (seed {seed}) in {time.perf_counter() - start:.1f} s.')
    model_node = load_model_node(model) if model is not None else None
    stages = {'store': 'Storing the structures', 'classify': 'Classifying (ClassifyStructuresWorkChain)'}
    with stage_progress(stages) as progress, quiet_process_reports():
        run = classify_structures(
            [item[0] for item in items],
            model=model_node,
            group_prefix=GROUP_PREFIX,
            force=force,
            progress=progress.update,
        )
    if run.workchain is not None:
        err.print(
            f'ClassifyStructuresWorkChain<{run.workchain.pk}> finished: {run.workchain.process_state.value}, '
            f'exit status {run.workchain.exit_status}; the structures are in the group `{run.group.label}`.'
        )
    if run.n_reused:
        err.print(
            f'{run.n_reused} of {len(items)} structures were classified by this model already (same content): their '
            'stored predictions are shown and nothing new is stored for them (--force classifies them again).'
        )
    console().print(accuracy_table(items, run.results))
    figures = save_figures(items, run, output_dir)
    click.echo(f'Figures: {", ".join(str(path.resolve()) for path in figures)}')
    click.echo(f'Everything is stored in the AiiDA profile `{profile.name}`. Find the results again in `verdi shell`:')
    key = predicted_class_key()
    click.echo(
        f"  QueryBuilder().append(DataFactory('crystalface.classification'), filters={{'attributes.{key}': 'bcc', "
        "'attributes.max_probability': {'>=': 0.9}}, project=['uuid', 'attributes.max_probability']).all()"
    )
    click.echo(
        'or, with the structure behind each prediction: aiida-crystalface query --label bcc --min-probability 0.9'
    )
    click.echo(f'Done in {time.perf_counter() - start:.1f} s.')


def accuracy_table(items: Sequence[tuple], results: Sequence[dict[str, Any]]):
    """A rich Table: per defect kind, the number of structures, the correct ones and the accuracy."""
    from .utils import table

    output = table(
        'Demo: accuracy of the bundled model per defect kind',
        [
            ('defect kind', {}),
            ('structures', {'justify': 'right'}),
            ('correct', {'justify': 'right'}),
            ('accuracy', {'justify': 'right'}),
            ('failed', {'justify': 'right'}),
        ],
    )
    kinds = list(dict.fromkeys(kind for _, _, kind in items))
    for kind in [*kinds, None]:
        rows = [(label, r) for (_, label, k), r in zip(items, results, strict=True) if kind is None or k == kind]
        good = [(label, r) for label, r in rows if 'error' not in r]
        correct = sum(r['label'] == label for label, r in good)
        accuracy = f'{correct / len(good):.1%}' if good else '-'
        name = 'all' if kind is None else kind
        output.add_row(
            name, str(len(rows)), str(correct), accuracy, str(len(rows) - len(good)), end_section=kind == kinds[-1]
        )
    return output


def confusion_matrix(
    items: Sequence[tuple], results: Sequence[dict[str, Any]], classes: Sequence[str]
) -> tuple[np.ndarray, list[str]]:
    """Counts (rows: ``classes``, the true classes, columns: predicted answers, failed inputs left out) and the
    column names: the classes, then any other answer given (another class of the model, ``unknown``,
    ``amorphous``)."""
    answers = [r['label'] for r in results if 'error' not in r]
    columns = [*classes, *sorted(set(answers) - set(classes))]
    index = {name: i for i, name in enumerate(columns)}
    matrix = np.zeros((len(classes), len(columns)), dtype=int)
    for (_, label, _), result in zip(items, results, strict=True):
        if 'error' not in result:
            matrix[classes.index(label), index[result['label']]] += 1
    return matrix, columns


def save_figures(items: Sequence[tuple], run, output_dir: Path) -> list[Path]:
    """Write ``fingerprints.png`` (one pristine item per class) and ``confusion_matrix.png``; return their paths."""
    from aiida_crystalface.core.render import save_confusion_matrix_png, save_fingerprint_grid

    output_dir.mkdir(parents=True, exist_ok=True)
    present = {label for _, label, _ in items}
    classes = [name for name in run.classes if name in present]  # the demo's classes, in the model's order
    images, titles = [], []
    for name in classes:
        for index, ((structure, label, kind), result) in enumerate(zip(items, run.results, strict=True)):
            if label == name and kind == 'pristine' and 'error' not in result:
                images.append(_image(run, index, structure))
                titles.append(f'{structure.label} -> {result["label"]}')
                break
    paths = []
    if images:
        paths.append(save_fingerprint_grid(np.asarray(images), titles, output_dir / 'fingerprints.png'))
    matrix, columns = confusion_matrix(items, run.results, classes)
    paths.append(
        save_confusion_matrix_png(
            matrix, classes, output_dir / 'confusion_matrix.png', title='Demo: confusion matrix', predicted=columns
        )
    )
    return paths


def _image(run, index: int, structure) -> np.ndarray:
    """The stored fingerprint behind the prediction of input ``index``."""
    from aiida import orm

    from aiida_crystalface.provenance import prediction_provenance

    return prediction_provenance(orm.load_node(run.results[index]['uuid']))['image']
