"""``aiida-crystalface dft``: set up Quantum ESPRESSO (pw.x and pseudopotentials) for ClassifyAndComputeWorkChain."""

from __future__ import annotations

from pathlib import Path

import click

from aiida_crystalface import dft_setup

from .root import cmd_root

__all__ = ('cmd_dft',)


@cmd_root.group('dft')
def cmd_dft():
    """Chain classifications into DFT (Quantum ESPRESSO).

    pw.x with an aiida-pseudo pseudopotential family, for ClassifyAndComputeWorkChain.
    """


@cmd_dft.command('setup')
@click.option(
    '--computer',
    'computer_label',
    default=dft_setup.DEFAULT_COMPUTER_LABEL,
    show_default=True,
    help='The computer that runs pw.x: created (core.local, core.direct) when missing.',
)
@click.option(
    '--code-label',
    default=dft_setup.DEFAULT_CODE_LABEL,
    show_default=True,
    help='Label of the pw.x code on that computer (the code is CODE_LABEL@COMPUTER).',
)
@click.option(
    '--family',
    'family_label',
    default=dft_setup.DEFAULT_FAMILY,
    show_default=True,
    help='Label of the pseudopotential family to install.',
)
@click.option(
    '--executable',
    default='pw.x',
    show_default=True,
    help='pw.x: a name looked up on PATH, or an absolute path.',
)
@click.option(
    '--upf-dir',
    'upf_dirs',
    multiple=True,
    type=click.Path(file_okay=False, path_type=Path),
    help='Folder to take the UPF files from (repeatable); default: where quantum-espresso-data puts them.',
)
@click.pass_context
def cmd_dft_setup(ctx, computer_label, code_label, family_label, executable, upf_dirs):  # noqa: PLR0917
    """Register pw.x as an AiiDA code on localhost and install the LDA pseudopotential family, with cutoffs.

    Everything comes from Debian's packages: pw.x from `quantum-espresso`, the UPF files from `quantum-espresso-data`
    (copied, or gunzipped, into a folder, then installed through aiida-pseudo); nothing is downloaded. Running it again
    changes nothing: what exists is checked and reused.
    """
    from .profile import ensure_profile

    ensure_profile(ctx)
    search_paths = tuple(upf_dirs) or dft_setup.UPF_SEARCH_PATHS
    try:
        result = dft_setup.setup(
            computer_label=computer_label,
            code_label=code_label,
            family_label=family_label,
            executable=executable,
            search_paths=search_paths,
        )
    except dft_setup.DftSetupError as exception:
        raise click.ClickException(str(exception)) from None
    state = {True: 'created', False: 'found'}
    computer, code, family = result.computer, result.code, result.family
    click.echo(f'computer  {computer.label:<32} {state[result.created["computer"]]} ({computer.get_workdir()})')
    click.echo(f'code      {code.full_label:<32} {state[result.created["code"]]} ({code.filepath_executable})')
    elements = ', '.join(sorted(family.elements))
    click.echo(f'family    {family.label:<32} {state[result.created["family"]]} ({elements})')
    for element in sorted(family.elements):
        wfc, rho = family.get_recommended_cutoffs(elements=(element,), unit='Ry')
        pseudo = family.get_pseudo(element)
        click.echo(f'          {element:<3} {pseudo.filename:<28} ecutwfc {wfc:5.1f} Ry  ecutrho {rho:6.1f} Ry')
    click.echo(
        f'Ready: run ClassifyAndComputeWorkChain (crystalface.classify_and_compute) with code={code.full_label} '
        f'and pseudo_family={family.label}.'
    )
