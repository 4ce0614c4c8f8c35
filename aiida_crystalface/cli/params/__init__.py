"""Reusable click options and parameter types of the ``aiida-crystalface`` command (as ``aiida-pseudo`` has them)."""
