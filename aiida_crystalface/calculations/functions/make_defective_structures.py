"""Calcfunction: a batch of structures -> one defective copy per structure (seeded)."""

from __future__ import annotations

from aiida import orm
from aiida.engine import calcfunction

from aiida_crystalface._internals import batched_links
from aiida_crystalface.calculations.utils import derive_seed, finish_batch, structure_data, to_atomic

__all__ = ('DEFECT_KINDS', 'make_defective_structures')

#: Defect kind -> (function name in core.defects, name of its amount argument).
DEFECT_KINDS = {
    'vacancies': ('vacancies', 'fraction'),
    'displacements': ('displacements', 'sigma'),
    'substitutions': ('substitutions', 'fraction'),
    'lindemann': ('lindemann', 'parameter'),
    'bcc_to_sc': ('bcc_to_sc', 'fraction'),
}


@batched_links
@calcfunction
def make_defective_structures(kind: orm.Str, amount: orm.Float, seed: orm.Int, **structures: orm.StructureData):
    """Apply one kind of defect to every structure; structure ``i`` (in name order) uses a seed derived from
    ``seed`` and ``i``, so the result does not depend on how the structures were batched.

    :param kind: one of ``vacancies``, ``displacements``, ``substitutions``, ``lindemann``, ``bcc_to_sc``.
    :param amount: the fraction (vacancies, substitutions, bcc_to_sc), the Gaussian sigma in angstrom
        (displacements) or the Lindemann parameter (lindemann).
    :param seed: the batch seed.
    :param structures: the structures, by name; each output has the name of its structure.
    """
    from aiida_crystalface.core import defects

    if kind.value not in DEFECT_KINDS:
        raise ValueError(f'kind: unknown defect kind {kind.value!r}; choose one of {sorted(DEFECT_KINDS)}')
    function = getattr(defects, DEFECT_KINDS[kind.value][0])
    outputs, errors = {}, {}
    for index, key in enumerate(sorted(structures)):
        try:
            atomic = to_atomic(key, structures[key])
            defective = function(atomic, float(amount.value), derive_seed(seed.value, index))
            outputs[key] = structure_data(defective)
        except (ValueError, KeyError, TypeError) as exception:
            errors[key] = str(exception)
    return finish_batch(outputs, errors, 'structures')
