"""The `Example` record and its JSONL I/O.

One example is one user-specific task instance (README.md, "Formats"):

    {"id": str, "persona": str | [str], "query": str, "response": str,
     "user_id"?: str, "task"?: str, "template"?: str,
     "history"?: [{"role": "system" | "user" | "assistant", "content": str}], "meta"?: {}}

`persona` is everything user-specific (persona sentences, retrieved profile items, writing
history); `query` is the task input. Removing `persona` from the prompt is the intervention that
PerContrast measures. `template` names the prompt template the example was built for (the data
builders set it, e.g. ``LongLaMP_product_review_chat``); every command renders an example with its own
template unless told otherwise (`percontrast.templates.resolve_template`). Unknown or missing fields are
errors that name the file, line and field. `history` is the conversation before the final user
message (``query``) for multi-turn chat data: an optional leading system message of the data's own,
then user / assistant turns; both prompts keep it, only the persona is removed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from percontrast.errors import DataError

REQUIRED_FIELDS = ("id", "persona", "query", "response")
OPTIONAL_FIELDS = ("user_id", "task", "template", "history", "meta")
ALLOWED_FIELDS = REQUIRED_FIELDS + OPTIONAL_FIELDS


@dataclass
class Example:
    """One personalised task instance.

    Attributes:
        id: unique id within its file.
        persona: persona sentences or profile items, most relevant first (a plain string is one item).
        query: the task input, the part of the prompt that stays when the persona is removed.
        response: the target text (reference answer).
        user_id: optional id of the user the persona belongs to.
        task: optional task name (e.g. ``LongLaMP_product_review``).
        template: optional name of the prompt template this example was built for.
        history: the conversation before ``query`` (chat templates): an optional leading system
            message, then user / assistant turns.
        meta: free-form extra information, copied through unchanged.
    """

    id: str
    persona: list[str]
    query: str
    response: str
    user_id: str | None = None
    task: str | None = None
    template: str | None = None
    history: list[dict[str, str]] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: optional fields left out when empty."""
        record = asdict(self)
        for key in OPTIONAL_FIELDS:
            if record[key] in (None, {}, []):
                del record[key]
        return record

    @classmethod
    def from_dict(
        cls,
        record: Any,
        *,
        path: str | None = None,
        line: int | None = None,
        allow_empty_response: bool = False,
    ) -> Example:
        """Validate one JSON record and build an `Example`; errors name the file, line and field."""

        def fail(message: str, field_name: str | None = None) -> DataError:
            return DataError(message, path=path, line=line, field=field_name)

        if not isinstance(record, dict):
            raise fail(f"expected a JSON object, got {type(record).__name__}")
        unknown = sorted(set(record) - set(ALLOWED_FIELDS))
        if unknown:
            raise fail(f"unknown field(s) {unknown}; allowed fields are {list(ALLOWED_FIELDS)}", unknown[0])
        for name in REQUIRED_FIELDS:
            if name not in record:
                raise fail("missing required field", name)
        example_id = record["id"]
        if isinstance(example_id, int) and not isinstance(example_id, bool):
            example_id = str(example_id)
        if not isinstance(example_id, str) or not example_id:
            raise fail("expected a non-empty string", "id")
        persona = record["persona"]
        if isinstance(persona, str):
            persona = [persona]
        if not isinstance(persona, list) or not all(isinstance(p, str) for p in persona):
            raise fail("expected a string or a list of strings", "persona")
        persona = [p for p in persona if p.strip()]
        if not persona:
            raise fail("persona is empty; PerContrast needs user-specific text to remove", "persona")
        for name in ("query", "response"):
            if not isinstance(record[name], str):
                raise fail(f"expected a string, got {type(record[name]).__name__}", name)
        if not record["response"].strip() and not allow_empty_response:
            raise fail("response is empty", "response")
        for name in ("user_id", "task", "template"):
            value = record.get(name)
            if value is not None and not isinstance(value, str):
                raise fail("expected a string", name)
        history = _validate_history(record.get("history") or [], fail)
        meta = record.get("meta") or {}
        if not isinstance(meta, dict):
            raise fail("expected a JSON object", "meta")
        return cls(
            id=example_id,
            persona=persona,
            query=record["query"],
            response=record["response"],
            user_id=record.get("user_id"),
            task=record.get("task"),
            template=record.get("template"),
            history=history,
            meta=meta,
        )


HISTORY_ROLES = ("system", "user", "assistant")


def _validate_history(history: Any, fail: Any) -> list[dict[str, str]]:
    """Check a conversation history: a list of {"role", "content"}, a system message only first."""
    if not isinstance(history, list):
        raise fail("expected a list of {'role', 'content'} messages", "history")
    checked = []
    for position, message in enumerate(history):
        if (
            not isinstance(message, dict)
            or set(message) != {"role", "content"}
            or message["role"] not in HISTORY_ROLES
            or not isinstance(message["content"], str)
        ):
            raise fail(
                f"message {position} must be {{'role': one of {list(HISTORY_ROLES)}, 'content': str}}, got {message!r}",
                "history",
            )
        if message["role"] == "system" and position != 0:
            raise fail(f"message {position}: a system message may only come first", "history")
        checked.append({"role": message["role"], "content": message["content"]})
    return checked


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


def read_examples(path: str | Path, *, allow_empty_response: bool = False) -> list[Example]:
    """Read and validate examples; duplicate ids are an error naming both lines.

    ``path`` is a JSONL file, a Parquet file, a directory written by ``datasets.save_to_disk`` or
    ``hub:org/name``; rows are `Example` records or conversational ``messages`` records with a
    ``persona`` field (`percontrast.data.conversational`).
    """
    from percontrast.data import conversational

    text = str(path)
    if text.startswith("hub:") or text.endswith(".parquet") or Path(text).is_dir():
        return conversational.examples_from_rows(conversational.load_rows(path), path=text)
    examples: list[Example] = []
    first_line: dict[str, int] = {}
    for line_number, record in iter_jsonl(path):
        if conversational.is_conversational(record):
            example = conversational.example_from_messages(
                record, index=len(examples), path=str(path), line=line_number
            )
        else:
            example = Example.from_dict(
                record, path=str(path), line=line_number, allow_empty_response=allow_empty_response
            )
        if example.id in first_line:
            raise DataError(
                f"duplicate id {example.id!r} (first seen on line {first_line[example.id]})",
                path=str(path),
                line=line_number,
                field="id",
            )
        first_line[example.id] = line_number
        examples.append(example)
    if not examples:
        raise DataError("no examples in file", path=str(path))
    return examples


def write_jsonl(path: str | Path, records: Iterable[Any]) -> int:
    """Write dicts (or objects with ``to_dict``) as JSON Lines, atomically; returns the number written."""
    from percontrast.outputs import atomic_write_jsonl

    return atomic_write_jsonl(path, records)
