"""The root group, the profile bootstrap, and the commands that need no profile."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from aiida_crystalface.cli import cmd_root

from .conftest import assert_no_profile, run_subprocess

COMMANDS = {'classify', 'demo', 'explain', 'fingerprint', 'models', 'query', 'train', 'dataset'}


def test_help_lists_every_command():
    result = CliRunner().invoke(cmd_root, ['--help'])
    assert result.exit_code == 0
    for command in COMMANDS:
        assert command in result.output
    assert '--profile' in result.output and '--verbosity' in result.output


def test_unknown_command_suggests():
    result = CliRunner().invoke(cmd_root, ['clasify'])
    assert result.exit_code == 2
    assert 'classify' in result.output


def test_fingerprint_npy_and_png(good_files, fresh_aiida_path, tmp_path):
    npy, png = tmp_path / 'out' / 'fp.npy', tmp_path / 'fp.png'
    for output in (npy, png):
        result = run_subprocess(['fingerprint', good_files[0], '-o', output], fresh_aiida_path)
        assert result.returncode == 0, result.stderr
    image = np.load(npy)
    assert image.shape == (64, 64) and image.dtype == np.float32
    assert image.min() >= 0 and image.max() == pytest.approx(1.0)
    assert png.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    assert 'Lattice found: score 1.000' in result.stderr
    assert_no_profile(fresh_aiida_path)


def test_fingerprint_bad_file(bad_files, fresh_aiida_path, tmp_path):
    path = next(p for p in bad_files if p.name == 'nan.extxyz')
    result = run_subprocess(['fingerprint', path, '-o', tmp_path / 'x.npy'], fresh_aiida_path)
    assert result.returncode == 1
    assert 'NaN' in result.stderr and 'Traceback' not in result.stderr


def test_profile_created_once_for_a_newcomer(fresh_aiida_path):
    """No profile: the first command that needs one creates an SQLite profile, says so in one line, and goes on."""
    first = run_subprocess(['models', 'list'], fresh_aiida_path)
    assert first.returncode == 0, first.stderr
    created = [line for line in first.stderr.splitlines() if 'Created the SQLite AiiDA profile' in line]
    assert len(created) == 1
    config = json.loads((fresh_aiida_path / '.aiida' / 'config.json').read_text())
    profile = config['profiles'][config['default_profile']]
    assert profile['storage']['backend'] == 'core.sqlite_dos'
    # A broker, so that `verdi daemon start` works: RabbitMQ where it answers (as here in CI), else ZeroMQ.
    assert profile['process_control']['backend'] in {'core.rabbitmq', 'core.zeromq'}, profile
    assert 'verdi daemon start' in created[0]
    second = run_subprocess(['models', 'list'], fresh_aiida_path)
    assert second.returncode == 0 and 'Created' not in second.stderr
    unknown = run_subprocess(['--profile', 'nope', 'models', 'list'], fresh_aiida_path)
    assert unknown.returncode == 2 and 'nope' in unknown.stderr


def test_profile_falls_back_to_the_zeromq_broker(fresh_aiida_path, monkeypatch):
    """Where no RabbitMQ answers (a port nothing listens on), the profile gets aiida-core's ZeroMQ broker."""
    import socket

    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        port = probe.getsockname()[1]  # free once closed: nothing listens there
    monkeypatch.setenv('AIIDA_BROKER_PORT', str(port))
    result = run_subprocess(['models', 'list'], fresh_aiida_path)
    assert result.returncode == 0, result.stderr
    assert 'ZeroMQ broker' in result.stderr
    config = json.loads((fresh_aiida_path / '.aiida' / 'config.json').read_text())
    assert config['profiles'][config['default_profile']]['process_control']['backend'] == 'core.zeromq'
