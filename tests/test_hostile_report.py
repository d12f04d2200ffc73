"""Hostile use of `percontrast report` (issue 19): a missing file, a file with no result, and records of
the wrong shape are one line naming the file, line and field (exit 2), never "0 metric rows" or a traceback.

    percontrast report nowhere.jsonl
    percontrast report results.jsonl     # with "value": "high", NaN values, no "cell", non-UTF-8 bytes
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from percontrast.cli import main

RUN = {
    "kind": "run", "run": "r", "config": {"name": "x", "tasks": {"pag": {"source": "longlamp"}}},
    "versions": {}, "git_commit": None, "host": "h", "time": "t",
}  # fmt: skip


def _metric(metric: str, value, seed: int = 0) -> dict:
    return {
        "kind": "metric", "run": "r", "cell": f"m__pag__ce__lr1e-05__s{seed}", "model": "m", "loss": "ce",
        "task": "pag", "learning_rate": 1e-5, "clip_min": None, "clip_max": None, "seed": seed,
        "eval": "lexical", "target": "pag", "metric": metric, "value": value, "n": 3,
    }  # fmt: skip


def _write(path: Path, records: list[dict]) -> Path:
    cells = {r["cell"] for r in records if r.get("kind") == "metric" and "cell" in r}
    ends = [{"kind": "cell", "cell": c, "status": "ok"} for c in sorted(cells)]
    path.write_text("".join(json.dumps(r) + "\n" for r in [RUN, *records, *ends]))
    return path


@pytest.mark.parametrize(
    ("records", "message"),
    [
        (None, "file not found"),
        ([], "no metric or cell record"),
        ([_metric("rougeL", "high")], "results.jsonl:2, field 'value': a metric value must be a number"),
        ([{k: v for k, v in _metric("rougeL", 0.3).items() if k != "cell"}], "field 'cell'"),
        (
            [{k: v for k, v in _metric("rougeL", 0.3).items() if k != "learning_rate"}],
            "'learning_rate' (number)",
        ),
        ("bytes", "results.jsonl:2: not UTF-8 text"),
    ],
)
def test_bad_results_are_one_line(tmp_path: Path, records, message: str, capsys) -> None:
    path = tmp_path / "results.jsonl"
    if records == "bytes":
        path.write_bytes(json.dumps(RUN).encode() + b"\n\xff\xfe{}\n")
    elif records is not None:
        _write(path, records)
    assert main(["report", str(path)]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.splitlines()) == 1
    assert not (tmp_path / "report").exists()


def test_nan_values_are_no_result(tmp_path: Path) -> None:
    """All-NaN ROUGE-L (a metric that failed) over two seeds, two losses and two learning rates raised
    inside the tables (statistics.stdev of NaN; then no learning rate to choose for Table 12)."""
    rows = []
    for loss in ("ce", "perce"):
        for lr in (1e-5, 2e-5):
            for seed in (0, 1):
                for metric, value in (("rougeL", float("nan")), ("meteor", 0.2 + lr * 1000)):
                    row = _metric(metric, value, seed) | {"loss": loss, "learning_rate": lr}
                    row["cell"] = f"m__pag__{loss}__lr{lr:g}__s{seed}"
                    if loss == "perce":
                        row |= {"clip_min": 0.8, "clip_max": 5.0}
                    rows.append(row)
    path = _write(tmp_path / "results.jsonl", rows)
    assert main(["report", str(path)]) == 0
    assert (tmp_path / "report" / "report.md").read_text().startswith("# Experiment x")
