"""Read the structure files given on the command line, keeping one record per structure in input order.

A file that cannot be read, or a frame that cannot be fingerprinted, becomes an error record naming the file and the
reason, so that one bad input never costs the others.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

__all__ = ('InputRecord', 'read_inputs')


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
    """Read every frame of every file; validate each; return the records in input order."""
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
    for prefix in (f'{name}: ', f'{name.rsplit("/", 1)[-1]}: '):
        if message.startswith(prefix):
            return message[len(prefix) :]
    return message
