"""PNG pictures of per-atom classes: a slab through a structure, and label fractions along a trajectory.

matplotlib is imported lazily with the non-interactive Agg backend. Every label has a fixed colour (:data:`COLOURS`;
labels not listed get one from a fixed cycle, in sorted order), so pictures of the same structure by different methods
compare at a glance.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ('COLOURS', 'label_colours', 'plot_fractions', 'plot_slice')

#: Fixed colour per label.
COLOURS = {
    'fcc': '#2ca02c',
    'bcc': '#1f77b4',
    'hcp': '#d62728',
    'diamond': '#9467bd',
    'sc': '#ff7f0e',
    'hexagonal diamond': '#8c564b',
    'unknown': '#7f7f7f',
    'amorphous': '#f2d8a7',
}
_EXTRA = ('#e377c2', '#17becf', '#bcbd22', '#393b79', '#637939', '#8c6d31')


def _pyplot():
    import matplotlib

    matplotlib.use('Agg', force=False)
    import matplotlib.pyplot as plt

    return plt


def label_colours(labels: Sequence[str]) -> dict[str, str]:
    """A colour for every distinct label: :data:`COLOURS`, then a fixed cycle for the others (sorted)."""
    colours = {}
    extra = 0
    for label in sorted({str(x) for x in labels}):
        if label in COLOURS:
            colours[label] = COLOURS[label]
        else:
            colours[label] = _EXTRA[extra % len(_EXTRA)]
            extra += 1
    return colours


def plot_slice(
    positions: Any,
    labels: Sequence[str],
    path: str | os.PathLike,
    *,
    axis: int = 2,
    centre: float | None = None,
    thickness: float = 4.0,
    title: str | None = None,
) -> Path:
    """Write a PNG of the atoms within ``thickness / 2`` angstrom of the plane ``x[axis] = centre``, coloured by label.

    ``centre`` defaults to the middle of the positions' extent along ``axis``. The two other Cartesian axes are the
    picture's (in cyclic order: axis 2 shows x, y). The legend gives each label's count in the slab.
    """
    positions = np.asarray(positions, dtype=float)
    labels = np.asarray([str(x) for x in labels])
    if positions.ndim != 2 or positions.shape[1] != 3:
        raise ValueError(f'positions must be (N, 3), got shape {positions.shape}')
    if len(labels) != len(positions):
        raise ValueError(f'{len(labels)} labels for {len(positions)} positions')
    if axis not in (0, 1, 2):
        raise ValueError(f'axis must be 0, 1 or 2, got {axis!r}')
    if not thickness > 0:
        raise ValueError(f'thickness must be positive, got {thickness!r}')
    if len(positions) == 0:
        raise ValueError('no atoms to draw')
    coordinate = positions[:, axis]
    if centre is None:
        centre = 0.5 * (coordinate.min() + coordinate.max())
    chosen = np.abs(coordinate - centre) <= thickness / 2
    u, v = (axis + 1) % 3, (axis + 2) % 3
    colours = label_colours(labels)
    plt = _pyplot()
    figure, ax = plt.subplots(figsize=(6.0, 6.0), dpi=110)
    try:
        for label, colour in colours.items():
            mask = chosen & (labels == label)
            count = int(mask.sum())
            if count == 0:
                continue
            ax.scatter(
                positions[mask, u],
                positions[mask, v],
                s=14,
                c=colour,
                edgecolors='k',
                linewidths=0.2,
                label=f'{label} ({count})',
            )
        ax.set_aspect('equal')
        names = 'xyz'
        ax.set_xlabel(f'{names[u]} (angstrom)')
        ax.set_ylabel(f'{names[v]} (angstrom)')
        slab = f'{names[axis]} = {centre:.1f} +/- {thickness / 2:.1f} angstrom, {int(chosen.sum())} atoms'
        ax.set_title(f'{title}\n{slab}' if title else slab, fontsize=10)
        if chosen.any():
            ax.legend(loc='upper right', fontsize=8, framealpha=0.85)
        path = Path(path)
        figure.savefig(path, bbox_inches='tight')
    finally:
        plt.close(figure)
    return path


def plot_fractions(
    fractions: Sequence[Mapping[str, float]], path: str | os.PathLike, *, title: str | None = None
) -> Path:
    """Write a PNG of the fraction of each label (one line per label) against the frame index.

    ``fractions``: one ``{label: fraction}`` per frame; a label missing from a frame counts 0 there.
    """
    fractions = list(fractions)
    if not fractions:
        raise ValueError('fractions: at least one frame')
    labels = sorted({str(k) for frame in fractions for k in frame})
    if not labels:
        raise ValueError('fractions: the frames name no label')
    colours = label_colours(labels)
    frames = np.arange(len(fractions))
    plt = _pyplot()
    figure, ax = plt.subplots(figsize=(7.0, 4.0), dpi=110)
    try:
        for label in labels:
            values = [float(frame.get(label, 0.0)) for frame in fractions]
            ax.plot(frames, values, marker='o' if len(frames) < 30 else None, ms=3, color=colours[label], label=label)
        ax.set_xlabel('frame')
        ax.set_ylabel('fraction of atoms')
        ax.set_ylim(-0.02, 1.02)
        if title:
            ax.set_title(title, fontsize=10)
        ax.legend(fontsize=8, framealpha=0.85)
        path = Path(path)
        figure.savefig(path, bbox_inches='tight')
    finally:
        plt.close(figure)
    return path
