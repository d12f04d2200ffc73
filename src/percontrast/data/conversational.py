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

from typing import Any

from percontrast.data.schema import (
    PERSONA_SOURCES,
    TEMPLATE,
    Example,
    example_from_messages,
    examples_from_rows,
    is_conversational,
)
from percontrast.data.sources import load_rows

__all__ = [
    "PERSONA_SOURCES",
    "TEMPLATE",
    "example_from_messages",
    "examples_from_rows",
    "is_conversational",
    "load_rows",
    "read_conversational",
]


def read_conversational(
    source: Any, *, persona_from: str = "field", split: str | None = None
) -> list[Example]:
    """Read conversational records from any `load_rows` source; duplicate ids are an error."""
    return examples_from_rows(load_rows(source, split), persona_from=persona_from, path=str(source))
