"""The daemon path for real: PostgreSQL + RabbitMQ, a daemon with 2 workers, workers killed in the middle of a run.

Skipped (with the reason) where PostgreSQL (127.0.0.1:5432, trust auth, user postgres) or RabbitMQ (127.0.0.1:5672,
guest/guest) is absent. Everything lives in a throwaway AIIDA_PATH and a database of a unique name, both removed
afterwards. The submitting and checking run in subprocesses so that the session's SQLite test profile is untouched.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

HOST = '127.0.0.1'
N_STRUCTURES = 1000
BATCH_SIZE = 100


def _connect(**kwargs):
    """A connection to the server's ``postgres`` database: psycopg (aiida-core >= 2.7) or psycopg2 (2.6), autocommit."""
    try:
        import psycopg
    except ImportError:
        import psycopg2

        connection = psycopg2.connect(host=HOST, port=5432, user='postgres', dbname='postgres', **kwargs)
        connection.autocommit = True
        return connection
    return psycopg.connect(host=HOST, port=5432, user='postgres', dbname='postgres', autocommit=True, **kwargs)


def _service_missing() -> str | None:
    for name, port in (('PostgreSQL', 5432), ('RabbitMQ', 5672)):
        try:
            socket.create_connection((HOST, port), timeout=2).close()
        except OSError as exception:
            return f'{name} is not reachable at {HOST}:{port} ({exception})'
    try:
        _connect(connect_timeout=3).close()
    except Exception as exception:
        return f'PostgreSQL refuses user postgres with trust auth at {HOST}:5432 ({exception})'
    return None


def _admin(statement: str) -> None:
    connection = _connect()
    try:
        connection.cursor().execute(statement)
    finally:
        connection.close()


def _aiida_version() -> tuple[int, int]:
    from aiida import __version__

    major, minor = __version__.split('.')[:2]
    return int(major), int(minor)


@pytest.fixture
def daemon_profile(tmp_path):
    reason = _service_missing()
    if reason:
        print(f'SKIPPED the daemon test: {reason}')
        pytest.skip(reason)
    name = f'crystalface_test_{uuid.uuid4().hex[:12]}'
    # The daemon finds verdi (and the workers this package) on PATH: the test's own environment goes first.
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get('PATH', '')])
    env = {**os.environ, 'AIIDA_PATH': str(tmp_path / 'aiida-path'), 'PATH': path}
    verdi = [str(Path(sys.executable).with_name('verdi')), '-p', name]
    # aiida-core 2.6 names the broker options differently from 2.7 and newer (both are tested in CI).
    if _aiida_version() < (2, 7):
        broker_options, configure_broker = ['--use-rabbitmq'], ['configure-rabbitmq']
    else:
        broker_options, configure_broker = ['--broker', 'core.rabbitmq'], ['configure-broker', 'core.rabbitmq']
    _admin(f'CREATE DATABASE {name}')
    try:
        subprocess.run(
            [str(Path(sys.executable).with_name('verdi')), 'profile', 'setup', 'core.psql_dos', '--non-interactive',
             '--profile-name', name, '--email', 'test@crystalface.invalid', '--first-name', 'Test', '--last-name',
             'Daemon', '--institution', 'crystalface', '--database-hostname', HOST, '--database-port', '5432',
             '--database-username', 'postgres', '--database-password', '', '--database-name', name,
             '--repository-uri', f'file://{tmp_path / "repository"}', *broker_options],
            env=env, check=True, capture_output=True, text=True,
        )  # fmt: skip
        subprocess.run(
            [*verdi, 'profile', *configure_broker, '--non-interactive', '--broker-host', HOST,
             '--broker-port', '5672', '--broker-username', 'guest', '--broker-password', 'guest'],
            env=env, check=False, capture_output=True, text=True,
        )  # fmt: skip
        started = subprocess.run([*verdi, 'daemon', 'start', '2'], env=env, check=False, capture_output=True, text=True)
        assert started.returncode == 0, f'verdi daemon start 2 failed: {started.stdout} {started.stderr}'
        yield name, env, verdi
    finally:
        subprocess.run([*verdi, 'daemon', 'stop'], env=env, check=False, capture_output=True, timeout=120)
        _admin(f'DROP DATABASE IF EXISTS {name} WITH (FORCE)')


def test_workers_killed_mid_run_leave_exactly_one_result_per_structure(daemon_profile, model_file):
    """1,000 structures in 10 batches; once 2 batches are stored, both workers are killed with SIGKILL. The daemon's
    supervisor starts new workers, RabbitMQ hands the WorkChain to one of them, which resumes from its last checkpoint:
    it finishes, and every structure has exactly one fingerprint and one prediction, equal to the plain Python API's.
    """
    name, env, verdi = daemon_profile
    status = subprocess.run([*verdi, 'daemon', 'status'], check=False, env=env, capture_output=True, text=True)
    assert status.returncode == 0, status.stdout + status.stderr
    driver = Path(__file__).with_name('daemon_driver.py')
    result = subprocess.run(
        [sys.executable, str(driver), name, str(model_file), str(N_STRUCTURES), str(BATCH_SIZE), '--kill'],
        env=env, capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    print(report)
    assert 'error' not in report, report
    assert len(report['killed']) == 2, report
    assert not report['terminated_at_kill'] and 2 <= report['batches_before_kill'] < N_STRUCTURES // BATCH_SIZE
    assert not set(report['killed']) & set(report['workers_after']), report  # new workers finished the run
    assert report['missing_fingerprints'] == report['missing_predictions'] == 0, report
    assert report['fingerprints_per_structure'] == {'1': N_STRUCTURES}, report
    assert report['predictions_per_structure'] == {'1': N_STRUCTURES}, report
    assert report['worst_difference'] < 1e-4
