"""LaMP reader: official questions + outputs files, and every kind of bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from percontrast.data.build import validate_record
from percontrast.data.lamp import LAMP_TASKS, lamp_task, read_lamp
from percontrast.data.task_spec import RawRecord
from percontrast.utils.errors import ConfigError, DataError

FIXTURES = Path(__file__).parent.parent / "fixtures" / "lamp"


def files(task: str) -> tuple[Path, Path]:
    return FIXTURES / f"{task}_dev_questions.json", FIXTURES / f"{task}_dev_outputs.json"


@pytest.mark.parametrize("task", ["LaMP_4", "LaMP_5", "LaMP_7"])
def test_fixtures_read_and_validate(task: str) -> None:
    records, skipped = read_lamp(*files(task), task)
    assert records and skipped == {}
    golds = {g["id"]: g["output"] for g in json.loads(files(task)[1].read_text())["golds"]}
    for record in records:
        assert record.output == golds[record.id]
        validate_record(record, LAMP_TASKS[task])


def test_official_queries_and_documents() -> None:
    spec = lamp_task("LaMP-4")
    assert spec.query("Generate a headline for the following article: Body text.") == "Body text."
    assert spec.query("no marker here") is None
    assert spec.document({"title": "T", "text": "X"}) == "T X"
    assert lamp_task("5").document({"title": "T", "abstract": "A"}) == "T A"
    assert lamp_task("LaMP_7").query("Paraphrase the following tweet: hi: there") == "hi: there"


def test_unknown_task() -> None:
    with pytest.raises(ConfigError, match="LaMP_1 is not supported"):
        lamp_task("LaMP_1")


def write(tmp_path: Path, questions: list, golds: list, task: str = "LaMP_4") -> tuple[Path, Path]:
    q, o = tmp_path / "q.json", tmp_path / "o.json"
    q.write_text(json.dumps(questions))
    o.write_text(json.dumps({"task": task, "golds": golds}))
    return q, o


QUESTION = {"id": "1", "input": "article: x", "profile": [{"id": "p", "title": "t", "text": "x"}]}


def test_question_without_gold_is_an_error_or_a_count(tmp_path: Path) -> None:
    q, o = write(tmp_path, [QUESTION, QUESTION | {"id": "2"}], [{"id": "1", "output": "y"}])
    with pytest.raises(DataError, match=r"q\.json.*record '2'.*field 'id'.*no gold"):
        read_lamp(q, o, "LaMP_4")
    records, skipped = read_lamp(q, o, "LaMP_4", skip_unmatched=True)
    assert [r.id for r in records] == ["1"] and skipped == {"question without gold": 1}


def test_gold_without_question_is_an_error_or_a_count(tmp_path: Path) -> None:
    q, o = write(tmp_path, [QUESTION], [{"id": "1", "output": "y"}, {"id": "9", "output": "z"}])
    with pytest.raises(DataError, match=r"o\.json.*record '9'"):
        read_lamp(q, o, "LaMP_4")
    assert read_lamp(q, o, "LaMP_4", skip_unmatched=True)[1] == {"gold without question": 1}


def test_outputs_of_another_task_and_missing_outputs(tmp_path: Path) -> None:
    q, o = write(tmp_path, [QUESTION], [{"id": "1", "output": "y"}], task="LaMP_5")
    with pytest.raises(DataError, match="for 'LaMP_5', not LaMP_4"):
        read_lamp(q, o, "LaMP_4")
    with pytest.raises(ConfigError, match="--outputs"):
        read_lamp(q, None, "LaMP_4")


@pytest.mark.parametrize(
    ("profile", "field", "message"),
    [
        ([], "profile", "profile is empty"),
        ([{"id": "p", "text": "x"}], "profile[0].title", "missing required field"),
        ([{"id": "p", "title": 3, "text": "x"}], "profile[0].title", "expected str, got int"),
        ("not a list", "profile", "expected a list"),
    ],
)
def test_bad_profiles_name_the_file_record_and_field(profile, field: str, message: str) -> None:
    record = RawRecord("7", "article: x", "y", profile, None, "q.json")
    with pytest.raises(DataError, match=message) as info:
        validate_record(record, LAMP_TASKS["LaMP_4"])
    assert (info.value.path, info.value.record_id, info.value.field) == ("q.json", "7", field)


def test_missing_input_and_malformed_json(tmp_path: Path) -> None:
    record = RawRecord("7", None, "y", [{"id": "p", "title": "t", "text": "x"}], None, "q.json")
    with pytest.raises(DataError, match="field 'input'.*missing"):
        validate_record(record, LAMP_TASKS["LaMP_4"])
    bad = tmp_path / "bad.json"
    bad.write_text("[{")
    with pytest.raises(DataError, match="bad.json:1: malformed JSON"):
        read_lamp(bad, bad, "LaMP_4")
