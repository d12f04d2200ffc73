"""Hostile use of the CLI, classes 1 and 2 of the safety issue: no command destroys a file it was
given or mixes two runs in one output. Every case runs the real CLI on the tiny model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from percontrast.cli import main
from percontrast.commands.demo import demo_examples_path


@pytest.fixture()
def data(tmp_path: Path) -> Path:
    path = tmp_path / "data.jsonl"
    path.write_text("".join(demo_examples_path().read_text().splitlines(keepends=True)[:3]))
    return path


def _preds(tmp_path: Path, data: Path) -> Path:
    preds = tmp_path / "preds.jsonl"
    lines = [json.loads(line) for line in data.read_text().splitlines()]
    preds.write_text(
        "".join(
            json.dumps({"id": r["id"], "prediction": r["response"], "reference": r["response"]}) + "\n"
            for r in lines
        )
    )
    return preds


@pytest.mark.parametrize(
    "argv",
    [
        ["score", "--model", "tiny", "--data", "{data}", "--out", "{data}"],
        ["score", "--model", "tiny", "--data", "{data}", "--out", "{tmp}/s.jsonl", "--html", "{tmp}/s.jsonl"],
        ["generate", "--model", "tiny", "--data", "{data}", "--out", "{data}"],
        ["evaluate", "--predictions", "{preds}", "--out", "{preds}"],
        ["evaluate", "--predictions", "{preds}", "--data", "{data}", "--out", "{data}"],
        ["aloe", "--model", "tiny", "--profiles", "{data}", "--personalities", "{preds}", "--out", "{data}"],
    ],
)
def test_an_output_that_is_an_input_is_refused_and_the_input_kept(
    tmp_path: Path, data: Path, argv: list[str], capsys
) -> None:
    preds = _preds(tmp_path, data)
    before = {path: path.read_bytes() for path in (data, preds)}
    argv = [a.format(data=data, preds=preds, tmp=tmp_path) for a in argv]
    assert main(argv) == 2
    assert "it would be overwritten" in capsys.readouterr().err
    assert {path: path.read_bytes() for path in (data, preds)} == before


def test_evaluate_out_md_does_not_overwrite_its_metrics(tmp_path: Path, data: Path, capsys) -> None:
    preds = _preds(tmp_path, data)
    assert main(["evaluate", "--predictions", str(preds), "--out", str(tmp_path / "m.md")]) == 2
    assert "markdown table" in capsys.readouterr().err and not (tmp_path / "m.md").exists()
    assert main(["evaluate", "--predictions", str(preds), "--out", str(tmp_path / "m.json")]) == 0
    assert json.loads((tmp_path / "m.json").read_text())["n"] == 3
    assert (tmp_path / "m.md").read_text().startswith("| ROUGE-1")


def test_data_summary_equal_to_out_is_refused(tmp_path: Path, capsys) -> None:
    questions = tmp_path / "q.json"
    questions.write_text("[]")
    argv = [
        "data",
        "lamp",
        "--task",
        "LaMP_4",
        "--retriever",
        "bm25",
        "--model",
        "none",
        "--input",
        str(questions),
    ]
    argv += ["--outputs", str(tmp_path / "o.json"), "--out", str(questions)]
    (tmp_path / "o.json").write_text('{"golds": []}')
    assert main(argv) == 2 and questions.read_text() == "[]"
    argv[-1] = str(tmp_path / "out.jsonl")
    assert main([*argv, "--summary", str(tmp_path / "out.jsonl")]) == 2
    assert main([*argv, "--summary", str(tmp_path / "o.json")]) == 2
    assert (tmp_path / "o.json").read_text() == '{"golds": []}'
    assert capsys.readouterr().err.count("it would be overwritten") == 3


def _generate(data: Path, out: Path, *extra: str) -> int:
    return main(
        [
            "generate",
            "--model",
            "tiny",
            "--data",
            str(data),
            "--out",
            str(out),
            "--max-new-tokens",
            "4",
            *extra,
        ]
    )


def test_generate_resume_drops_a_torn_record_and_never_glues_lines(tmp_path: Path, data: Path) -> None:
    full, out = tmp_path / "full.jsonl", tmp_path / "p.jsonl"
    assert _generate(data, full, "--greedy") == 0
    lines = full.read_text().splitlines(keepends=True)
    # Killed mid-write: one complete record, then half of the next one.
    out.write_text(lines[0] + lines[1][:20])
    (tmp_path / "p.jsonl.settings.json").write_text((tmp_path / "full.jsonl.settings.json").read_text())
    assert _generate(data, out, "--greedy") == 0
    assert out.read_text() == full.read_text()
    # A complete last record without its newline: the next one starts on a new line.
    out.write_text(lines[0] + lines[1].rstrip("\n"))
    assert _generate(data, out, "--greedy") == 0
    assert out.read_text() == full.read_text()


@pytest.mark.parametrize(
    "changed",
    [
        ["--max-new-tokens", "5"],
        ["--no-persona"],
        ["--temperature", "0.9"],
        ["--seed", "3"],
        ["--template", "persona_text"],
    ],
)
def test_generate_refuses_to_resume_under_other_settings(
    tmp_path: Path, data: Path, changed: list[str], capsys
) -> None:
    out = tmp_path / "p.jsonl"
    assert _generate(data, out) == 0
    before = out.read_text()
    out.write_text("".join(before.splitlines(keepends=True)[:1]))
    argv = ["generate", "--model", "tiny", "--data", str(data), "--out", str(out), "--max-new-tokens", "4"]
    argv += changed
    if "--max-new-tokens" in changed:
        argv = argv[:-4] + changed
    assert main(argv) == 2
    assert "resuming would mix two runs" in capsys.readouterr().err
    assert len(out.read_text().splitlines()) == 1


def test_generate_refuses_a_file_that_is_not_its_predictions(tmp_path: Path, data: Path, capsys) -> None:
    scores = tmp_path / "scores.jsonl"
    assert main(["score", "--model", "tiny", "--data", str(data), "--out", str(scores)]) == 0
    before = scores.read_text()
    assert _generate(data, scores) == 2
    assert "settings.json" in capsys.readouterr().err and scores.read_text() == before


def test_generate_refuses_to_resume_on_other_data_or_other_weights(
    tmp_path: Path, data: Path, capsys
) -> None:
    """The settings record named neither the data nor the weights: the same ids with other queries were
    resumed, and a model retrained in the same folder (runs/m) mixed two models in one file."""
    from percontrast.modeling.load import load_model

    model_dir = tmp_path / "m"
    model, tokenizer = load_model("tiny", seed=0)
    model.save_pretrained(model_dir)
    tokenizer.save_pretrained(model_dir)
    out = tmp_path / "p.jsonl"
    argv = ["generate", "--model", str(model_dir), "--data", str(data), "--out", str(out)]
    argv += ["--max-new-tokens", "2", "--greedy"]
    assert main(argv) == 0
    out.write_text("".join(out.read_text().splitlines(keepends=True)[:1]))  # as if interrupted
    before = out.read_text()
    original = data.read_text()
    records = [json.loads(line) for line in original.splitlines()]
    records[1]["query"] = "Another question altogether?"
    data.write_text("".join(json.dumps(r) + "\n" for r in records))
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "(data:" in err and "model:" not in err and out.read_text() == before
    data.write_text(original)
    # A retrained model in the same folder: other weights.
    retrained, _ = load_model("tiny", seed=1)
    retrained.save_pretrained(model_dir)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "(model:" in err and "data:" not in err and out.read_text() == before
