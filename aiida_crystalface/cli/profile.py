"""Load the AiiDA profile a command needs, creating an SQLite one for a newcomer who has none.

Only commands that store or query results call :func:`ensure_profile`; the others never touch the configuration, so
they work on a machine where AiiDA was never set up.
"""

from __future__ import annotations

import click

__all__ = ('DEFAULT_PROFILE_NAME', 'create_sqlite_profile', 'detect_broker', 'ensure_profile')

DEFAULT_PROFILE_NAME = 'crystalface'


def ensure_profile(ctx: click.Context | None = None):
    """Load the profile chosen with ``--profile`` (or the default one) and return it.

    When the configuration holds no profile at all, create an SQLite profile (:func:`create_sqlite_profile`), say so
    in one line on standard error, and load it. The configuration lives under ``AIIDA_PATH`` when that is set.
    """
    from aiida.manage import get_manager
    from aiida.manage.configuration import get_config, load_profile

    ctx = ctx or click.get_current_context()
    manager = get_manager()
    profile = getattr(ctx.obj, 'profile', None) if ctx.obj is not None else None
    if profile is None and manager.get_profile() is not None:
        return manager.get_profile()  # loaded already (``verdi run``, tests)
    if profile is None:
        config = get_config(create=True)
        if config.default_profile_name in config.profile_names:
            profile = config.get_profile(config.default_profile_name)
        elif config.profile_names:
            raise click.UsageError(
                f'no default AiiDA profile is set (profiles: {", ".join(config.profile_names)}): pass --profile NAME '
                'or run `verdi profile set-default NAME`'
            )
        else:
            profile = create_sqlite_profile(config)
            broker = {'core.rabbitmq': 'RabbitMQ', 'core.zeromq': "aiida-core's ZeroMQ"}.get(
                profile.process_control_backend, str(profile.process_control_backend)
            )
            click.echo(
                f'Created the SQLite AiiDA profile `{profile.name}` in {config.dirpath} (no profile existed), with the '
                f'{broker} broker: `verdi daemon start` runs submitted work.',
                err=True,
            )
    current = manager.get_profile()
    if current is None or current.name != profile.name:
        load_profile(profile.name, allow_switch=True)
    return manager.get_profile()


def detect_broker() -> tuple[str, dict]:
    """The broker a new profile gets, chosen as ``verdi presto`` chooses it: RabbitMQ when a server answers with the
    default connection parameters (or those of the ``AIIDA_BROKER_*`` variables), otherwise aiida-core's built-in
    ZeroMQ broker, which needs no service of its own (the daemon starts it).

    :returns: the broker's entry point name and its configuration.
    """
    from aiida.brokers.rabbitmq.defaults import detect_rabbitmq_config
    from aiida.plugins import BrokerFactory

    try:
        return 'core.rabbitmq', detect_rabbitmq_config()
    except ConnectionError:
        return 'core.zeromq', BrokerFactory('core.zeromq').get_default_config()


def create_sqlite_profile(config, name: str = DEFAULT_PROFILE_NAME):
    """Create an SQLite profile with a ``localhost`` computer, as ``verdi presto`` does, and make it the default.

    The profile has a broker (:func:`detect_broker`), so ``verdi daemon start`` and ``submit`` work on it as well as
    ``run``.
    """
    import getpass
    import logging
    import socket
    from pathlib import Path

    from aiida.manage.configuration import create_profile, load_profile
    from aiida.orm import Computer

    email = f'{getpass.getuser()}@{socket.gethostname()}'
    # aiida reports each step of the storage initialisation; the caller says it in one line instead.
    logger = logging.getLogger('aiida')
    level = logger.level
    logger.setLevel(logging.WARNING)
    broker_backend, broker_config = detect_broker()
    try:
        profile = create_profile(
            config,
            name=name,
            email=email,
            storage_backend='core.sqlite_dos',
            storage_config={},
            broker_backend=broker_backend,
            broker_config=broker_config,
        )
    finally:
        logger.setLevel(level)
    config.set_option('runner.poll.interval', 1, scope=profile.name)
    config.set_default_profile(profile.name, overwrite=True)
    config.store()
    load_profile(profile.name, allow_switch=True)
    computer = Computer(
        label='localhost',
        hostname='localhost',
        description='localhost, created with the profile by aiida-crystalface',
        transport_type='core.local',
        scheduler_type='core.direct',
        workdir=str(Path(config.dirpath) / 'scratch' / profile.name),
    ).store()
    computer.configure(safe_interval=0)
    computer.set_minimum_job_poll_interval(1)
    computer.set_default_mpiprocs_per_machine(1)
    return profile
