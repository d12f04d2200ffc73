"""Chat datasets in the conversational format of TRL and the Hub: ``messages`` lists -> `Example`.

A conversational record is ``{"messages": [{"role", "content"}, ...], "persona"?: str | [str], "id"?}``
(the format TRL's `SFTTrainer` and most chat sets on the Hub use). The last message is the assistant's
reply (the response), the one before it the user's message (the query), and everything earlier is kept
as the example's ``history`` in both prompts. Where the persona comes from:

- ``persona_from="field"`` (default): a ``persona`` field of the record. A system message of the data's
  own stays in both prompts; with persona, the persona follows it after a blank line.
- ``persona_from="system"``: the first message is a system message that *is* the persona. With
  persona the prompt has that system message, exactly; without it there is no system message.

Either way the persona-free prompt differs from the full one by the persona alone (template
``messages_chat``). Rows can come from a JSONL file, a Parquet file, a directory written by
``datasets.Dataset.save_to_disk``, a `datasets.Dataset`, or the Hub (``load_rows("hub:org/name",
split=...)``; needs the ``datasets`` package and the Hub).

    percontrast data chat --input chats.jsonl --persona-from system --out examples.jsonl
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from percontrast.data.schema import Example, iter_jsonl
from percontrast.errors import ConfigError, DataError

TEMPLATE = "messages_chat"
PERSONA_SOURCES = ("field", "system")


def is_conversational(record: Any) -> bool:
    """Whether a record is in the ``messages`` format."""
    return isinstance(record, dict) and "messages" in record


def load_rows(source: Any, split: str | None = None) -> Iterator[tuple[int | None, dict[str, Any]]]:
    """``(line or None, row)`` of a JSONL / Parquet file, a saved dataset directory, a `datasets.Dataset`,
    or ``hub:org/name`` (with ``split``)."""
    if hasattr(source, "column_names") and hasattr(source, "__iter__"):  # a datasets.Dataset
        yield from ((None, dict(row)) for row in source)
        return
    text = str(source)
    if text.startswith("hub:"):
        if importlib.util.find_spec("datasets") is None:
            raise ConfigError("reading from the Hub needs the datasets package (pip install datasets)")
        from datasets import load_dataset

        yield from ((None, dict(row)) for row in load_dataset(text[4:], split=split or "train"))
        return
    path = Path(text)
    if path.is_dir():
        if not (path / "dataset_info.json").exists() and not (path / "state.json").exists():
            raise DataError(
                "a directory that is not a saved dataset (no dataset_info.json / state.json)", path=text
            )
        if importlib.util.find_spec("datasets") is None:
            raise ConfigError(
                f"{path}: reading a saved dataset needs the datasets package (pip install datasets)"
            )
        from datasets import DatasetDict, load_from_disk

        dataset = load_from_disk(str(path))
        if isinstance(dataset, DatasetDict):
            if split is None or split not in dataset:
                raise DataError(f"a dataset with splits {list(dataset)}; name one with split=", path=text)
            dataset = dataset[split]
        yield from ((None, dict(row)) for row in dataset)
        return
    if path.suffix == ".parquet":
        if importlib.util.find_spec("pyarrow") is None:
            raise ConfigError(f"{path}: reading Parquet needs pyarrow (pip install pyarrow)")
        import pyarrow.parquet as pq

        yield from ((None, row) for row in pq.read_table(path).to_pylist())
        return
    yield from iter_jsonl(path)


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


def read_conversational(
    source: Any, *, persona_from: str = "field", split: str | None = None
) -> list[Example]:
    """Read conversational records from any `load_rows` source; duplicate ids are an error."""
    return examples_from_rows(load_rows(source, split), persona_from=persona_from, path=str(source))


def examples_from_rows(
    rows: Iterable[tuple[int | None, Any]], *, persona_from: str = "field", path: str | None = None
) -> list[Example]:
    """Rows in our `Example` format or in the ``messages`` format, as examples."""
    examples: list[Example] = []
    seen: dict[str, int] = {}
    for index, (line, record) in enumerate(rows):
        if is_conversational(record):
            example = example_from_messages(
                record, index=index, persona_from=persona_from, path=path, line=line
            )
        else:
            example = Example.from_dict(record, path=path, line=line)
        if example.id in seen:
            raise DataError(
                f"duplicate id {example.id!r} (first seen in row {seen[example.id]})",
                path=path,
                line=line,
                field="id",
            )
        seen[example.id] = index
        examples.append(example)
    if not examples:
        raise DataError("no examples", path=path)
    return examples
