"""Helpers shared by the commands: reading the structure files of the command line, loading a model, printing.

Printing rules of every command: tables fit in 80 columns and never cut or wrap an identifier (UUIDs are shown as
their first 8 characters, which ``verdi`` and ``--model`` accept as well; ``--wide`` shows them whole, ``--json`` always
has them whole); numbers are printed as plain Python numbers, never as numpy reprs; the labels ``unknown`` and
``amorphous`` (no crystal class) are set apart from the class names.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

__all__ = (
    'NO_CLASS_LABELS',
    'InputRecord',
    'console',
    'format_label',
    'load_classifier',
    'load_model_node',
    'plain',
    'read_inputs',
    'short_id',
    'table',
)

#: Answers that are not a crystal class (the open-set answers of the classifier).
NO_CLASS_LABELS = ('unknown', 'amorphous')

#: Characters of a UUID shown in tables: unique in any realistic profile, and accepted by ``verdi`` as an identifier.
SHORT_ID = 8


@dataclasses.dataclass
class InputRecord:
    """One structure from the command line: ``file`` is the path as given (``path@i`` for frame ``i``)."""

    file: str
    structure: Any = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def read_inputs(paths: Sequence[str]) -> list[InputRecord]:
    """Read every frame of every file; validate each; return the records in input order.

    A file that cannot be read, or a frame that is not a valid structure, becomes an error record naming the reason, so
    that one bad input never costs the others.
    """
    from aiida_crystalface.core.structures import StructureError, read_structures

    records = []
    for path in paths:
        try:
            frames = read_structures(path)
        except StructureError as exception:
            records.append(InputRecord(str(path), error=_reason(exception, path)))
            continue
        for index, raw in enumerate(frames):
            name = str(path) if len(frames) == 1 else f'{path}@{index}'
            frame = raw.replace(label=name)
            try:
                frame.validate()
            except StructureError as exception:
                records.append(InputRecord(name, error=_reason(exception, name)))
            else:
                records.append(InputRecord(name, structure=frame))
    return records


def _reason(exception: Exception, name: str) -> str:
    """Return the message of ``exception`` without a leading ``name:`` (the record names the file already)."""
    message = str(exception)
    for prefix in (f'{name}: ', f'{str(name).rsplit("/", 1)[-1]}: '):
        if message.startswith(prefix):
            return message[len(prefix) :]
    return message


def load_classifier(model: str | None, *, use_profile: bool, per_atom: bool = False, default: str | None = None):
    """Return a :class:`~aiida_crystalface.ml.Classifier` for ``--model`` (a file, a bundled model's name, a node UUID
    / PK, or ``None``: the bundled model ``default``, else the default bundled model, the per-atom one with
    ``per_atom``)."""
    from aiida_crystalface.ml import Classifier, ModelFileError
    from aiida_crystalface.ml.classifier import PER_ATOM_DEFAULT, PRETRAINED_DEFAULT, bundled_model_names

    try:
        if model is None:
            return Classifier.pretrained(default or (PER_ATOM_DEFAULT if per_atom else PRETRAINED_DEFAULT))
        if Path(model).is_file():
            return Classifier.load(model)
        if model in bundled_model_names():
            return Classifier.pretrained(model)
    except ModelFileError as exception:
        raise click.BadParameter(str(exception), param_hint='--model') from None
    if not use_profile:
        raise click.BadParameter(
            f'{model!r} is not a model file, and this command runs without an AiiDA profile, so it cannot look up a '
            'model node: give the path of a .safetensors model file',
            param_hint='--model',
        )
    return load_model_node(model).load_classifier()


def load_model_node(identifier: str):
    """Return the stored model node ``identifier``: a model file or a bundled model's name (stored once, by
    checksum), a UUID or a PK."""
    from aiida.common.exceptions import MultipleObjectsError, NotExistent
    from aiida.orm import load_node

    from aiida_crystalface.data.model import ConvNetModelData
    from aiida_crystalface.ml.classifier import bundled_model_names

    if Path(identifier).is_file():
        try:
            return ConvNetModelData.get_or_create(Path(identifier).resolve())
        except ValueError as exception:  # ModelFileError is a ValueError
            raise click.BadParameter(str(exception), param_hint='--model') from None
    if identifier in bundled_model_names():
        from aiida_crystalface.workflows.utils import bundled_model

        return bundled_model(identifier)
    try:
        node = load_node(identifier)
    except (NotExistent, MultipleObjectsError, ValueError) as exception:
        raise click.BadParameter(
            f'{identifier!r} is neither a model file, a bundled model ({", ".join(bundled_model_names())}) nor a '
            f'model node ({exception}); `aiida-crystalface models list` shows the stored models',
            param_hint='--model',
        ) from None
    if not isinstance(node, ConvNetModelData):
        raise click.BadParameter(
            f'node {identifier!r} is a {type(node).__name__}, not a model node; `aiida-crystalface models list` shows '
            'the stored models',
            param_hint='--model',
        )
    return node


def plain(value: Any) -> Any:
    """``value`` with every numpy scalar or array turned into the plain Python value (for printing and JSON)."""
    import numpy as np

    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Mapping):
        return {plain(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [plain(v) for v in value]
    return value


def format_value(value: Any) -> str:
    """A short human form of a summary value: floats to 4 significant digits, lists joined by commas."""
    value = plain(value)
    if isinstance(value, float):
        return f'{value:.4g}'
    if isinstance(value, list):
        return ', '.join(format_value(v) for v in value)
    if isinstance(value, dict):
        return ', '.join(f'{k}: {format_value(v)}' for k, v in value.items())
    return str(value)


def short_id(uuid: str | None, wide: bool = False) -> str:
    """The UUID, or its first :data:`SHORT_ID` characters; ``-`` for none."""
    if not uuid:
        return '-'
    return str(uuid) if wide else str(uuid)[:SHORT_ID]


def format_label(label: str) -> str:
    """Rich markup of a predicted label: ``unknown`` and ``amorphous`` (no crystal class) dim and italic."""
    from rich.markup import escape

    return f'[dim italic]{escape(label)}[/]' if label in NO_CLASS_LABELS else escape(label)


def console(*, wide: bool = False, stderr: bool = False):
    """A rich Console: 80 columns when not a terminal (rich's default), wide enough for full UUIDs with ``wide``."""
    from rich.console import Console

    out = Console(stderr=stderr)
    return Console(stderr=stderr, width=max(out.width, 160)) if wide else out


def table(title: str | None, columns: Sequence[tuple[str, dict]]):
    """A rich Table with ``columns`` (name, add_column keywords); identifier columns should pass ``no_wrap=True``."""
    from rich.table import Table

    result = Table(title=title, title_justify='left', pad_edge=False, box=None, header_style='bold')
    for name, keywords in columns:
        result.add_column(name, **keywords)
    return result


def identifier_column(name: str, wide: bool) -> tuple[str, dict]:
    """A column of UUIDs: never wrapped, never cut."""
    width = 36 if wide else SHORT_ID
    return name, {'no_wrap': True, 'overflow': 'ignore', 'min_width': width}


@contextmanager
def quiet_process_reports():
    """Keep AiiDA's per-process report lines off the terminal while a command runs its WorkChains (the command prints
    its own summary); they are still stored for ``verdi process report``. ``--verbosity info`` or ``debug`` shows them.

    Only the terminal's handlers of the ``aiida`` logger are raised to WARNING; its database handler, and the logger's
    own level, are left alone.
    """
    import logging

    from aiida.common.log import LOG_LEVEL_REPORT
    from aiida.manage import get_manager
    from aiida.orm.utils.log import DBLogHandler

    if get_manager().get_profile() is not None:
        # Loading the storage configures logging anew (with the database handler), which would replace the handlers
        # raised here: load it first.
        get_manager().get_profile_storage()
    logger = logging.getLogger('aiida')
    raised = []
    if logger.getEffectiveLevel() >= LOG_LEVEL_REPORT:
        for handler in logger.handlers:
            if not isinstance(handler, DBLogHandler) and handler.level < logging.WARNING:
                raised.append((handler, handler.level))
                handler.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for handler, level in raised:
            handler.setLevel(level)


class _StageProgress:
    """Rich progress bars on standard error, one per stage of a library call, advanced by ``update(stage, done,
    total)``; each shows the time elapsed, which keeps running while a long step (a WorkChain) blocks. Nothing is
    drawn until the first update, and the bars are removed at the end."""

    def __init__(self, stages: dict[str, str]):
        self.stages = stages
        self.progress = None
        self.tasks: dict[str, Any] = {}

    def update(self, stage: str, done: int, total: int) -> None:
        if self.progress is None and not console(stderr=True).is_terminal:
            return  # no bars in a log file or a pipe: the command's summary line says what was done
        if self.progress is None:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self.progress = Progress(
                TextColumn('{task.description}'),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=console(stderr=True),
                transient=True,
            )
            self.progress.start()
        if stage not in self.tasks:
            self.tasks[stage] = self.progress.add_task(self.stages.get(stage, stage), total=total)
        self.progress.update(self.tasks[stage], completed=done, total=total)

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()


@contextmanager
def stage_progress(stages: dict[str, str]):
    """A :class:`_StageProgress` (``stages``: stage name -> description) closed at the end of the block."""
    bar = _StageProgress(stages)
    try:
        yield bar
    finally:
        bar.close()
