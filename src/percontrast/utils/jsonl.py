"""Reading JSONL: the one reader every JSONL input of percontrast goes through.

`iter_jsonl` yields each non-blank line parsed, and turns every way a line can be broken (bad JSON, bytes
that are not UTF-8, a lone surrogate escape) into a `DataError` naming the file and line. It imports
nothing of ours but the errors, so the data layer and the output helpers can both use it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from percontrast.utils.errors import DataError


def iter_jsonl(path: str | Path) -> Iterator[tuple[int, Any]]:
    """Yield ``(line_number, parsed_json)`` for each non-blank line; bad JSON, bytes that are not
    UTF-8 and lone surrogates name the line."""
    path = Path(path)
    if not path.exists():
        raise DataError("file not found", path=str(path))
    if path.is_dir():
        raise DataError("is a directory; give the JSONL file inside it", path=str(path))
    with path.open("rb") as handle:
        for line_number, raw in enumerate(handle, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise DataError(
                    f"not UTF-8: byte {raw[exc.start]:#04x} at column {exc.start + 1}; convert the file to UTF-8",
                    path=str(path),
                    line=line_number,
                ) from None
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(
                    f"malformed JSON: {exc.msg} (column {exc.colno})", path=str(path), line=line_number
                ) from None
            if "\\u" in line and _has_lone_surrogate(value):
                raise DataError(
                    "a \\u escape is a lone surrogate (half of a UTF-16 pair), which is not text",
                    path=str(path),
                    line=line_number,
                )
            yield line_number, value


def _has_lone_surrogate(value: Any) -> bool:
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False
