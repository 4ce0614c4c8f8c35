"""A plain-NumPy float64 implementation of Eq. 1-2, written independently of the Numba kernels.

Used by the tests and the benchmark as the reference the kernels must match. It rotates the atoms (not the
scattering vectors), evaluates the form factors and the complex exponentials in complex128 with NumPy, and masks and
normalises in float64. Slow on purpose: clarity over speed.
"""

from __future__ import annotations

import numpy as np

from .scattering import form_factor

__all__ = ('reference_fingerprint',)


def _rotation(axis: str, degrees: float) -> np.ndarray:
    angle = np.radians(degrees)
    c, s = np.cos(angle), np.sin(angle)
    if axis == 'x':
        return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])
    if axis == 'y':
        return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


def reference_fingerprint(
    positions: np.ndarray, numbers: np.ndarray, settings, *, normalise: bool = True
) -> np.ndarray:
    """Return D (pixels x pixels, float64) of atoms at ``positions`` (already centred and scaled, read as angstrom).

    One image, whatever ``settings.channels`` (the tests assemble three-channel images from it); ``normalise=False``
    leaves out the final division by the brightest pixel.
    """
    n = settings.pixels
    index = np.arange(n) - (n - 1) / 2.0
    # Image row i is the detector's y, column j its x.
    x_det = index[None, :] * settings.pixel_size * np.ones((n, 1))
    y_det = index[:, None] * settings.pixel_size * np.ones((1, n))
    p = np.sqrt(x_det**2 + y_det**2 + settings.distance**2)
    k = 1.0 / settings.wavelength
    H = np.stack([k * x_det / p, k * y_det / p, k * (settings.distance / p - 1.0)], axis=-1) * 1e-10  # 1/angstrom

    rotated = np.asarray(positions, dtype=np.float64) @ _rotation(settings.rotation_axis, settings.rotation_deg).T
    f = form_factor(np.asarray(numbers), np.linalg.norm(H, axis=-1))  # (atoms, n, n)
    phase = np.exp(-2j * np.pi * np.einsum('ijc,ac->aij', H, rotated))
    psi = (f * phase).sum(axis=0)

    omega = settings.pixel_size**2 * settings.distance / p**3 if settings.solid_angle else np.ones_like(p)
    image = omega * np.abs(psi) ** settings.gamma
    radius = np.sqrt(index[:, None] ** 2 + index[None, :] ** 2)
    image[(radius < settings.mask_inner) | (radius > settings.mask_outer)] = 0.0
    return image / image.max() if normalise else image
