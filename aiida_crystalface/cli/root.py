"""The root of the ``aiida-crystalface`` command: a ``verdi``-like group with ``--profile`` and ``--verbosity``."""

from __future__ import annotations

import click
from aiida.cmdline.groups.verdi import VerdiCommandGroup

from aiida_crystalface import __version__

from .params import options

__all__ = ('cmd_root',)


@click.group('aiida-crystalface', cls=VerdiCommandGroup, context_settings={'help_option_names': ['-h', '--help']})
@options.VERBOSITY()
@options.PROFILE()
@click.version_option(__version__, '--version', package_name='aiida-crystalface', message='%(prog)s %(version)s')
def cmd_root():
    """Classify crystal structures from their two-dimensional diffraction fingerprints.

    Commands that store results (classify, train, query, models, demo) use the AiiDA profile given by --profile, or
    the default one; when no profile exists at all, an SQLite profile is created for you, as `verdi presto` does.
    Commands that only compute (fingerprint, explain, dataset, classify --no-store) never touch a profile.
    """
