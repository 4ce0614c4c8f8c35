"""``aiida-crystalface explain``: attentive response maps of the ConvNet for one structure (no profile needed)."""

from __future__ import annotations

from pathlib import Path

import click

from .params import options
from .root import cmd_root

__all__ = ('cmd_explain',)


@cmd_root.command('explain')
@click.argument('file', type=click.Path(exists=True, dir_okay=False))
@click.option(
    '-o',
    '--output',
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help='The PNG file to write: the fingerprint beside the attentive response maps of the strongest filters.',
)
@options.MODEL()
@click.option('--top-k', type=click.IntRange(min=1), default=4, show_default=True, help='Number of filters shown.')
@options.FRAME()
def cmd_explain(file, output, model, top_k, frame):
    """Show where the ConvNet looks in a structure's fingerprint.

    Writes the attentive response maps of the paper's Fig. 5: for each convolutional layer, the back-projection of the
    strongest activation of each of its TOP_K most active filters, drawn over the fingerprint (the caption of the
    figure says how to read it).
    """
    from aiida_crystalface.core.diffraction import FingerprintSettings, fingerprint
    from aiida_crystalface.core.structures import StructureError, read_structures
    from aiida_crystalface.ml.explain import attentive_response_maps, save_attentive_response_png

    from .utils import load_classifier

    # Attentive response maps are drawn for one-channel models: the four-class model unless --model says otherwise.
    classifier = load_classifier(model, use_profile=False, default='open-4class')
    try:
        frames = read_structures(file)
        if frame >= len(frames):
            raise click.BadParameter(
                f'{file} holds {len(frames)} frame(s); there is no frame {frame}', param_hint='--frame'
            )
        image = fingerprint(frames[frame], FingerprintSettings.from_dict(classifier.settings))
    except StructureError as exception:
        raise click.ClickException(str(exception)) from None
    [answer] = classifier.classify([frames[frame]])
    label = answer.get('label', 'error')
    maps = attentive_response_maps(classifier, image, top_k=top_k)
    output.parent.mkdir(parents=True, exist_ok=True)
    save_attentive_response_png(image, maps, output, title=f'{frames[frame].label}: {label}')
    click.echo(f'Wrote the attentive response maps of {frames[frame].label} to {output}', err=True)
    if label in ('unknown', 'amorphous'):
        meaning = 'a crystal of none of the classes' if label == 'unknown' else 'no long-range order'
        click.echo(
            f'The answer is {label!r} ({meaning}), not a class: the maps show where the network looks, not evidence '
            f'for any class.',
            err=True,
        )
    elif 'uncertainty' in answer:
        click.echo(f'The answer is {label!r} (uncertainty {answer["uncertainty"]:.3f}).', err=True)
