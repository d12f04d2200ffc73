"""Errors raised for bad input, each one naming where the problem is and what was expected."""

from __future__ import annotations


class PercontrastError(Exception):
    """Base class for every error this package raises on purpose."""


class DataError(PercontrastError, ValueError):
    """Bad input data: names the file, the line (1-based) or record id, and the field."""

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        record_id: str | None = None,
        field: str | None = None,
    ) -> None:
        self.message, self.path, self.line, self.record_id, self.field = message, path, line, record_id, field
        where = []
        if path is not None:
            where.append(f"{path}" + (f":{line}" if line is not None else ""))
        elif line is not None:
            where.append(f"line {line}")
        if record_id is not None:
            where.append(f"record {record_id!r}")
        if field is not None:
            where.append(f"field {field!r}")
        super().__init__(f"{', '.join(where)}: {message}" if where else message)


class ConfigError(PercontrastError, ValueError):
    """A bad configuration value: names the key and the allowed values."""


class Interrupted(PercontrastError):
    """The user interrupted a command (Ctrl-C): the message says what was saved and how to resume."""
