"""Calcfunction: a classification and its structure -> the ideal prototype of the predicted class.

The prototype is the pristine elemental crystal of the predicted class (:func:`aiida_crystalface.core.prototypes
.prototype`) made of the structure's majority species, at the structure's volume per atom, in its conventional or
primitive cell: the clean input of a DFT calculation on "the crystal this structure is".
"""

from __future__ import annotations

import collections

from aiida import orm
from aiida.engine import calcfunction

from aiida_crystalface.calculations.utils import structure_data, to_atomic
from aiida_crystalface.data.classification import ClassificationData

__all__ = ('CELLS', 'majority_species', 'make_prototype')

#: The cells a prototype can be built in (names of :data:`aiida_crystalface.core.prototypes.REPRESENTATIONS`).
CELLS = ('primitive', 'conventional')


def majority_species(numbers) -> int:
    """The most frequent atomic number; a tie goes to the lightest of the tied species (a rule, so it is repeatable)."""
    counts = collections.Counter(int(z) for z in numbers)
    if not counts:
        raise ValueError('the structure is empty: it has no majority species')
    return min(counts, key=lambda z: (-counts[z], z))


@calcfunction
def make_prototype(classification: ClassificationData, structure: orm.StructureData, cell: orm.Str):
    """Build the ideal prototype of ``classification.predicted_class`` for ``structure``.

    :param classification: the prediction for ``structure`` (its ``predicted_class`` is one of ``fcc``,
        ``diamond``, ``bcc``, ``sc``).
    :param structure: the classified structure: it gives the species (the majority one; every class here is
        elemental) and the volume per atom (cell volume / number of atoms, so vacancies enlarge it and the
        prototype's lattice constant with it).
    :param cell: ``'primitive'`` (1 atom for fcc, bcc and sc, 2 for diamond) or ``'conventional'`` (the cubic cell:
        4, 8, 2 and 1 atoms).
    :returns: the prototype StructureData; its ``extras`` are not used, its label names class, species and cell.
    """
    from aiida_crystalface.core.prototypes import CLASSES, prototype
    from aiida_crystalface.core.structures import chemical_symbol

    if cell.value not in CELLS:
        raise ValueError(f'cell: {cell.value!r} is not one of {list(CELLS)}')
    label = classification.predicted_class
    if label not in CLASSES:
        raise ValueError(
            f'classification: the class {label!r} of ClassificationData<{classification.pk}> has no prototype '
            f'(prototypes exist for {list(CLASSES)})'
        )
    atomic = to_atomic('structure', structure)
    if len(atomic) == 0:
        raise ValueError(f'structure: StructureData<{structure.pk}> has no atoms')
    species = majority_species(atomic.numbers)
    volume_per_atom = atomic.volume / len(atomic)
    if not volume_per_atom > 0:
        raise ValueError(f'structure: StructureData<{structure.pk}> has a cell of zero volume')
    # The conventional cubic cell of edge a holds n atoms, so a^3 / n is the volume per atom of every cell.
    atoms_per_cube = len(prototype(species, label, a=1.0, representation='conventional'))
    a = (volume_per_atom * atoms_per_cube) ** (1 / 3)
    ideal = prototype(species, label, a=a, representation=cell.value)
    node = structure_data(ideal)
    node.label = f'{label}-{chemical_symbol(species)} prototype ({cell.value} cell, a = {a:.4f} A)'
    return node
