"""The `Example` record and its JSONL I/O.

One example is one user-specific task instance (README.md, "Formats"):

    {"id": str, "persona": str | [str], "query": str, "response": str,
     "user_id"?: str, "task"?: str, "template"?: str,
     "history"?: [{"role": "system" | "user" | "assistant", "content": str}], "meta"?: {}}

`persona` is everything user-specific (persona sentences, retrieved profile items, writing
history); `query` is the task input. Removing `persona` from the prompt is the intervention that
PerContrast measures. `template` names the prompt template the example was built for (the data
builders set it, e.g. ``LongLaMP_product_review_chat``); every command renders an example with its own
template unless told otherwise (`percontrast.prompts.registry.resolve_template`). Unknown or missing fields are
errors that name the file, line and field. `history` is the conversation before the final user
message (``query``) for multi-turn chat data: an optional leading system message of the data's own,
then user / assistant turns; both prompts keep it, only the persona is removed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from percontrast.utils.errors import ConfigError, DataError
from percontrast.utils.jsonl import iter_jsonl

__all__ = ["Example", "examples_from_rows", "iter_jsonl", "read_examples", "write_jsonl"]

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


def read_examples(path: str | Path, *, allow_empty_response: bool = False) -> list[Example]:
    """Read and validate examples; duplicate ids are an error naming both lines (or rows).

    ``path`` is a JSONL file, a Parquet file, a directory written by ``datasets.save_to_disk`` or
    ``hub:org/name``; rows are `Example` records or conversational ``messages`` records with a
    ``persona`` field (`percontrast.data.conversational`). Every source goes through the same checks.
    """
    from percontrast.data.sources import load_rows

    return examples_from_rows(load_rows(path), path=str(path), allow_empty_response=allow_empty_response)


def write_jsonl(path: str | Path, records: Iterable[Any]) -> int:
    """Write dicts (or objects with ``to_dict``) as JSON Lines, atomically; returns the number written."""
    from percontrast.utils.files import atomic_write_jsonl

    return atomic_write_jsonl(path, records)


# Conversational records (TRL's / the Hub's ``messages`` format; `percontrast.data.conversational`).
TEMPLATE = "messages_chat"
PERSONA_SOURCES = ("field", "system")


def is_conversational(record: Any) -> bool:
    """Whether a record is in the ``messages`` format."""
    return isinstance(record, dict) and "messages" in record


def example_from_messages(
    record: dict[str, Any],
    *,
    index: int,
    persona_from: str = "field",
    path: str | None = None,
    line: int | None = None,
) -> Example:
    """One conversational record as an `Example` (see the module docstring)."""

    def fail(message: str, field_name: str) -> DataError:
        return DataError(
            message, path=path, line=line, record_id=str(record.get("id", index)), field=field_name
        )

    if persona_from not in PERSONA_SOURCES:
        raise ConfigError(f"persona_from must be one of {list(PERSONA_SOURCES)}, got {persona_from!r}")
    messages = record["messages"]
    if not isinstance(messages, list) or not all(
        isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str)
        for m in messages
    ):
        raise fail("expected a list of {'role': str, 'content': str}", "messages")
    messages = [{"role": m["role"], "content": m["content"]} for m in messages]
    if persona_from == "system":
        if not messages or messages[0]["role"] != "system":
            raise fail("persona_from='system' but the first message is not a system message", "messages")
        persona: Any = messages.pop(0)["content"]
        if "persona" in record and record["persona"]:
            raise fail("persona given twice: as a field and as the system message", "persona")
    else:
        if "persona" not in record:
            raise fail(
                "no persona field; if the persona is the system message, use persona_from='system' "
                "(percontrast data chat --persona-from system)",
                "persona",
            )
        persona = record["persona"]
    if len(messages) < 2 or messages[-1]["role"] != "assistant" or messages[-2]["role"] != "user":
        raise fail("the conversation must end with a user message and the assistant's reply", "messages")
    extra = {key: value for key, value in record.items() if key not in ("messages", "persona", "id", "task")}
    payload = {
        "id": str(record.get("id", index)),
        "persona": persona,
        "query": messages[-2]["content"],
        "response": messages[-1]["content"],
        "template": TEMPLATE,
        "history": messages[:-2],
        "meta": extra,
    }
    if record.get("task") is not None:
        payload["task"] = record["task"]
    return Example.from_dict(payload, path=path, line=line)


def examples_from_rows(
    rows: Iterable[tuple[int | None, Any]],
    *,
    persona_from: str = "field",
    path: str | None = None,
    allow_empty_response: bool = False,
) -> list[Example]:
    """Rows in our `Example` format or in the ``messages`` format, as examples; a duplicate id is an
    error naming the line (JSONL) or row where it was first seen."""
    examples: list[Example] = []
    seen: dict[str, int] = {}
    for index, (line, record) in enumerate(rows):
        if is_conversational(record):
            example = example_from_messages(
                record, index=index, persona_from=persona_from, path=path, line=line
            )
        else:
            example = Example.from_dict(
                record, path=path, line=line, allow_empty_response=allow_empty_response
            )
        if example.id in seen:
            raise DataError(
                f"duplicate id {example.id!r} (first seen {seen[example.id]})",
                path=path,
                line=line,
                field="id",
            )
        seen[example.id] = f"on line {line}" if line is not None else f"in row {index}"
        examples.append(example)
    if not examples:
        raise DataError("no examples in file", path=path)
    return examples
