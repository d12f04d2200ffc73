"""The results table of an experiment: one JSONL file, appended under a file lock.

Three kinds of records, one JSON object per line:

- ``{"kind": "run", "run": id, "config": {...}, "versions": {...}, "git_commit": ..., "host": ...}``:
  one per invocation of ``percontrast experiment`` (one per Slurm array task);
- ``{"kind": "metric", "run", "cell", model, loss, task, learning_rate, clip_min, clip_max, seed,
  "eval", "target", "metric", "value", "n"}``: one per cell and metric (``eval`` is ``lexical``,
  ``judge``, ``aloe``, ``qa`` or ``data``; ``target`` the task tested on);
- ``{"kind": "cell", "run", "cell", ..., "status": "ok" | "failed", "error", "seconds"}``: the end of
  a cell. A cell's metric rows are appended together with its ``ok`` record, in one locked write, so
  a killed run never leaves half a cell in the table. A torn last line (a writer killed mid-write)
  is cut off before the next append (`percontrast.utils.files.repair_jsonl_tail`).

Appends take an exclusive ``fcntl.flock`` on ``<results>.lock``, so concurrent writers (Slurm array
tasks on a shared file system with working POSIX locks) never interleave lines.
"""

from __future__ import annotations

import fcntl
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from percontrast.utils.errors import DataError


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created if missing) for the duration of the block."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class ResultsStore:
    """Append-only JSONL results with locked writes."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.lock_path = self.path.with_name(self.path.name + ".lock")

    def append(self, records: list[dict[str, Any]]) -> None:
        """Append ``records`` atomically with respect to other writers (one locked write + fsync)."""
        import os

        from percontrast.utils.files import repair_jsonl_tail

        text = "".join(json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n" for record in records)
        with locked(self.lock_path):
            repair_jsonl_tail(self.path)  # a writer killed mid-line: never glue a record onto its fragment
            with open(self.path, "a", encoding="utf-8") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())

    def read(self) -> list[dict[str, Any]]:
        """Every record; a torn last line (a writer killed mid-write) is ignored, other bad lines are errors."""
        return read_results(self.path)

    def finished_cells(self) -> set[str]:
        """Ids of cells whose latest end record is ``ok``."""
        status: dict[str, str] = {}
        for record in self.read():
            if record.get("kind") == "cell":
                status[record["cell"]] = record["status"]
        return {cell for cell, value in status.items() if value == "ok"}


# Fields each kind of record must have, and their types (a metric's value is checked apart).
_REQUIRED = {
    "run": {"run": str, "config": dict},
    "metric": {
        "cell": str,
        "model": str,
        "loss": str,
        "task": str,
        "learning_rate": (int, float),
        "seed": int,
        "eval": str,
        "target": str,
        "metric": str,
    },
    "cell": {"cell": str, "status": str},
}


def read_results(path: str | Path) -> list[dict[str, Any]]:
    """The records of a results JSONL (see the module docstring); a missing file has none.

    A torn last line is ignored; any other line that is not a record of the expected shape is an
    error naming the file, line and field.
    """
    path = Path(path)
    if not path.exists():
        return []
    if path.is_dir():
        raise DataError("is a directory; give the results.jsonl file", path=str(path))
    data = path.read_bytes()
    complete = data.endswith(b"\n")  # a killed writer leaves a last line without its newline
    lines = data.split(b"\n")
    if lines and not lines[-1].strip():
        lines.pop()
    records = []
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError:
            if number == len(lines) and not complete:
                continue  # torn final line, cut inside a UTF-8 character
            raise DataError("not UTF-8 text", path=str(path), line=number) from None
        except json.JSONDecodeError:
            if number == len(lines):
                continue  # torn final line of a killed writer
            raise DataError("not valid JSON", path=str(path), line=number) from None
        if not isinstance(record, dict) or record.get("kind") not in _REQUIRED:
            raise DataError("expected a record with kind run, metric or cell", path=str(path), line=number)
        for name, kind in _REQUIRED[record["kind"]].items():
            if not isinstance(record.get(name), kind):
                expected = "number" if isinstance(kind, tuple) else kind.__name__
                raise DataError(
                    f"a {record['kind']} record needs {name!r} ({expected}), got {record.get(name)!r}",
                    path=str(path),
                    line=number,
                    field=name,
                )
        if record["kind"] == "run" and not all(
            isinstance(task, dict) and isinstance(task.get("source"), str)
            for task in (record["config"].get("tasks") or {None: None}).values()
        ):
            raise DataError(
                "a run record needs config.tasks: name -> {source: ...}",
                path=str(path),
                line=number,
                field="config",
            )
        value = record.get("value")
        if record["kind"] == "metric" and not (value is None or _is_number(value)):
            raise DataError(
                f"a metric value must be a number or null, got {value!r}",
                path=str(path),
                line=number,
                field="value",
            )
        if record["kind"] == "cell" and record["status"] not in ("ok", "failed"):
            raise DataError(
                f"status must be ok or failed, got {record['status']!r}",
                path=str(path),
                line=number,
                field="status",
            )
        records.append(record)
    return records


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
