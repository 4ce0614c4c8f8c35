# ruff: noqa: E402  (the warning filter must come before aiida is first imported)
"""The ``aiida-crystalface`` command line, in the style of ``verdi`` and ``aiida-pseudo``.

One module per command or command group (``classify``, ``fingerprint``, ``explain``, ``dataset``, ``train``,
``query``, ``models``, ``demo``, ``dft``, ``reproduce``; ``data`` for ``verdi data crystalface``), shared options and
types in ``params/``, shared printing and input helpers in ``utils``, the profile bootstrap in ``profile``. The work
itself is the library's (``workflows.launch``, ``provenance``, ``core``, ``ml``, ``reproduce``). Importing this package
registers every sub-command on :data:`cmd_root`; each command imports the heavy packages (numba kernels, torch, the
AiiDA ORM) only when it runs.
"""

import warnings

# A newcomer's first command creates ~/.aiida; the profile bootstrap says so in its own line (cli/profile.py).
warnings.filterwarnings('ignore', message='Creating AiiDA configuration folder', category=UserWarning)

from .classify import cmd_classify  # noqa: F401
from .dataset import cmd_dataset  # noqa: F401
from .demo import cmd_demo  # noqa: F401
from .dft import cmd_dft  # noqa: F401
from .explain import cmd_explain  # noqa: F401
from .fingerprint import cmd_fingerprint  # noqa: F401
from .models import cmd_models  # noqa: F401
from .query import cmd_query  # noqa: F401
from .reproduce import cmd_reproduce  # noqa: F401
from .root import cmd_root
from .train import cmd_train  # noqa: F401

__all__ = ('cmd_root',)
