"""Calcfunction: the baseline's templates, the fingerprints of the four pristine prototypes of one species."""

from __future__ import annotations

from aiida import orm
from aiida.engine import calcfunction

__all__ = ('prototype_templates', 'template_images')


def template_images(settings, species: str = 'Cu', atoms: int = 128):
    """``(classes, images (4, H, W))``: each prototype's conventional cell replicated to ~``atoms`` atoms and
    scattered as given, the geometry of the dataset builders (:mod:`aiida_crystalface.core.datasets`)."""
    import dataclasses

    import numpy as np

    from aiida_crystalface.core.cluster import replicate
    from aiida_crystalface.core.diffraction import fingerprints
    from aiida_crystalface.core.prototypes import CLASSES, prototype

    as_given = dataclasses.replace(settings, target_atoms=2, orientation='none')
    cells = [replicate(prototype(species, label), atoms) for label in CLASSES]
    return list(CLASSES), np.asarray(fingerprints(cells, as_given))


@calcfunction
def prototype_templates(settings: orm.Dict, species: orm.Str) -> orm.ArrayData:
    """Fingerprints of the fcc, diamond, bcc and sc prototypes of ``species`` (128-atom supercells).

    :param settings: ``FingerprintSettings`` as a dict (those of the model).
    :param species: the element of the four prototypes.
    :returns: ArrayData with the array ``templates`` (4, H, W) and the attribute ``classes``.
    """
    from aiida_crystalface.core.diffraction import FingerprintSettings

    classes, images = template_images(FingerprintSettings.from_dict(settings.get_dict()), species.value)
    node = orm.ArrayData()
    node.set_array('templates', images)
    node.base.attributes.set('classes', classes)
    node.base.attributes.set('species', species.value)
    return node
