"""Hostile use of `percontrast evaluate` (classes 3 and 4): references must be the data's responses,
an empty metric list is refused, and ROUGE says when its official tokenizer cannot see the text."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from percontrast.cli import main
from percontrast.evaluation.metrics import MultilingualTokenizer, lexical_metrics, rouge_scores


def _write(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


def test_references_that_differ_from_the_data_are_refused(tmp_path: Path, capsys) -> None:
    data = _write(
        tmp_path / "data.jsonl",
        [{"id": i, "persona": "p", "query": "q", "response": f"answer {i}"} for i in ("a", "b")],
    )
    preds = _write(
        tmp_path / "preds.jsonl",
        [
            {"id": "a", "prediction": "answer a", "reference": "answer a"},
            {"id": "b", "prediction": "answer b", "reference": "something else"},
        ],
    )
    assert main(["evaluate", "--predictions", str(preds), "--data", str(data)]) == 2
    err = capsys.readouterr().err
    assert "1 reference(s) differ" in err and "'b'" in err and "field 'reference'" in err


@pytest.mark.parametrize("metrics", [",", " , ", ""])
def test_an_empty_metric_list_is_refused(tmp_path: Path, metrics: str, capsys) -> None:
    preds = _write(tmp_path / "p.jsonl", [{"id": "a", "prediction": "x", "reference": "x"}])
    assert main(["evaluate", "--predictions", str(preds), "--metrics", metrics]) == 2
    assert "no metric named" in capsys.readouterr().err


HEBREW = ("אני אוהבת לתפור בגדים אדומים", "אני אוהבת לתפור שמלות אדומות")
CHINESE = ("我喜欢缝红色的衣服", "我喜欢缝衣服")


def test_default_rouge_drops_other_scripts_and_says_so(caplog) -> None:
    with caplog.at_level(logging.WARNING):
        result = lexical_metrics([HEBREW[1], CHINESE[1]], [HEBREW[0], CHINESE[0]], ["rouge1"], rule="lamp")
    assert result["rouge1"] == 0.0 and result["rouge_tokenizer"] == "default"
    assert "outside [a-z0-9]" in caplog.text and "--rouge-tokenizer multilingual" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        lexical_metrics(["I sew red clothes"], ["I sew clothes"], ["rouge1"], rule="lamp")
    assert "outside" not in caplog.text  # English: no warning


def test_multilingual_rouge_sees_words_and_cjk_characters() -> None:
    assert MultilingualTokenizer().tokenize("Café, 我喜欢! שלום") == ["café", "我", "喜", "欢", "שלום"]
    scores = rouge_scores([HEBREW[1], CHINESE[1]], [HEBREW[0], CHINESE[0]], tokenizer="multilingual")
    # Hebrew: 3 of 5 words shared both ways; Chinese: 6 prediction chars all in the 9 reference chars.
    assert scores["rouge1"][0] == pytest.approx(3 / 5)
    assert scores["rouge1"][1] == pytest.approx(2 * 1.0 * (6 / 9) / (1.0 + 6 / 9))


def test_cli_multilingual_flag(tmp_path: Path) -> None:
    preds = _write(tmp_path / "p.jsonl", [{"id": "a", "prediction": CHINESE[1], "reference": CHINESE[0]}])
    out = tmp_path / "m.json"
    argv = ["evaluate", "--predictions", str(preds), "--metrics", "rouge", "--out", str(out)]
    assert main([*argv, "--rouge-tokenizer", "multilingual"]) == 0
    result = json.loads(out.read_text())
    assert result["rouge_tokenizer"] == "multilingual" and result["rouge1"] > 0.5
