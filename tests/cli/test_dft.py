"""``aiida-crystalface dft setup``: pw.x, localhost and the pseudopotential family, idempotent, clear when missing."""

from __future__ import annotations

import shutil

import pytest
from click.testing import CliRunner

from aiida_crystalface.cli import cmd_root

from .conftest import run_subprocess

needs_pw_x = pytest.mark.skipif(shutil.which('pw.x') is None, reason='pw.x is not installed (quantum-espresso)')


def test_setup_names_what_to_install_when_pw_x_is_missing(aiida_profile, tmp_path):
    result = CliRunner().invoke(cmd_root, ['dft', 'setup', '--executable', str(tmp_path / 'pw.x')])
    assert result.exit_code == 1
    assert 'apt-get install quantum-espresso quantum-espresso-data' in result.output
    assert 'aiida-crystalface dft setup' in result.output
    result = CliRunner().invoke(cmd_root, ['dft', 'setup', '--executable', 'sh', '--upf-dir', str(tmp_path)])
    assert result.exit_code == 1
    assert 'Si.pz-vbc.UPF' in result.output and 'apt-get install quantum-espresso' in result.output


@needs_pw_x
def test_setup_from_a_fresh_profile_twice(fresh_aiida_path):
    """On a machine with no profile: the profile is created, then the code and family; the second run finds all."""
    first = run_subprocess(['dft', 'setup'], fresh_aiida_path, timeout=300)
    assert first.returncode == 0, first.stderr
    lines = {line.split()[0]: line for line in first.stdout.splitlines() if line.strip()}
    assert 'pw@localhost' in lines['code'] and 'created' in lines['code']
    assert 'crystalface/qe-examples/LDA' in lines['family'] and 'created' in lines['family']
    assert 'Cu.pz-d-rrkjus.UPF' in first.stdout and 'ecutrho  300.0 Ry' in first.stdout
    second = run_subprocess(['dft', 'setup'], fresh_aiida_path, timeout=300)
    assert second.returncode == 0, second.stderr
    assert 'created' not in second.stdout and second.stdout.count('found') == 3
