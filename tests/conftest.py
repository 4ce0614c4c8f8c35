"""Shared pytest configuration.

- ``AIIDA_PATH`` points at a throwaway folder before aiida is imported, so that no test touches ``~/.aiida``.
- AiiDA's own fixtures (``aiida_profile``, ``aiida_profile_clean``, ``aiida_localhost``, ``aiida_code_installed``,
  ``submit_and_await``, ...): the session profile is SQLite with no broker.
"""

import os
import tempfile

os.environ['AIIDA_PATH'] = tempfile.mkdtemp(prefix='crystalface-aiida-path-')

pytest_plugins = ['aiida.tools.pytest_fixtures']
