"""Calcfunction: the pristine prototype structures (elemental fcc / bcc / sc / diamond crystals)."""

from __future__ import annotations

from aiida import orm
from aiida.engine import calcfunction

from aiida_crystalface._internals import batched_links
from aiida_crystalface.calculations.utils import structure_data

__all__ = ('make_prototypes',)

_ALLOWED = {'species', 'classes', 'representations', 'targets', 'scale_range', 'symprec', 'supercell_atoms'}


@batched_links
@calcfunction
def make_prototypes(parameters: orm.Dict, seed: orm.Int):
    """Build the pristine set with :func:`aiida_crystalface.core.prototypes.pristine_items`.

    :param parameters: keyword arguments of ``pristine_items`` (``species``, ``classes``, ``representations``,
        ``targets``, ``scale_range``, ``symprec``), and ``supercell_atoms``: when given, each item is replicated
        to the periodic supercell closest to that many atoms (the cell that defects need).
    :param seed: the seed of the random lattice scaling and translations.
    :returns: ``structures`` (a namespace ``item_<i>``) and ``items`` (a Dict: name -> label, species and info).
    """
    from aiida_crystalface.core.prototypes import pristine_items

    kwargs = parameters.get_dict()
    unknown = sorted(set(kwargs) - _ALLOWED)
    if unknown:
        raise ValueError(f'parameters: unknown key(s) {unknown}; allowed: {sorted(_ALLOWED)}')
    supercell_atoms = kwargs.pop('supercell_atoms', None)
    items = pristine_items(seed=seed.value, **kwargs)
    if supercell_atoms:
        from aiida_crystalface.core.cluster import replicate

        items = [replicate(item, int(supercell_atoms)) for item in items]
    structures, table = {}, {}
    for index, item in enumerate(items):
        key = f'item_{index}'
        structures[key] = structure_data(item)
        table[key] = {k: v for k, v in item.info.items() if isinstance(v, (str, int, float, bool))}
    return {'structures': structures, 'items': orm.Dict(table)}
