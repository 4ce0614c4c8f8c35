"""Calcfunction: one of the paper's datasets (pristine or defective) built by :mod:`aiida_crystalface.core.datasets`.

The defective set has ~80,000 items: storing each as a StructureData + fingerprint node would take hours on SQLite, so
the dataset is one file node, built from ``parameters`` and ``seed`` alone (every item can be rebuilt from its stored
per-item seed) and linked to them by this calcfunction.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from aiida import orm
from aiida.engine import calcfunction

__all__ = ('build_paper_dataset',)

_KINDS = ('pristine', 'defective')


@calcfunction
def build_paper_dataset(kind: orm.Str, parameters: orm.Dict, seed: orm.Int):
    """Build the pristine set or the defective set (every pristine item x the 13 variants of the paper).

    :param kind: ``'pristine'`` or ``'defective'``.
    :param parameters: ``species`` (list or None), ``prototype_options`` (``representations``, ``targets``) and, for
        the defective set, ``variants`` (list of [kind, level]; the paper's 13 by default).
    :param seed: seed of the pristine lattice draws and of the defects; the same seed gives the same pristine items.
    :returns: the dataset file node (its description attribute holds the builder's parameters).
    """
    from aiida_crystalface.core import datasets
    from aiida_crystalface.data.dataset import FingerprintDatasetData

    if kind.value not in _KINDS:
        raise ValueError(f'kind: {kind.value!r} is not one of {_KINDS}')
    options = parameters.get_dict()
    species = options.get('species')
    prototype_options = dict(options.get('prototype_options', {}))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / 'dataset.h5'
        if kind.value == 'pristine':
            datasets.build_pristine_dataset(path, seed=seed.value, species=species, progress=False, **prototype_options)
        else:
            variants = [tuple(v) for v in options.get('variants', datasets.PAPER_VARIANTS)]
            datasets.build_defective_dataset(
                None,
                path,
                seed=seed.value,
                species=species,
                variants=variants,
                pristine_options=prototype_options,
                progress=False,
            )
        return FingerprintDatasetData(path)
