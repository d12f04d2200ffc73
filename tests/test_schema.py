"""Example JSONL validation: every bad line names the file, line and field."""

from __future__ import annotations

import json

import pytest

from percontrast.data.schema import Example, read_examples, write_jsonl
from percontrast.utils.errors import DataError

GOOD = {"id": "a", "persona": ["I like to sew."], "query": "Hobby?", "response": "I stitch."}


def write_lines(tmp_path, lines):
    path = tmp_path / "ex.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_round_trip(tmp_path):
    example = Example(id="x", persona=["p1", "p2"], query="q", response="r", task="t", meta={"k": 1})
    path = tmp_path / "out.jsonl"
    write_jsonl(path, [example])
    assert read_examples(path) == [example]


def test_string_persona_becomes_one_item(tmp_path):
    path = write_lines(tmp_path, [json.dumps({**GOOD, "persona": "I like to sew."})])
    assert read_examples(path)[0].persona == ["I like to sew."]


@pytest.mark.parametrize(
    ("record", "field", "message"),
    [
        ({k: v for k, v in GOOD.items() if k != "persona"}, "persona", "missing"),
        ({k: v for k, v in GOOD.items() if k != "query"}, "query", "missing"),
        ({k: v for k, v in GOOD.items() if k != "response"}, "response", "missing"),
        ({**GOOD, "response": "   "}, "response", "empty"),
        ({**GOOD, "persona": []}, "persona", "empty"),
        ({**GOOD, "persona": [1, 2]}, "persona", "list of strings"),
        ({**GOOD, "query": 3}, "query", "string"),
        ({**GOOD, "colour": "red"}, "colour", "unknown field"),
    ],
)
def test_bad_record_names_file_line_and_field(tmp_path, record, field, message):
    path = write_lines(tmp_path, [json.dumps({**GOOD, "id": "ok"}), json.dumps(record)])
    with pytest.raises(DataError) as info:
        read_examples(path)
    text = str(info.value)
    assert f"{path}:2" in text and repr(field) in text and message in text
    assert info.value.line == 2 and info.value.field == field


def test_malformed_json_names_line(tmp_path):
    path = write_lines(tmp_path, [json.dumps(GOOD), '{"id": "b", "persona": '])
    with pytest.raises(DataError, match=r"ex.jsonl:2: malformed JSON"):
        read_examples(path)


def test_duplicate_id_names_both_lines(tmp_path):
    path = write_lines(tmp_path, [json.dumps(GOOD), "", json.dumps(GOOD)])
    with pytest.raises(DataError, match=r"ex.jsonl:3.*duplicate id 'a' \(first seen on line 1\)"):
        read_examples(path)


def test_empty_file_and_missing_file(tmp_path):
    with pytest.raises(DataError, match="no examples"):
        read_examples(write_lines(tmp_path, [""]))
    with pytest.raises(DataError, match="file not found"):
        read_examples(tmp_path / "nope.jsonl")
