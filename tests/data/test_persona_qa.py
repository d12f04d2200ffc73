"""The persona QA reader, on the bundled annotated set and on bad records."""

from __future__ import annotations

import json

import pytest

from percontrast.data.persona_qa import read_persona_qa
from percontrast.utils.errors import DataError


def test_reads_the_bundled_annotated_set():
    examples = read_persona_qa()
    assert len(examples) == 120 and len({e.id for e in examples}) == 120
    first = examples[0]
    assert first.query.endswith("?") and first.response
    assert all(span in e.response for e in examples for span in e.meta["personal_spans"])


def test_span_not_in_answer_is_an_error(tmp_path):
    record = {"id": "a", "persona": ["p"], "question": "q?", "answer": "I sew.", "personal_spans": ["knit"]}
    path = tmp_path / "qa.jsonl"
    path.write_text(json.dumps(record) + "\n")
    with pytest.raises(DataError, match=r"qa.jsonl:1.*'personal_spans'.*not in the answer"):
        read_persona_qa(path)
    del record["answer"]
    path.write_text(json.dumps(record) + "\n")
    with pytest.raises(DataError, match="'answer'.*missing"):
        read_persona_qa(path)
