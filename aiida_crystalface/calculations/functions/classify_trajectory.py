"""Calcfunction: a model and a range of frames of a trajectory -> one per-atom classification per frame."""

from __future__ import annotations

from typing import Any

from aiida import orm
from aiida.engine import calcfunction

from aiida_crystalface._internals import batched_links
from aiida_crystalface.calculations.functions.classify_atoms import (
    BAD_STRUCTURE_ERRORS,
    classify_one,
    local_classifier,
    window_options,
)
from aiida_crystalface.calculations.utils import finish_batch
from aiida_crystalface.data.model import ConvNetModelData

__all__ = ('classify_trajectory', 'frame_name', 'frame_structures')


def frame_name(index: int) -> str:
    """The output name of frame ``index``: ``frame_00012``."""
    return f'frame_{int(index):05d}'


def frame_structures(trajectory: orm.TrajectoryData, start: int, stop: int) -> dict[int, Any]:
    """Frame index -> ASE ``Atoms`` of the frames ``[start, stop)`` (each array read from the repository once).

    A trajectory without cells gives finite structures (no cell, ``pbc`` False); with cells, the trajectory's
    ``pbc`` (periodic in every direction where it records none: aiida-core before 2.7 has no ``pbc`` on a
    trajectory, and ``get_step_structure`` makes every frame periodic).
    """
    from ase import Atoms

    steps = trajectory.numsteps
    if not 0 <= start < stop <= steps:
        raise ValueError(f'frames [{start}, {stop}): expected 0 <= start < stop <= {steps}, the number of frames')
    positions = trajectory.get_positions()
    cells = trajectory.get_cells()
    symbols = list(trajectory.symbols)
    pbc = (False, False, False)
    if cells is not None:
        pbc = tuple(bool(p) for p in (getattr(trajectory, 'pbc', None) or (True, True, True)))
    frames = {}
    for index in range(start, stop):
        cell = cells[index] if cells is not None else None
        frames[index] = Atoms(symbols=symbols, positions=positions[index], cell=cell, pbc=pbc)
    return frames


@batched_links
@calcfunction
def classify_trajectory(
    trajectory: orm.TrajectoryData,
    model: ConvNetModelData,
    start: orm.Int,
    stop: orm.Int,
    options: orm.Dict | None = None,
):
    """Classify every atom of the frames ``[start, stop)`` of a trajectory with the model.

    :param trajectory: the trajectory (positions per frame; cells per frame for a periodic one).
    :param model: the trained ConvNet (a ``crystalface.model`` node).
    :param start: the first frame (0-based).
    :param stop: one past the last frame.
    :param options: the window options, passed as keyword arguments to ``Classifier.classify_atoms``.
    :returns: one ``crystalface.local_classification`` node per frame, named ``frame_<index>`` (five digits), with
        its index as the attribute ``frame``; a frame the classifier cannot read is reported as failed, the others
        are classified.
    """
    classifier = local_classifier(model.uuid)
    kwargs = window_options(options)
    outputs, errors = {}, {}
    for index, atoms in frame_structures(trajectory, start.value, stop.value).items():
        key = frame_name(index)
        try:
            outputs[key] = classify_one(classifier, atoms, kwargs, frame=index)
        except BAD_STRUCTURE_ERRORS as exception:
            errors[key] = f'{key} (TrajectoryData<{trajectory.pk}>): {exception}'
    return finish_batch(outputs, errors, 'frames')
