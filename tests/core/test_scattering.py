"""Form factors: the table's value at h = 0 is close to Z and f falls with |H|."""

import numpy as np
import pytest

from aiida_crystalface.core.scattering import form_factor, form_factor_coefficients
from aiida_crystalface.core.structures import StructureError


def test_forward_value_is_close_to_z():
    z = np.arange(1, 99)
    f0 = form_factor(z, 0.0)
    a, _, c = form_factor_coefficients()
    assert np.allclose(f0, a[1:].sum(axis=1) + c[1:])  # the table's own value
    assert np.all(np.abs(f0 - z) < 0.05 * z + 0.05)  # a neutral atom scatters like Z electrons forward


def test_falls_with_h():
    h = np.linspace(0.0, 4.0, 81)
    f = form_factor(np.arange(1, 99), h)
    assert f.shape == (98, 81)
    assert np.all(np.diff(f, axis=1) < 0)


def test_published_value_for_copper():
    # Waasmaier & Kirfel (1995) for Cu at s = sin(theta)/lambda = 0.5 / angstrom, i.e. h = 1.
    a = np.array([14.014192, 4.784577, 5.056806, 1.457971, 6.932996])
    b = np.array([3.73828, 0.003744, 13.034982, 72.554794, 0.265666])
    expected = (a * np.exp(-b * 0.25)).sum() - 3.254477
    assert form_factor(29, 1.0) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize('z', [0, 99, -3])
def test_unknown_element(z):
    with pytest.raises(StructureError, match='atomic number'):
        form_factor(z, 0.5)


def test_bad_h():
    with pytest.raises(ValueError, match='non-negative'):
        form_factor(29, [-1.0])
    with pytest.raises(ValueError, match='finite'):
        form_factor(29, [np.nan])
