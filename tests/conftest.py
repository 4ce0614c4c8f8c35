"""Shared pytest configuration.

- Everything the test run writes to a temporary folder lands in one session folder, removed when the run ends: pytest's
  ``tmp_path`` folders (``--basetemp``), the ``AIIDA_PATH`` set before aiida is imported (so that no test touches
  ``~/.aiida``), and whatever the code under test or its subprocesses put in ``tempfile``'s folder (``TMPDIR``).
  Pass ``--basetemp DIR`` to keep pytest's folders for inspection.
- AiiDA's own fixtures (``aiida_profile``, ``aiida_profile_clean``, ``aiida_localhost``, ``aiida_code_installed``,
  ``submit_and_await``, ...): the session profile is SQLite with no broker.
"""

import os
import shutil
import tempfile
from pathlib import Path

import pytest

SESSION_TMP = Path(tempfile.mkdtemp(prefix='crystalface-tests-'))
os.environ['TMPDIR'] = str(SESSION_TMP)
tempfile.tempdir = None  # tempfile caches its folder: read TMPDIR again
os.environ['AIIDA_PATH'] = str(SESSION_TMP / 'aiida')
(SESSION_TMP / 'aiida').mkdir()

pytest_plugins = ['aiida.tools.pytest_fixtures']


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """Put pytest's own temporary folders in the session folder, unless ``--basetemp`` names one."""
    if not config.option.basetemp:
        config.option.basetemp = str(SESSION_TMP / 'pytest')


def pytest_unconfigure(config: pytest.Config) -> None:
    """Remove the session folder: the run leaves nothing behind in the system's temporary folder."""
    shutil.rmtree(SESSION_TMP, ignore_errors=True)
