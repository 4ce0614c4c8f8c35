"""``aiida-crystalface dataset``: build fingerprint datasets on disk (no profile needed)."""

from __future__ import annotations

import functools
from pathlib import Path

import click

from .params import options
from .params.types import IntegerList, NameList
from .root import cmd_root

__all__ = ('cmd_dataset',)


def _common(command):
    """Options every dataset kind takes."""
    decorators = [
        click.option(
            '-o',
            '--output',
            type=click.Path(dir_okay=False, path_type=Path),
            required=True,
            help='The dataset file to write (HDF5).',
        ),
        options.SPECIES(),
        options.SEED(),
        click.option('--overwrite', is_flag=True, help='Replace OUTPUT when it exists.'),
        click.option('--float32', 'float32', is_flag=True, help='Store float32 images (default float16).'),
    ]
    return functools.reduce(lambda cmd, decorator: decorator(cmd), reversed(decorators), command)


def _series(command):
    """Options of the bcc series (transition and Lindemann)."""
    decorators = [
        click.option(
            '--pristine',
            type=click.Path(exists=True, dir_okay=False),
            default=None,
            help='A pristine dataset file to draw the bcc items from (default: build them).',
        ),
        click.option(
            '--n-structures',
            type=click.IntRange(min=1),
            default=25,
            show_default=True,
            help='bcc items drawn at random.',
        ),
        click.option(
            '--samples',
            type=click.IntRange(min=1),
            default=5,
            show_default=True,
            help='Random draws per item and step.',
        ),
    ]
    return functools.reduce(lambda cmd, decorator: decorator(cmd), reversed(decorators), command)


@cmd_root.group('dataset')
def cmd_dataset():
    """Build fingerprint datasets (no profile needed).

    Pristine crystals, defective ones, the bcc-to-sc and Lindemann series, the bulk prototype set, each written to one
    HDF5 file.
    """


@cmd_dataset.command('pristine')
@_common
@click.option(
    '--targets', type=IntegerList(), default=None, help='Comma-separated cluster sizes in atoms (default: 32..256).'
)
def cmd_dataset_pristine(output, species, seed, overwrite, float32, targets):  # noqa: PLR0917
    """Elemental fcc, diamond, bcc and sc crystals, each checked by spglib."""
    from aiida_crystalface.core.datasets import build_pristine_dataset

    summary = build_pristine_dataset(
        output,
        seed=seed,
        species=species,
        targets=targets,
        overwrite=overwrite,
        dtype='float32' if float32 else 'float16',
    )
    _report(summary, output)


@cmd_dataset.command('defective')
@_common
@click.option(
    '--pristine',
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help='The pristine dataset file whose items are damaged (default: build them).',
)
def cmd_dataset_defective(output, species, seed, overwrite, float32, pristine):  # noqa: PLR0917
    """The paper's 13 variants of every pristine item: vacancies, displacements, substitutions."""
    from aiida_crystalface.core.datasets import build_defective_dataset

    summary = build_defective_dataset(
        pristine,
        output,
        seed=seed,
        species=species,
        overwrite=overwrite,
        dtype='float32' if float32 else 'float16',
    )
    _report(summary, output)


@cmd_dataset.command('transition')
@_common
@_series
def cmd_dataset_transition(output, species, seed, overwrite, float32, pristine, n_structures, samples):  # noqa: PLR0917
    """The bcc-to-sc series: 0 to 100 % of the body-centre atoms removed, in steps of 10 %."""
    from aiida_crystalface.core.datasets import build_transition_dataset

    summary = build_transition_dataset(
        pristine,
        output,
        seed=seed,
        species=species,
        n_structures=n_structures,
        samples=samples,
        overwrite=overwrite,
        dtype='float32' if float32 else 'float16',
    )
    _report(summary, output)


@cmd_dataset.command('lindemann')
@_common
@_series
def cmd_dataset_lindemann(output, species, seed, overwrite, float32, pristine, n_structures, samples):  # noqa: PLR0917
    """The Lindemann series: bcc crystals displaced at Lindemann parameters 0 to 0.4."""
    from aiida_crystalface.core.datasets import build_lindemann_dataset

    summary = build_lindemann_dataset(
        pristine,
        output,
        seed=seed,
        species=species,
        n_structures=n_structures,
        samples=samples,
        overwrite=overwrite,
        dtype='float32' if float32 else 'float16',
    )
    _report(summary, output)


def _bulk_classes() -> list[str]:
    from aiida_crystalface.core.classes import BULK_CLASSES

    return list(BULK_CLASSES)


def _bulk_variants() -> list[str]:
    from aiida_crystalface.core.bulkset import VARIANTS

    return list(VARIANTS)


@cmd_dataset.command('prototypes')
@click.option(
    '-o',
    '--output',
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help='The dataset file to write (HDF5).',
)
@click.option(
    '--part',
    type=click.Choice(['train', 'calibration', 'test']),
    default='train',
    show_default=True,
    help="The part of the set: its species and outsider prototypes are disjoint from the other parts'.",
)
@options.SEED()
@click.option(
    '--classes',
    type=NameList(_bulk_classes, 'bulk class'),
    default=None,
    help='Comma-separated bulk classes, e.g. hcp,rocksalt (default: all 59).',
)
@click.option(
    '--draws', type=click.IntRange(min=1), default=2, show_default=True, help='Draws per species tuple and variant.'
)
@click.option(
    '--species-per-class',
    type=click.IntRange(min=1),
    default=None,
    help='Species tuples per class (default: 6 train, 2 calibration, 3 test).',
)
@click.option(
    '--variants',
    type=NameList(_bulk_variants, 'variant'),
    default=None,
    help="Comma-separated damage variants, e.g. 'pristine,vacancies 25 %' (default: all eight).",
)
@click.option('--no-outsiders', is_flag=True, help="Members only: no outsider crystals (target 'other').")
@click.option('--parents', is_flag=True, help="Add the parent prototypes (species-blind copies of a class; 'other').")
@click.option('--overwrite', is_flag=True, help='Replace OUTPUT when it exists.')
@click.option('--float32', 'float32', is_flag=True, help='Store float32 images (default float16).')
def cmd_dataset_prototypes(  # noqa: PLR0917
    output, part, seed, classes, draws, species_per_class, variants, no_outsiders, parents, overwrite, float32
):
    """The bulk prototype set: members of the bulk classes and outsiders, three-channel fingerprints.

    Labels: each member's class; outsiders and parents 'other' (the last class; their label column says 'unknown').
    Fingerprints: FingerprintSettings(orientation='standard', channels=3).
    """
    from aiida_crystalface.core.datasets import build_prototypes_dataset

    summary = build_prototypes_dataset(
        output,
        part=part,
        seed=seed,
        classes=classes,
        draws=draws,
        species_per_class=species_per_class,
        variants=variants,
        outsiders=not no_outsiders,
        parents=parents,
        overwrite=overwrite,
        dtype='float32' if float32 else 'float16',
    )
    _report(summary, output)


def _report(summary: dict, output: Path) -> None:
    """The dataset's summary as a table on standard output (plain numbers), and one line on standard error."""
    from .utils import console, format_value, plain, table

    summary = plain(summary)
    rows = table(f'Dataset {output}', [('field', {'no_wrap': True}), ('value', {'overflow': 'fold'})])
    for key, value in summary.items():
        rows.add_row(str(key), format_value(value))
    console().print(rows)
    items = summary.get('n_items', summary.get('items'))
    count = f'{items} fingerprints ' if items is not None else ''
    click.echo(f'Wrote {count}to {output}.', err=True)
