"""``percontrast evaluate`` and the predictions reader: metrics JSON, markdown, and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from percontrast.cli import main
from percontrast.data.schema import Example
from percontrast.evaluation.config import EvaluateConfig
from percontrast.evaluation.files import evaluate_predictions, parse_metrics
from percontrast.evaluation.predictions import read_predictions
from percontrast.utils.errors import ConfigError, DataError
from percontrast.utils.files import write_jsonl

RECORDS = [
    {"id": "a", "prediction": "the cat sat on the mat", "reference": "the cat is on the mat"},
    {"id": "b", "prediction": "a b c d", "reference": "d c b a"},
    {"id": "c", "prediction": "   ", "reference": "a whitespace-only prediction scores 0"},
    {"id": "d", "prediction": "", "reference": "an empty prediction: 0 (LaMP) or dropped (LongLaMP)"},
]


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def test_cli_rouge_metrics_json_and_table(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    predictions = _write(tmp_path / "p.jsonl", [json.dumps(r) for r in RECORDS])
    out = tmp_path / "metrics.json"
    assert (
        main(
            [
                "evaluate",
                "--predictions",
                str(predictions),
                "--metrics",
                "rouge",
                "--out",
                str(out),
                "--bootstrap",
                "--benchmark",
                "longlamp",
            ]
        )
        == 0
    )
    result = json.loads(out.read_text())
    # LongLaMP: "d" ("") is dropped, "c" (whitespace) is kept and scores 0.
    assert result["rouge1"] == pytest.approx((5 / 6 + 1.0 + 0.0) / 3)
    assert result["rougeL"] == pytest.approx((5 / 6 + 0.25 + 0.0) / 3)
    assert result["n"] == 3 and result["n_total"] == 4
    assert result["n_skipped"] == {"empty_prediction": 1}
    assert result["n_scored_empty"] == {"empty_prediction": 1}
    assert result["empty_rule"] == "longlamp" and result["empty_rule_from"] == "--benchmark"
    assert "meteor" not in result and result["bootstrap"]["seed"] == 0
    table = out.with_suffix(".md").read_text()
    assert "| ROUGE-1 | ROUGE-L | n | dropped | scored 0 (empty) | empty rule |" in table
    assert "| 61.11 | 36.11 | 3 | empty_prediction: 1 | empty_prediction: 1 | longlamp |" in table
    assert table in capsys.readouterr().out


def _examples(path: Path, task: str | None, ids=("a", "b", "c", "d")) -> Path:
    records = {r["id"]: r for r in RECORDS}
    write_jsonl(
        path,
        [Example(id=i, persona=["p"], query="q", response=records[i]["reference"], task=task) for i in ids],
    )
    return path


@pytest.mark.parametrize(
    ("task", "benchmark", "rule", "n", "rouge1"),
    [
        # LaMP scores all four pairs: (5/6 + 1 + 0 + 0) / 4.
        ("LaMP_4", None, "lamp", 4, (5 / 6 + 1.0) / 4),
        # LongLaMP drops "d" only: (5/6 + 1 + 0) / 3.
        ("LongLaMP_product_review", None, "longlamp", 3, (5 / 6 + 1.0) / 3),
        # A task of neither benchmark: the flag decides; without it, LaMP's rule (nothing dropped).
        ("persona_qa", "longlamp", "longlamp", 3, (5 / 6 + 1.0) / 3),
        ("persona_qa", None, "lamp", 4, (5 / 6 + 1.0) / 4),
    ],
)
def test_empty_rule_follows_the_examples_task(
    tmp_path: Path, task: str, benchmark: str | None, rule: str, n: int, rouge1: float
) -> None:
    predictions = _write(tmp_path / "p.jsonl", [json.dumps(r) for r in RECORDS])
    data = _examples(tmp_path / "ex.jsonl", task)
    result = evaluate_predictions(predictions, EvaluateConfig("rouge1", benchmark=benchmark), data_path=data)
    assert result["empty_rule"] == rule and result["n"] == n
    assert result["rouge1"] == pytest.approx(rouge1)
    assert result["coverage"] == {
        "partial": False,
        "n_references": 4,
        "n_predictions": 4,
        "n_missing": 0,
        "missing_ids_first": [],
    }


def test_benchmark_flag_cannot_contradict_the_examples(tmp_path: Path) -> None:
    predictions = _write(tmp_path / "p.jsonl", [json.dumps(r) for r in RECORDS])
    data = _examples(tmp_path / "ex.jsonl", "LaMP_4")
    with pytest.raises(ConfigError, match="contradicts"):
        evaluate_predictions(predictions, EvaluateConfig("rouge1", benchmark="longlamp"), data_path=data)


def test_missing_predictions_are_an_error_unless_partial(tmp_path: Path, capsys) -> None:
    predictions = _write(tmp_path / "p.jsonl", [json.dumps(r) for r in RECORDS[:2]])
    ids = ["a", "b", "c", "d"] + [f"extra{i}" for i in range(6)]
    records = {r["id"]: r for r in RECORDS}
    data = tmp_path / "ex.jsonl"
    write_jsonl(
        data,
        [
            Example(id=i, persona=["p"], query="q", response=records.get(i, {"reference": "r"})["reference"])
            for i in ids
        ],
    )
    with pytest.raises(
        DataError,
        match=r"8 of the 10 examples in .*ex.jsonl have no prediction \(first: 'c', 'd', 'extra0', ",
    ) as caught:
        evaluate_predictions(predictions, EvaluateConfig("rouge1"), data_path=data)
    assert "--partial" in str(caught.value)
    assert main(["evaluate", "--predictions", str(predictions), "--data", str(data)]) == 2
    out = tmp_path / "m.json"
    args = ["evaluate", "--predictions", str(predictions), "--data", str(data), "--metrics", "rouge"]
    assert main([*args, "--partial", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["coverage"]["partial"] is True and result["coverage"]["n_missing"] == 8
    assert result["coverage"]["missing_ids_first"][:3] == ["c", "d", "extra0"]
    assert result["n"] == 2 and result["rouge1"] == pytest.approx((5 / 6 + 1.0) / 2)
    assert "**PARTIAL evaluation**: 2 of 10 examples predicted (8 missing)" in capsys.readouterr().out
    with pytest.raises(ConfigError, match="--partial needs --data"):
        evaluate_predictions(predictions, EvaluateConfig("rouge1", partial=True))


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (
            [json.dumps(RECORDS[0]), json.dumps(RECORDS[0])],
            r"p.jsonl:2, field 'id': duplicate id 'a' \(first seen on line 1\)",
        ),
        ([json.dumps(RECORDS[0]), '{"id": "x", "prediction": '], r"p.jsonl:2: malformed JSON"),
        (
            [json.dumps({"id": "x", "prediction": "y"})],
            r"p.jsonl:1, field 'reference': missing required field",
        ),
        (
            [json.dumps({"id": "x", "prediction": 3, "reference": "r"})],
            r"field 'prediction': expected a string, got int",
        ),
        ([json.dumps(RECORDS[0] | {"score": 1})], r"unknown field\(s\) \['score'\]"),
        ([], "no predictions"),
    ],
)
def test_bad_predictions_files_name_the_problem(tmp_path: Path, lines: list[str], message: str) -> None:
    with pytest.raises(DataError, match=message):
        read_predictions(_write(tmp_path / "p.jsonl", lines))


def test_ids_missing_from_the_references_are_named(tmp_path: Path) -> None:
    predictions = _write(tmp_path / "p.jsonl", [json.dumps(r) for r in RECORDS])
    data = tmp_path / "ex.jsonl"
    write_jsonl(data, [Example(id="a", persona=["p"], query="q", response="r")])
    with pytest.raises(DataError, match=r"3 prediction id\(s\) are not in the references .*: 'b', 'c', 'd'"):
        evaluate_predictions(predictions, EvaluateConfig("rouge1"), data_path=data)
    assert main(["evaluate", "--predictions", str(predictions), "--data", str(data)]) == 2


def test_metric_names() -> None:
    assert parse_metrics("rouge,meteor,judge") == ["rouge1", "rougeL", "meteor", "judge"]
    with pytest.raises(ConfigError, match="bleu"):
        parse_metrics("rouge,bleu")


def test_judge_needs_the_examples(tmp_path: Path, tiny) -> None:
    from percontrast.evaluation.judge import Judge
    from percontrast.modeling.chat import TransformersChat

    predictions = _write(tmp_path / "p.jsonl", [json.dumps(r) for r in RECORDS])
    judge = Judge(TransformersChat(*tiny))
    with pytest.raises(ConfigError, match="needs --data"):
        evaluate_predictions(predictions, EvaluateConfig("judge"), judge=judge)
    data = tmp_path / "ex.jsonl"
    write_jsonl(
        data,
        [
            Example(id=r["id"], persona=["p"], query=f"query {r['id']}", response=r["reference"])
            for r in RECORDS
        ],
    )
    result = evaluate_predictions(
        predictions,
        EvaluateConfig("rouge1,judge"),
        data_path=data,
        judge=judge,
        judge_criteria=("personalization", "quality"),
    )
    # Examples without a task: LaMP's rule, every pair is scored, the judge sees them all.
    assert result["empty_rule"] == "lamp" and result["judge"]["personalization"]["n"] == 4
    assert 1.0 <= result["judge_personalization"] <= 5.0 and 1.0 <= result["judge_fluency"] <= 5.0
    assert result["judge_quality"] == pytest.approx(
        sum(result[f"judge_{d}"] for d in ("coherence", "consistency", "fluency", "relevance")) / 4
    )
    assert result["judge"]["mode"] == "probability"
