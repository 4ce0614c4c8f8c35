"""Shared fixtures of the core tests: the four cubic prototypes as internal structures."""

import pytest
from ase.build import bulk

from aiida_crystalface.core.structures import to_atomic_structure


def prototype(kind: str, element: str = 'Cu', a: float = 3.6, cubic: bool = False):
    """Return one of the four prototypes (fcc, bcc, sc, diamond) as an AtomicStructure."""
    return to_atomic_structure(bulk(element, kind, a=a, cubic=cubic), label=f'{element}-{kind}')


@pytest.fixture(scope='session')
def prototypes():
    """The four classes, each with a different element, as in the paper's Fig. 2c."""
    return {
        'fcc': prototype('fcc', 'Cu', 3.61),
        'diamond': prototype('diamond', 'Si', 5.43),
        'bcc': prototype('bcc', 'Fe', 2.87),
        'sc': prototype('sc', 'Po', 3.35),
    }
