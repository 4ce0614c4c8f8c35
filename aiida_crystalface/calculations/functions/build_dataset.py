"""Calcfunction: fingerprints + labels -> one dataset file node."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
from aiida import orm
from aiida.engine import calcfunction

from aiida_crystalface._internals import batched_links

__all__ = ('build_dataset',)


@batched_links
@calcfunction
def build_dataset(
    classes: orm.List, items: orm.Dict, defect_kind: orm.Str | None = None, **fingerprints: orm.ArrayData
):
    """Write the fingerprints and their labels into one dataset file (:mod:`aiida_crystalface.core.datasets`).

    :param classes: the class names, in the order of the model's outputs.
    :param items: name -> {``label``: class name, and optional ``species`` and ``defect_kind``} for every fingerprint.
    :param defect_kind: the defect kind of the fingerprints whose name starts with ``defect_`` (their entry in
        ``items`` is that of the name without the prefix); the others are ``pristine``.
    :param fingerprints: fingerprint images by name; all must share the same settings.
    """
    from aiida_crystalface.core.datasets import DatasetWriter
    from aiida_crystalface.data.dataset import FingerprintDatasetData

    class_names, table = list(classes.get_list()), dict(items.get_dict())
    kind = defect_kind.value if defect_kind is not None else 'defective'
    for key in fingerprints:
        base = key.removeprefix('defect_')
        if key != base and base in table:
            table[key] = {**table[base], 'defect_kind': kind}
    keys = sorted(fingerprints)
    if not keys:
        raise ValueError('fingerprints: no fingerprints given')
    missing = [key for key in keys if key not in table or table[key].get('label') not in class_names]
    if missing:
        raise ValueError(f'items: no label among {class_names} for the fingerprint(s) {missing[:10]}')
    hashes = {fingerprints[key].base.attributes.get('settings_hash') for key in keys}
    if len(hashes) != 1:
        raise ValueError(f'fingerprints: they were computed with different settings {sorted(map(str, hashes))}')
    settings = dict(fingerprints[keys[0]].base.attributes.get('settings'), hash=hashes.pop())
    images = np.stack([fingerprints[key].image for key in keys])
    labels = [class_names.index(table[key]['label']) for key in keys]
    meta = {
        'source': [fingerprints[key].uuid for key in keys],
        'species': [str(table[key].get('species', '')) for key in keys],
        'defect_kind': [str(table[key].get('defect_kind', 'pristine')) for key in keys],
    }
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / 'dataset.h5'
        with DatasetWriter(path, class_names, settings, image_shape=images.shape[1:]) as writer:
            writer.append(images, labels, meta)
        return FingerprintDatasetData(path)
