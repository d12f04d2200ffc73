"""The hand-annotated persona QA set (bundled: ``resources/persona_tokens/dev.jsonl``) as `Example` records.

Each record has a Synthetic-Persona-Chat persona (Jandaghi et al., 2023, arXiv:2312.10007, CC BY 4.0),
a question, a first-person answer and the answer's annotated ``personal_spans``. The question becomes
the query, the answer the response; the spans, persona id and the rest go to ``meta``.
"""

from __future__ import annotations

from pathlib import Path

from percontrast.bundled import PERSONA_TOKENS_DEV
from percontrast.data.schema import Example, iter_jsonl
from percontrast.errors import DataError

_REQUIRED = ("id", "persona", "question", "answer", "personal_spans")


def read_persona_qa(path: str | Path | None = None) -> list[Example]:
    """Read a persona QA JSONL file (default: the bundled dev set); missing fields and spans absent from
    the answer are errors."""
    if path is None:
        path = PERSONA_TOKENS_DEV
    examples = []
    for line, record in iter_jsonl(path):
        for name in _REQUIRED:
            if name not in record:
                raise DataError("missing required field", path=str(path), line=line, field=name)
        for span in record["personal_spans"]:
            if span not in record["answer"]:
                raise DataError(
                    f"span {span!r} is not in the answer", path=str(path), line=line, field="personal_spans"
                )
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
