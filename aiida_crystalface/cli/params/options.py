"""Reusable options of the ``aiida-crystalface`` command.

An option has one meaning everywhere: ``--profile`` is the root's (no short flag of a command reuses ``-p``), ``-m`` is
always ``--model``, ``-o`` always ``--output``, ``-n`` always ``--limit``.
"""

from __future__ import annotations

import functools
from pathlib import Path

import click
from aiida.cmdline.params import options as core_options
from aiida.cmdline.params import types as core_types

from .types import SpeciesList

__all__ = (
    'FORCE',
    'FRAME',
    'JSON',
    'LIMIT',
    'MODEL',
    'OUTPUT_FILE',
    'PROFILE',
    'SEED',
    'SPECIES',
    'VERBOSITY',
    'WIDE',
)

# The profile is resolved (and created when there is none) only by the commands that need a database, so that
# ``fingerprint`` or ``classify --no-store`` never load one (nor even read the configuration): ``load_profile=False``
# and no callable default.
PROFILE = functools.partial(
    core_options.PROFILE,
    type=core_types.ProfileParamType(load_profile=False),
    default=None,
    expose_value=False,
    help='Use this AiiDA profile instead of the default one (created when there is no profile at all).',
)

VERBOSITY = core_options.VERBOSITY

JSON = core_options.OverridableOption(
    '--json', 'as_json', is_flag=True, default=False, help='Print the results as JSON on standard output.'
)

WIDE = core_options.OverridableOption(
    '--wide',
    is_flag=True,
    default=False,
    help='Show full UUIDs instead of their first 8 characters (which verdi accepts as well); the table is as wide as '
    'it needs to be.',
)

MODEL = core_options.OverridableOption(
    '-m',
    '--model',
    type=click.STRING,
    default=None,
    metavar='FILE_NAME_OR_UUID',
    help='A model file (.safetensors), the name of a bundled model (open-4class, pristine-4class, bulk-59) or the '
    'UUID / PK of a stored model node; default: the bundled bulk-59 (open-4class with --per-atom and for explain).',
)

OUTPUT_FILE = core_options.OverridableOption(
    '-o', '--output', type=click.Path(dir_okay=False, path_type=Path), required=True, help='The file to write.'
)

SEED = core_options.OverridableOption(
    '--seed', type=click.IntRange(min=0), default=0, show_default=True, help='Seed of every random step.'
)

FRAME = core_options.OverridableOption(
    '--frame', type=click.IntRange(min=0), default=0, show_default=True, help='Frame of a multi-frame file.'
)

LIMIT = core_options.OverridableOption(
    '-n', '--limit', type=click.IntRange(min=1), default=100, show_default=True, help='At most this many rows.'
)

SPECIES = core_options.OverridableOption(
    '--species', type=SpeciesList(), default=None, help='Comma-separated chemical symbols (default: all).'
)

FORCE = core_options.OverridableOption(
    '--force',
    is_flag=True,
    default=False,
    help='Classify and store every input again, even one whose identical structure was classified already by the '
    'same model.',
)
