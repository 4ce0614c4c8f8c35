"""``aiida-crystalface reproduce``: rebuild the paper's figures and accuracy table with provenance, and a report."""

from __future__ import annotations

from pathlib import Path

import click

from .root import cmd_root

__all__ = ('cmd_reproduce',)


@cmd_root.command('reproduce')
@click.option(
    '-o',
    '--output',
    'output_dir',
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help='Folder for report.md, results.json and figures/.',
)
@click.option(
    '--quick',
    'mode',
    flag_value='quick',
    help='Subsets (10 species, 2 cluster sizes, short series): minutes, for CI. Default: the full protocol.',
)
@click.option('--tiny', 'mode', flag_value='tiny', hidden=True, help='Tiny subsets for the tests.')
@click.option('--full', 'mode', flag_value='full', default=True, hidden=True)
@click.option('--data-seed', type=int, default=0, show_default=True, help='Seed of the pristine and defective sets.')
@click.option('--training-seed', type=int, default=0, show_default=True, help='Seed of the splits and the training.')
@click.option('--series-seed', type=int, default=0, show_default=True, help='Seed of the bcc -> sc / Lindemann series.')
@click.pass_context
def cmd_reproduce(ctx, output_dir, mode, data_seed, training_seed, series_seed):  # noqa: PLR0917
    """Reproduce the paper's figures and accuracy table.

    Fingerprints (Fig. 2), the accuracy table with the nearest-template baseline, the bcc -> sc and Lindemann series
    (Fig. 4) and attentive response maps (Fig. 5); every number stored with provenance. The full mode runs every item
    of the protocol (~6,300 pristine and ~82,000 defective items) and takes hours on two cores; --quick finishes in
    minutes.
    """
    from aiida_crystalface.reproduce import ReproduceConfig, run_reproduction

    from .profile import ensure_profile
    from .utils import quiet_process_reports

    if output_dir.exists() and (output_dir / 'report.md').exists():
        raise click.BadParameter(f'{output_dir} holds a report already; choose another folder', param_hint='--output')
    ensure_profile(ctx)
    config = ReproduceConfig.for_mode(mode, data_seed=data_seed, training_seed=training_seed, series_seed=series_seed)
    with _StepStatus() as status, quiet_process_reports():
        results = run_reproduction(config, output_dir, echo=status.echo)
    for line in failure_summary(results):
        click.echo(line, err=True)
    click.echo(str(output_dir / 'report.md'))


#: The steps of :func:`~aiida_crystalface.reproduce.run_reproduction`, in order.
STEPS = ('datasets', 'training', 'templates', 'evaluation', 'series', 'figures')


class _StepStatus:
    """Turns the pipeline's ``[reproduce] STEP ...`` / ``... done in`` lines into a spinner with the elapsed time of
    the running step (``step i of n``), and one printed line per finished step."""

    def __enter__(self):
        from .utils import console

        self.console = console(stderr=True)
        self.status = None
        return self

    def echo(self, message: str) -> None:
        text = str(message)
        if text.startswith('[reproduce] ') and text.endswith(' ...'):
            name = text.removeprefix('[reproduce] ').removesuffix(' ...')
            number = f'step {STEPS.index(name) + 1} of {len(STEPS)}: ' if name in STEPS else ''
            self._stop()
            self.status = self.console.status(f'Reproducing the paper, {number}{name}')
            self.status.start()
            return
        self._stop()
        self.console.print(text, markup=False, highlight=False)

    def _stop(self) -> None:
        if self.status is not None:
            self.status.stop()
            self.status = None

    def __exit__(self, *exc) -> None:
        self._stop()


def failure_summary(results: dict) -> list[str]:
    """One line per series in which some samples had no lattice (answered ``amorphous``), with where to find them."""
    lines = []
    for name, value in (results.get('series') or {}).items():
        pooled = value.get('pooled') or {}
        counts, fractions = pooled.get('n') or [], pooled.get('no_lattice') or []
        missing = round(sum(float(f) * int(n) for f, n in zip(fractions, counts, strict=False)))
        if not missing:
            continue
        pks = ', '.join(str(run['workchain']['pk']) for run in value.get('runs', []) if 'workchain' in run)
        lines.append(
            f'{name}: {missing} of {sum(int(n) for n in counts)} samples had no lattice found and were answered '
            f"'amorphous' (expected at high disorder; counted per level in report.md); their classification nodes "
            f'are in the series WorkChains {pks}.'
        )
    return lines
