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
    pixels = _png_pixels(png)
    # axes, colour bar and caption: far larger than the 64 x 64 image, wider than tall (the colour bar), not blank
    assert pixels.shape[0] >= 500 and pixels.shape[1] > pixels.shape[0], pixels.shape
    assert pixels.std() > 0.1 and len(np.unique(pixels.reshape(-1, pixels.shape[-1]), axis=0)) > 50
    assert 'Lattice found: score 1.000' in result.stderr
    assert_no_profile(fresh_aiida_path)


def _png_pixels(path) -> np.ndarray:
    import matplotlib.image

    return matplotlib.image.imread(path)[..., :3]


def test_explain_png_has_readable_panels(good_files, fresh_aiida_path, tmp_path):
    """The attentive response maps: a grid with a colour bar and a caption; every panel is drawn over the fingerprint
    in grey with the response in colour (so conv1's small patch sits on the pattern, not on a flat background)."""
    png = tmp_path / 'maps.png'
    result = run_subprocess(['explain', good_files[0], '-o', png], fresh_aiida_path)
    assert result.returncode == 0, result.stderr
    pixels = _png_pixels(png)
    assert pixels.shape[0] > 1000 and pixels.shape[1] > 900, pixels.shape
    colour = np.abs(pixels[..., 0] - pixels[..., 2]) > 0.2  # inferno's oranges and yellows: red far above blue
    grey = (np.ptp(pixels, axis=-1) < 0.02) & (pixels[..., 0] > 0.2) & (pixels[..., 0] < 0.8)
    assert colour.mean() > 0.005 and grey.mean() > 0.05, (colour.mean(), grey.mean())


def test_root_help_lines_are_whole():
    """At 80 columns no command's line in the root help is cut (short first docstring lines)."""
    result = CliRunner().invoke(cmd_root, ['--help'], terminal_width=80)
    commands = result.output.split('Commands:', 1)[1]
    assert '...' not in commands, commands
    assert "reproduce    Reproduce the paper's figures and accuracy table." in commands


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


def test_explain_says_when_the_answer_is_not_a_class(tmp_path, fresh_aiida_path):
    """hcp Mg with the default (open-set) model: the answer is 'unknown', and explain says so."""
    from ase.build import bulk
    from ase.io import write

    path = tmp_path / 'Mg.extxyz'
    write(path, bulk('Mg', 'hcp').repeat((5, 5, 3)))
    result = run_subprocess(['explain', path, '-o', tmp_path / 'maps.png'], fresh_aiida_path)
    assert result.returncode == 0, result.stderr
    assert "The answer is 'unknown'" in result.stderr and 'not a class' in result.stderr
