"""X-ray atomic form factors f(Z, |H|) of neutral atoms.

The parametrisation is the 5-Gaussian fit of Waasmaier and Kirfel, Acta Cryst. A51, 416 (1995), for Z = 1..98,
shipped as ``core/data/waasmaier_kirfel_1995.csv`` (see the README next to it for how it was extracted):

    f(Z, h) = sum_i a_i exp(-b_i h^2 / 4) + c,    h = |H| = 2 sin(theta) / lambda  (1/angstrom),  q = 2 pi H.

No Z shift: the original implementation looked up Z + 2 (so that H and He scattered more); this package uses the
physical form factor of the element itself. The fingerprint is normalised to its brightest pixel and raised to the
power gamma = 3/2, which already lifts weak scatterers, and a uniform factor per structure cancels exactly.
"""

from __future__ import annotations

import functools
from importlib import resources

import numpy as np

from .structures import MAX_ATOMIC_NUMBER, StructureError

__all__ = ('form_factor', 'form_factor_coefficients')

_TABLE = 'waasmaier_kirfel_1995.csv'


@functools.lru_cache(maxsize=1)
def form_factor_coefficients() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return ``(a, b, c)``: arrays of shape (99, 5), (99, 5), (99,) indexed by Z (row 0 is unused, NaN)."""
    text = resources.files('aiida_crystalface.core').joinpath('data', _TABLE).read_text()
    rows = [line.split(',') for line in text.splitlines() if line and not line.startswith('#')][1:]
    a = np.full((MAX_ATOMIC_NUMBER + 1, 5), np.nan)
    b = np.full((MAX_ATOMIC_NUMBER + 1, 5), np.nan)
    c = np.full(MAX_ATOMIC_NUMBER + 1, np.nan)
    for row in rows:
        z = int(row[0])
        a[z] = [float(v) for v in row[2:7]]
        b[z] = [float(v) for v in row[7:12]]
        c[z] = float(row[12])
    if np.isnan(c[1:]).any():
        raise RuntimeError(f'the form-factor table {_TABLE} does not cover Z = 1..{MAX_ATOMIC_NUMBER}')
    for array in (a, b, c):
        array.setflags(write=False)
    return a, b, c


def form_factor(numbers: np.ndarray | int, h: np.ndarray | float) -> np.ndarray:
    """Return f(Z, h) for every pair of ``numbers`` (shape S) and ``h = |H|`` in 1/angstrom (shape P): shape S + P.

    Raises :class:`StructureError` for an atomic number outside 1..98 and :class:`ValueError` for a negative or
    non-finite ``h``.
    """
    numbers = np.asarray(numbers, dtype=np.int64)
    h = np.asarray(h, dtype=np.float64)
    bad = numbers[(numbers < 1) | (numbers > MAX_ATOMIC_NUMBER)]
    if bad.size:
        raise StructureError(
            f'unknown element: no form factor for atomic number {int(bad.flat[0])} (table covers 1..98)'
        )
    if not np.all(np.isfinite(h)) or np.any(h < 0):
        raise ValueError('form_factor: h = |H| must be finite and non-negative')
    a, b, c = form_factor_coefficients()
    s2 = (h * h / 4.0).reshape((1,) * numbers.ndim + h.shape + (1,))
    za = a[numbers].reshape(numbers.shape + (1,) * h.ndim + (5,))
    zb = b[numbers].reshape(numbers.shape + (1,) * h.ndim + (5,))
    zc = c[numbers].reshape(numbers.shape + (1,) * h.ndim)
    return (za * np.exp(-zb * s2)).sum(axis=-1) + zc
