"""``aiida-crystalface dataset``: build fingerprint datasets on disk (no profile needed)."""

from __future__ import annotations

import functools
from pathlib import Path

import click

from .params import options
from .root import cmd_root

__all__ = ('cmd_dataset',)


def _species(value: str | None) -> list[str] | None:
    return None if not value else [s.strip() for s in value.split(',') if s.strip()]


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
        click.option('--species', type=click.STRING, default=None, help='Comma-separated symbols (default: all).'),
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
    """Build datasets of fingerprints: pristine crystals, defective ones, the bcc-to-sc and Lindemann series."""


@cmd_dataset.command('pristine')
@_common
@click.option('--targets', type=click.STRING, default=None, help='Comma-separated cluster sizes (default 32..256).')
def cmd_dataset_pristine(output, species, seed, overwrite, float32, targets):  # noqa: PLR0917
    """Elemental fcc, diamond, bcc and sc crystals, each checked by spglib."""
    from aiida_crystalface.core.datasets import build_pristine_dataset

    sizes = None if not targets else [int(t) for t in targets.split(',')]
    summary = build_pristine_dataset(
        output,
        seed=seed,
        species=_species(species),
        targets=sizes,
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
        species=_species(species),
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
        species=_species(species),
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
        species=_species(species),
        n_structures=n_structures,
        samples=samples,
        overwrite=overwrite,
        dtype='float32' if float32 else 'float16',
    )
    _report(summary, output)


def _report(summary: dict, output: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f'Dataset {output}')
    table.add_column('field')
    table.add_column('value', overflow='fold')
    for key, value in summary.items():
        table.add_row(str(key), f'{value:.3g}' if isinstance(value, float) else str(value))
    Console().print(table)
