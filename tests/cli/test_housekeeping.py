"""What running the quick start and the tests leaves behind: nothing untracked in the repository, nothing in /tmp."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(shutil.which('git') is None or not (ROOT / '.git').exists(), reason='not a git checkout')
def test_demo_output_is_ignored_by_git():
    """The demo's default output folder, run from the repository root as the README says, is not untracked clutter."""
    result = subprocess.run(
        ['git', 'check-ignore', '-q', 'crystalface-demo/fingerprints.png'], cwd=ROOT, capture_output=True, check=False
    )
    assert result.returncode == 0, 'crystalface-demo/ is not in .gitignore'


def test_a_test_run_leaves_nothing_in_the_temporary_folder(tmp_path):
    """A pytest run (here: one test that uses tmp_path and the AiiDA configuration) empties its temporary folder."""
    tmpdir = tmp_path / 'tmp'
    tmpdir.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in {'AIIDA_PATH', 'PYTEST_ADDOPTS'}}
    env['TMPDIR'] = str(tmpdir)
    test = 'tests/cli/test_root.py::test_unknown_command_suggests'
    result = subprocess.run(
        [sys.executable, '-m', 'pytest', '-q', '-p', 'no:cacheprovider', test],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert list(tmpdir.iterdir()) == []
