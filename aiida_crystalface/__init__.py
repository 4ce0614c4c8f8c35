"""aiida-crystalface: crystal-structure classification from two-dimensional diffraction fingerprints.

Importing the package is cheap: the science lives in :mod:`aiida_crystalface.core` (numpy + numba), the ConvNet in
:mod:`aiida_crystalface.ml` (torch + Lightning) and the provenance layer in the AiiDA sub-packages; each is imported
only when used.
"""

__version__ = '0.1.0'
