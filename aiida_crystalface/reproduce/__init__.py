"""Reproduce the paper's evidence (Figs. 2, 4, 5 and the accuracy table) through the package's stored processes.

``aiida-crystalface reproduce -o DIR [--quick]`` or ``verdi run examples/reproduce_paper.py``; in Python::

    from aiida_crystalface.reproduce import ReproduceConfig, run_reproduction
    run_reproduction(ReproduceConfig.for_mode('quick'), 'out')
"""

from .config import MODES, ReproduceConfig

__all__ = ('MODES', 'ReproduceConfig', 'run_reproduction')


def run_reproduction(*args, **kwargs):
    """See :func:`aiida_crystalface.reproduce.pipeline.run_reproduction` (imported lazily: it needs aiida)."""
    from .pipeline import run_reproduction as run

    return run(*args, **kwargs)
