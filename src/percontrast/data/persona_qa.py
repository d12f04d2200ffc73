"""The hand-annotated persona QA set (bundled: ``resources/persona_tokens/dev.jsonl``) as `Example` records.

Each record has a Synthetic-Persona-Chat persona (Jandaghi et al., 2023, arXiv:2312.10007, CC BY 4.0),
a question, a first-person answer and the answer's annotated ``personal_spans``. The question becomes
the query, the answer the response; the spans, persona id and the rest go to ``meta``.
"""

from __future__ import annotations

import re
from pathlib import Path

from percontrast.data.schema import Example, iter_jsonl
from percontrast.utils.bundled import PERSONA_TOKENS_DEV
from percontrast.utils.errors import DataError

_REQUIRED = ("id", "persona", "question", "answer", "personal_spans")


def _check_record(record: object, path: str, line: int) -> None:
    """Types and spans of one record; each problem names the file, line and field."""
    if not isinstance(record, dict):
        raise DataError("expected a JSON object", path=path, line=line)
    for name in _REQUIRED:
        if name not in record:
            raise DataError("missing required field", path=path, line=line, field=name)
    for name in ("id", "question", "answer"):
        if not isinstance(record[name], str) or not record[name].strip():
            raise DataError(
                f"expected a non-empty string, got {record[name]!r}", path=path, line=line, field=name
            )
    persona = record["persona"]
    if (
        not isinstance(persona, list)
        or not persona
        or not all(isinstance(p, str) and p.strip() for p in persona)
    ):
        raise DataError(
            f"expected a non-empty list of persona sentences, got {persona!r}",
            path=path,
            line=line,
            field="persona",
        )
    spans = record["personal_spans"]
    if not isinstance(spans, list) or not all(isinstance(span, str) and span.strip() for span in spans):
        raise DataError(
            f"expected a list of non-empty strings (the answer's personal spans), got {spans!r}",
            path=path,
            line=line,
            field="personal_spans",
        )
    for span in spans:
        if span not in record["answer"]:
            raise DataError(
                f"span {span!r} is not in the answer", path=path, line=line, field="personal_spans"
            )
        if not re.search(r"(?<![^\W_])" + re.escape(span) + r"(?![^\W_])", record["answer"]):
            raise DataError(
                f"span {span!r} is not word-aligned in the answer (it starts or ends inside a word); "
                "give whole words",
                path=path,
                line=line,
                field="personal_spans",
            )


def read_persona_qa(path: str | Path | None = None) -> list[Example]:
    """Read a persona QA JSONL file (default: the bundled dev set); missing or mistyped fields and spans
    that are not whole words of the answer are errors."""
    if path is None:
        path = PERSONA_TOKENS_DEV
    examples = []
    for line, record in iter_jsonl(path):
        _check_record(record, str(path), line)
        meta = {
            key: value for key, value in record.items() if key not in ("id", "persona", "question", "answer")
        }
        examples.append(
            Example(
                id=record["id"],
                persona=record["persona"],
                query=record["question"],
                response=record["answer"],
                meta=meta,
            )
        )
    if not examples:
        raise DataError("no records in file", path=str(path))
    return examples
