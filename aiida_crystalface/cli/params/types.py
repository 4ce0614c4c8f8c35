"""Parameter types of the ``aiida-crystalface`` command."""

from __future__ import annotations

from typing import Any

import click

__all__ = ('IntegerList', 'NameList', 'SpeciesList')


class SpeciesList(click.ParamType):
    """Comma-separated chemical symbols (``Cu,Fe,Si``), checked against the periodic table; a list of str."""

    name = 'SYMBOLS'

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> list[str] | None:
        if value is None or isinstance(value, list):
            return value
        from aiida_crystalface.core.structures import StructureError, atomic_number

        symbols = [s.strip() for s in str(value).split(',') if s.strip()]
        for symbol in symbols:
            try:
                atomic_number(symbol)
            except (StructureError, ValueError, KeyError):
                self.fail(f'{symbol!r} is not a chemical symbol (give symbols such as Cu,Fe,Si)', param, ctx)
        return symbols or None


class IntegerList(click.ParamType):
    """Comma-separated positive integers (``64,128``); a list of int."""

    name = 'INTEGERS'

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> list[int] | None:
        if value is None or isinstance(value, list):
            return value
        try:
            numbers = [int(v) for v in str(value).split(',') if v.strip()]
        except ValueError:
            self.fail(f'{value!r} is not a comma-separated list of integers (e.g. 64,128)', param, ctx)
        if any(n < 1 for n in numbers):
            self.fail(f'{value!r}: every number must be positive', param, ctx)
        return numbers or None


class NameList(click.ParamType):
    """Comma-separated names, each one of those ``choices()`` gives (loaded only when a value is given); a list of
    str in the order given, without repeats."""

    name = 'NAMES'

    def __init__(self, choices, what: str = 'name'):
        self._choices = choices
        self._what = what

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> list[str] | None:
        if value is None or isinstance(value, list):
            return value
        names = list(dict.fromkeys(v.strip() for v in str(value).split(',') if v.strip()))
        known = list(self._choices())
        unknown = [name for name in names if name not in known]
        if unknown:
            self.fail(
                f'{", ".join(map(repr, unknown))}: no such {self._what}; choose among {", ".join(known)}', param, ctx
            )
        return names or None
