"""What a reproduction run does: the modes (``tiny`` for tests, ``quick`` for CI, ``full`` for the paper's protocol).

Every random step takes one of the seeds below; the whole configuration is stored with the results (report, Dicts).
"""

from __future__ import annotations

import dataclasses
from typing import Any

__all__ = ('MODES', 'ReproduceConfig')

#: Species of the quick mode: spread over the periodic table (light to heavy scatterers).
QUICK_SPECIES = ('Li', 'Al', 'Si', 'Fe', 'Cu', 'Mo', 'Ag', 'W', 'Au', 'Pb')
#: bcc species of the series in the full mode (five, 25 samples each: the paper's 125 per step).
SERIES_SPECIES = ('Fe', 'Mo', 'W', 'Nb', 'V')


@dataclasses.dataclass(frozen=True)
class ReproduceConfig:
    """Parameters of one reproduction run.

    :param mode: ``'full'`` (every item of the paper's protocol), ``'quick'`` (subsets) or ``'tiny'`` (tests).
    :param species: species of the pristine set (None: every tabulated species).
    :param representations, targets: the pristine grid (None: the prototypes' defaults).
    :param epochs, max_steps: training length (paper: 2 epochs; ``max_steps=-1``: no limit).
    :param series_species, series_samples, series_atoms: the bcc -> sc and Lindemann series (one WorkChain per
        species, ``series_samples`` per level each, supercells of ``series_atoms`` atoms).
    :param data_seed: pristine lattice draws and the defects of the defective set.
    :param training_seed: the random / species splits, initial weights and batch order.
    :param series_seed: the defects of the series.
    :param template_species: species of the four prototypes whose fingerprints are the baseline's templates.
    """

    mode: str = 'full'
    species: tuple[str, ...] | None = None
    representations: tuple[str, ...] | None = None
    targets: tuple[int, ...] | None = None
    epochs: int = 2
    max_steps: int = -1
    series_species: tuple[str, ...] = SERIES_SPECIES
    series_samples: int = 25
    series_atoms: int = 128
    data_seed: int = 0
    training_seed: int = 0
    series_seed: int = 0
    template_species: str = 'Cu'

    @classmethod
    def for_mode(cls, mode: str, **overrides: Any) -> ReproduceConfig:
        """The configuration of a mode, with ``overrides`` (e.g. seeds) applied."""
        if mode not in MODES:
            raise ValueError(f'mode {mode!r}: choose one of {sorted(MODES)}')
        return dataclasses.replace(MODES[mode], **overrides)

    def prototype_options(self) -> dict[str, Any]:
        """Keyword arguments of the dataset builders that fix the pristine grid."""
        options = {'representations': self.representations, 'targets': self.targets}
        return {key: list(value) for key, value in options.items() if value is not None}

    def to_dict(self) -> dict[str, Any]:
        return {key: list(v) if isinstance(v, tuple) else v for key, v in dataclasses.asdict(self).items()}


MODES: dict[str, ReproduceConfig] = {
    'full': ReproduceConfig(),
    # Ten species x 4 classes x 3 representations x 2 sizes = 240 pristine items, 3,120 defective ones. The training
    # set is 25x smaller than the paper's, so it runs 10 epochs (~60 optimiser steps; the full protocol takes ~300).
    'quick': ReproduceConfig(
        mode='quick',
        species=QUICK_SPECIES,
        targets=(64, 128),
        epochs=10,
        series_species=('Fe', 'W'),
        series_samples=8,
    ),
    'tiny': ReproduceConfig(
        mode='tiny',
        species=('Cu', 'Fe', 'Si', 'Al'),
        representations=('conventional',),
        targets=(32,),
        epochs=1,
        max_steps=3,
        series_species=('Fe',),
        series_samples=1,
        series_atoms=16,
    ),
}
