"""``percontrast evaluate`` and the predictions reader: metrics JSON, markdown, and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from percontrast.cli import main
from percontrast.data.schema import Example, write_jsonl
from percontrast.errors import ConfigError, DataError
from percontrast.evaluation.predictions import read_predictions
from percontrast.evaluation.report import evaluate_predictions, parse_metrics

RECORDS = [
    {"id": "a", "prediction": "the cat sat on the mat", "reference": "the cat is on the mat"},
    {"id": "b", "prediction": "a b c d", "reference": "d c b a"},
    {"id": "c", "prediction": "   ", "reference": "dropped because the prediction is empty"},
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
            ]
        )
        == 0
    )
    result = json.loads(out.read_text())
    assert result["rouge1"] == pytest.approx((5 / 6 + 1.0) / 2)
    assert result["rougeL"] == pytest.approx((5 / 6 + 0.25) / 2)
    assert result["n"] == 2 and result["n_skipped"] == {"empty_prediction": 1}
    assert "meteor" not in result and result["bootstrap"]["seed"] == 0
    table = out.with_suffix(".md").read_text()
    assert (
        "| ROUGE-1 | ROUGE-L | n | skipped |" in table
        and "| 91.67 | 54.17 | 2 | empty_prediction: 1 |" in table
    )
    assert table in capsys.readouterr().out


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
    with pytest.raises(DataError, match=r"2 prediction id\(s\) are not in the references: 'b', 'c'"):
        evaluate_predictions(predictions, ["rouge1"], data_path=data)
    assert main(["evaluate", "--predictions", str(predictions), "--data", str(data)]) == 2


def test_metric_names() -> None:
    assert parse_metrics("rouge,meteor,judge") == ["rouge1", "rougeL", "meteor", "judge"]
    with pytest.raises(ConfigError, match="bleu"):
        parse_metrics("rouge,bleu")


def test_judge_needs_the_examples(tmp_path: Path, tiny) -> None:
    from percontrast.evaluation.backends import TransformersChat
    from percontrast.evaluation.judge import Judge

    predictions = _write(tmp_path / "p.jsonl", [json.dumps(r) for r in RECORDS])
    judge = Judge(TransformersChat(*tiny))
    with pytest.raises(ConfigError, match="needs --data"):
        evaluate_predictions(predictions, ["judge"], judge=judge)
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
        ["rouge1", "judge"],
        data_path=data,
        judge=judge,
        judge_criteria=("personalization", "quality"),
    )
    assert result["judge"]["personalization"]["n"] == 2  # the empty prediction is dropped before judging
    assert 1.0 <= result["judge_personalization"] <= 5.0 and 1.0 <= result["judge_fluency"] <= 5.0
    assert result["judge_quality"] == pytest.approx(
        sum(result[f"judge_{d}"] for d in ("coherence", "consistency", "fluency", "relevance")) / 4
    )
    assert result["judge"]["mode"] == "probability"
