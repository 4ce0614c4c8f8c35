"""``aiida-crystalface fingerprint``: render the diffraction fingerprint of one structure (no profile needed)."""

from __future__ import annotations

from pathlib import Path

import click

from .params import options
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
@options.FRAME()
def cmd_fingerprint(file, output, frame):
    """Write the diffraction fingerprint of a structure file.

    The PNG has axes in q / 2 pi (units of the inverse nearest-neighbour distance), a colour bar and a caption saying
    how the image was made; the .npy file holds the raw 64 x 64 float32 array in [0, 1].
    """
    import numpy as np

    from aiida_crystalface.core.diffraction import FingerprintSettings, fingerprint_batch
    from aiida_crystalface.core.structures import StructureError, read_structures

    try:
        frames = read_structures(file)
        if frame >= len(frames):
            raise click.BadParameter(
                f'{file} holds {len(frames)} frame(s); there is no frame {frame}', param_hint='--frame'
            )
        settings = FingerprintSettings()
        result = fingerprint_batch([frames[frame]], settings)
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

        save_fingerprint_png(image, output, title=frames[frame].label, settings=settings)
    click.echo(
        f'Wrote the {image.shape[0]} x {image.shape[1]} fingerprint of {frames[frame].label} to {output}', err=True
    )
    if lattice['lattice_found']:
        click.echo(f'Lattice found: score {lattice["lattice_score"]:.3f} (1 for a perfect crystal)', err=True)
    else:
        message = f'No lattice found ({lattice["lattice_reason"]}): the cell was used as given'
        click.secho(message, fg='yellow', err=True)
