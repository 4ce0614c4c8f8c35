"""Reusable options of the ``aiida-crystalface`` command."""

from __future__ import annotations

import functools
from pathlib import Path

import click
from aiida.cmdline.params import options as core_options
from aiida.cmdline.params import types as core_types

__all__ = ('JSON', 'MODEL', 'OUTPUT_FILE', 'PROFILE', 'SEED', 'VERBOSITY')

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

MODEL = core_options.OverridableOption(
    '-m',
    '--model',
    type=click.STRING,
    default=None,
    metavar='FILE_OR_UUID',
    help='A model file (.safetensors) or the UUID / PK of a stored model node; default: the bundled model.',
)

OUTPUT_FILE = core_options.OverridableOption(
    '-o', '--output', type=click.Path(dir_okay=False, path_type=Path), required=True, help='The file to write.'
)

SEED = core_options.OverridableOption(
    '--seed', type=click.IntRange(min=0), default=0, show_default=True, help='Seed of every random step.'
)
