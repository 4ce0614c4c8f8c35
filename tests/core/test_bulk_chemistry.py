"""Chemistry in the any-lattice fingerprint (issue "Beyond cubic", item 3), on structures built with ASE.

Random substitution on the sites of a class keeps the crystal in its class: its fingerprint stays near the pure
crystal's. An ordered compound is its own prototype: Cu3Au (L1_2) has the same species-blind lattice as fcc Cu, but
its ordered Au sites add reflections, and its fingerprint is farther from fcc's than a random alloy of the same
composition. When the species scatter alike the order is invisible: KCl's fingerprint is that of simple cubic
(half the rocksalt edge), NaI's is not.
"""

import numpy as np
import pytest
from ase.build import bulk

from aiida_crystalface.core.diffraction import FingerprintSettings, fingerprint_batch
from aiida_crystalface.core.openset import lattice_admits
from aiida_crystalface.core.structures import to_atomic_structure

SETTINGS = FingerprintSettings(orientation='standard', channels=3)


@pytest.fixture(scope='module')
def fingerprinted():
    cu = bulk('Cu', 'fcc', a=3.61, cubic=True).repeat(3)
    alloy = cu.copy()
    numbers = alloy.numbers.copy()
    numbers[np.random.default_rng(0).choice(len(numbers), len(numbers) // 4, replace=False)] = 79
    alloy.numbers = numbers
    l12 = bulk('Cu', 'fcc', a=3.61, cubic=True)
    numbers = l12.numbers.copy()
    numbers[0] = 79
    l12.numbers = numbers
    structures = {
        'cu': cu,
        'alloy': alloy,
        'l12': l12.repeat(3),
        'kcl': bulk('KCl', 'rocksalt', a=6.29, cubic=True).repeat(2),
        'nai': bulk('NaI', 'rocksalt', a=6.47, cubic=True).repeat(2),
        'sc': bulk('K', 'sc', a=3.145).repeat(5),
    }
    batch = fingerprint_batch([to_atomic_structure(s) for s in structures.values()], SETTINGS)
    assert batch.ok == list(range(len(structures)))
    return {name: (batch.images[i], batch.lattices[i]) for i, name in enumerate(structures)}


def _distance(a, b):
    return float(np.linalg.norm(a - b) / np.linalg.norm(a))


def test_random_substitution_stays_fcc_ordered_l12_does_not(fingerprinted):
    cu, alloy, l12 = (fingerprinted[k][0] for k in ('cu', 'alloy', 'l12'))
    assert _distance(cu, alloy) < 0.6 * _distance(cu, l12)
    # The lattice (species ignored) is the same face-centred cubic one with one site: the image tells them apart.
    for name in ('cu', 'alloy', 'l12'):
        assert lattice_admits(fingerprinted[name][1], 'A_cF4_225_a', {'bravais': 'cF', 'sites': 1})


def test_kcl_looks_simple_cubic_nai_does_not(fingerprinted):
    sc = fingerprinted['sc'][0]
    assert _distance(sc, fingerprinted['kcl'][0]) < 0.1
    assert _distance(sc, fingerprinted['nai'][0]) > 0.5
    for name in ('kcl', 'nai'):  # species ignored both are simple cubic of half the edge
        assert fingerprinted[name][1]['lattice_standard'] == 'cP'
