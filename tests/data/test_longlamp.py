"""LongLaMP reader: dataset rows from JSON, JSONL and Parquet, task names, bad rows."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from percontrast.data.build import validate_record
from percontrast.data.longlamp import load_hub_rows, longlamp_task, read_longlamp
from percontrast.utils.errors import ConfigError, DataError

FIXTURES = Path(__file__).parent.parent / "fixtures" / "longlamp"
FILES = {
    "abstract_generation": FIXTURES / "abstract_generation_user_val.jsonl",
    "product_review": FIXTURES / "product_review_user_val.json",
    "topic_writing": FIXTURES / "topic_writing_user_val.jsonl",
}


@pytest.mark.parametrize("task", sorted(FILES))
def test_fixtures_read_and_validate(task: str) -> None:
    spec, records = read_longlamp(task, FILES[task])
    assert spec.name == f"LongLaMP_{task}" and len(records) == 2
    assert len({r.id for r in records}) == 2
    for record in records:
        assert record.user_id
        validate_record(record, spec)


def test_task_names_and_queries() -> None:
    for name in ("review", "product_review_user", "LongLaMP_product_review", "product_review_temporal"):
        assert longlamp_task(name)[0] == "product_review"
    with pytest.raises(ConfigError, match="supported"):
        longlamp_task("email_generation")
    spec = longlamp_task("abstract")[1]
    assert (
        spec.query('Generate an abstract for the title "T" using the following items: 1. a 2. b')
        == "1. a 2. b"
    )


def test_missing_user_field_and_bad_types(tmp_path: Path) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_text(json.dumps({"input": "x", "output": "y", "profile": []}) + "\n")
    with pytest.raises(DataError, match=r"rows.jsonl:1.*field 'reviewerId'"):
        read_longlamp("product_review", path)
    row = {
        "reviewerId": "r",
        "input": "x",
        "output": "y",
        "profile": [{"overall": "5", "summary": "s", "description": "d"}],
    }
    path.write_text(json.dumps(row) + "\n")
    spec, records = read_longlamp("product_review", path)
    with pytest.raises(
        DataError, match=r"rows.jsonl:1, record 'product_review-rows-0', field 'profile\[0\]\.reviewText'"
    ):
        validate_record(records[0], spec)


def test_unknown_suffix_and_hub_without_datasets(tmp_path: Path) -> None:
    path = tmp_path / "rows.csv"
    path.write_text("")
    with pytest.raises(ConfigError, match="unknown file type"):
        read_longlamp("review", path)
    if importlib.util.find_spec("datasets") is None:
        with pytest.raises(ConfigError, match="datasets"):
            load_hub_rows("product_review_user", "val")


@pytest.mark.needs("pyarrow")
def test_parquet(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [json.loads(line) for line in FILES["topic_writing"].read_text().splitlines()]
    path = tmp_path / "topic_writing_user_val.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path)
    spec, records = read_longlamp("topic_writing", path)
    assert [r.output for r in records] == [row["output"] for row in rows]
