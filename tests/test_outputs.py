"""`percontrast.utils.files`: collisions refused before work, atomic writes, torn-tail repair, run settings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from percontrast.utils.errors import ConfigError, DataError
from percontrast.utils.files import (
    JsonlAppender,
    atomic_write_jsonl,
    atomic_write_text,
    check_outputs,
    check_run_settings,
    repair_jsonl_tail,
    settings_path,
)


def test_output_equal_to_an_input_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "x.jsonl"
    data.write_text("{}\n")
    # The same file under another spelling is still the same file.
    alias = tmp_path / "sub" / ".." / "x.jsonl"
    with pytest.raises(ConfigError, match=r"--out .* is also the input --data"):
        check_outputs(inputs={"--data": data}, outputs={"--out": alias})
    assert data.read_text() == "{}\n"


def test_two_outputs_on_one_path_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is also the output --out"):
        check_outputs(outputs={"--out": tmp_path / "m.md", "the table": tmp_path / "m.md"})


def test_directories_are_refused_as_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--data .* is a directory"):
        check_outputs(inputs={"--data": tmp_path})
    with pytest.raises(ConfigError, match="--out .* is a directory"):
        check_outputs(outputs={"--out": tmp_path})
    a_file = tmp_path / "f"
    a_file.write_text("")
    with pytest.raises(ConfigError, match="is a file, not a directory"):
        check_outputs(outputs={"--out": a_file / "x.json"})
    check_outputs(inputs={"--data": None}, outputs={"--out": tmp_path / "new" / "x.json"})


def test_failed_write_leaves_the_old_file_untouched(tmp_path: Path) -> None:
    out = tmp_path / "scores.jsonl"
    out.write_text('{"id": "old"}\n')
    records = [{"id": "a", "text": "fine"}, {"id": "b", "text": "bad \ud800 surrogate"}]
    with pytest.raises(DataError, match=r"record 2 \(id 'b'\).*surrogate"):
        atomic_write_jsonl(out, records)
    assert out.read_text() == '{"id": "old"}\n'
    assert list(tmp_path.iterdir()) == [out]  # no temporary file left behind
    assert atomic_write_jsonl(out, records[:1]) == 1
    assert json.loads(out.read_text()) == records[0]
    atomic_write_text(tmp_path / "deep" / "t.txt", "ok")
    assert (tmp_path / "deep" / "t.txt").read_text() == "ok"


def test_torn_last_record_is_dropped_and_a_complete_one_gets_its_newline(tmp_path: Path, caplog) -> None:
    out = tmp_path / "p.jsonl"
    out.write_text('{"id": "a"}\n{"id": "b", "predic')
    assert repair_jsonl_tail(out) == 1
    assert out.read_text() == '{"id": "a"}\n'
    assert "torn" in caplog.text
    out.write_text('{"id": "a"}\n{"id": "b"}')  # complete, only the newline is missing
    with JsonlAppender(out) as appender:
        assert appender.dropped == 0
        appender.write({"id": "c"})
    assert [json.loads(line)["id"] for line in out.read_text().splitlines()] == ["a", "b", "c"]


def test_run_settings_are_recorded_and_checked(tmp_path: Path) -> None:
    out = tmp_path / "p.jsonl"
    check_run_settings(out, {"model": "tiny", "greedy": True}, kind="generate")
    assert json.loads(settings_path(out).read_text())["settings"] == {"model": "tiny", "greedy": True}
    out.write_text('{"id": "a", "prediction": "x", "reference": "y"}\n')
    check_run_settings(out, {"model": "tiny", "greedy": True}, kind="generate")  # same: fine
    with pytest.raises(ConfigError, match="greedy: True there, False now"):
        check_run_settings(out, {"model": "tiny", "greedy": False}, kind="generate")
    with pytest.raises(ConfigError, match="not .* `percontrast aloe`"):
        check_run_settings(out, {"model": "tiny", "greedy": True}, kind="aloe")
    settings_path(out).unlink()
    with pytest.raises(ConfigError, match="no p.jsonl.settings.json"):
        check_run_settings(out, {"model": "tiny"}, kind="generate")
