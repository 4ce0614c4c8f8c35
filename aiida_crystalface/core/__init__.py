"""The science in numpy + numba: structures, clusters, form factors, the diffraction fingerprint, defects, datasets.

Never imports aiida or torch. Names are resolved lazily so that ``import aiida_crystalface.core`` does not compile
the Numba kernels.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    'AtomicStructure': 'structures',
    'StructureError': 'structures',
    'read_structures': 'structures',
    'to_atomic_structure': 'structures',
    'FingerprintSettings': 'diffraction',
    'fingerprint': 'diffraction',
    'fingerprints': 'diffraction',
    'build_cluster': 'cluster',
    'FingerprintDataset': 'datasets',
    'open_dataset': 'datasets',
}

__all__ = tuple(_EXPORTS)


def __getattr__(name: str) -> Any:
    try:
        module = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f'module {__name__!r} has no attribute {name!r}') from None
    return getattr(importlib.import_module(f'{__name__}.{module}'), name)


def __dir__() -> list[str]:
    return sorted(__all__)
