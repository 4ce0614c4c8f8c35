"""Calcfunction: the ``failures`` Dicts of several batches -> one Dict (a WorkChain cannot create data itself)."""

from __future__ import annotations

from aiida import orm
from aiida.engine import calcfunction

from aiida_crystalface._internals import batched_links

__all__ = ('merge_failures',)


@batched_links
@calcfunction
def merge_failures(**failures: orm.Dict) -> orm.Dict:
    """Merge {input name: message} Dicts; a name reported twice keeps every message.

    :param failures: the ``failures`` outputs of batched calcfunctions, by any name.
    """
    merged: dict[str, str] = {}
    for key in sorted(failures):
        for name, message in failures[key].get_dict().items():
            merged[name] = f'{merged[name]}; {message}' if name in merged else str(message)
    return orm.Dict(merged)
