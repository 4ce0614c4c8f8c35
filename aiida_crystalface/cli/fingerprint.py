"""``aiida-crystalface fingerprint``: render the diffraction fingerprint of one structure (no profile needed)."""

from __future__ import annotations

from pathlib import Path

import click

from .root import cmd_root

__all__ = ('cmd_fingerprint',)


@cmd_root.command('fingerprint')
@click.argument('file', type=click.Path(exists=True, dir_okay=False))
@click.option(
    '-o',
    '--output',
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help='Where to write the fingerprint: a PNG image, or the raw float32 array when the name ends in .npy.',
)
@click.option('--frame', type=click.IntRange(min=0), default=0, show_default=True, help='Frame of a multi-frame file.')
def cmd_fingerprint(file, output, frame):
    """Compute the two-dimensional diffraction fingerprint of the structure in FILE and write it to OUTPUT."""
    import numpy as np

    from aiida_crystalface.core.diffraction import FingerprintSettings, fingerprint_batch
    from aiida_crystalface.core.structures import StructureError, read_structures

    try:
        frames = read_structures(file)
        if frame >= len(frames):
            raise click.BadParameter(
                f'{file} holds {len(frames)} frame(s); there is no frame {frame}', param_hint='--frame'
            )
        result = fingerprint_batch([frames[frame]], FingerprintSettings())
        if result.errors:
            raise StructureError(result.errors[0].removeprefix('structure 0: '))
    except StructureError as exception:
        raise click.ClickException(str(exception)) from None
    image, lattice = result.images[0], result.lattices[0]
    output.parent.mkdir(parents=True, exist_ok=True)
    if output.suffix.lower() == '.npy':
        np.save(output, image)
    else:
        from aiida_crystalface.core.render import save_fingerprint_png

        save_fingerprint_png(image, output, title=frames[frame].label)
    click.echo(
        f'Wrote the {image.shape[0]} x {image.shape[1]} fingerprint of {frames[frame].label} to {output}', err=True
    )
    if lattice['lattice_found']:
        click.echo(f'Lattice found: score {lattice["lattice_score"]:.3f} (1 for a perfect crystal)', err=True)
    else:
        message = f'No lattice found ({lattice["lattice_reason"]}): the cell was used as given'
        click.secho(message, fg='yellow', err=True)
