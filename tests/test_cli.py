"""The CLI end to end on the tiny model: `percontrast score` and its errors."""

from __future__ import annotations

import json

import pytest

from percontrast.cli import SUBCOMMANDS, main
from percontrast.commands.demo import demo_examples_path


def test_score_writes_scores_and_heatmap(tmp_path):
    out, html = tmp_path / "scores.jsonl", tmp_path / "heatmap.html"
    code = main(
        [
            "score",
            "--model",
            "tiny",
            "--data",
            str(demo_examples_path()),
            "--out",
            str(out),
            "--html",
            str(html),
        ]
    )
    assert code == 0
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(records) == 12 and records[0]["id"] == "paper_sew"
    page = html.read_text()
    assert page.count("class='tok'") == sum(len(r["tokens"]) for r in records)
    assert "log P with persona" in page and "legend" in page


def test_bad_input_exits_2_with_file_line_field(tmp_path, capsys):
    data = tmp_path / "bad.jsonl"
    data.write_text(json.dumps({"id": "x", "persona": ["p"], "query": "q"}) + "\n")
    code = main(["score", "--model", "tiny", "--data", str(data), "--out", str(tmp_path / "o.jsonl")])
    assert code == 2
    err = capsys.readouterr().err
    assert f"{data}:1" in err and "'response'" in err and "missing required field" in err


def test_unknown_model_exits_2(tmp_path, capsys):
    code = main(
        ["score", "--model", "nope", "--data", str(demo_examples_path()), "--out", str(tmp_path / "o.jsonl")]
    )
    assert code == 2
    assert "smollm2-135m-instruct" in capsys.readouterr().err


@pytest.mark.parametrize("command", [None, *SUBCOMMANDS])
def test_help_of_every_command_prints_and_exits_0(command, capsys):
    """`percontrast <command> --help` for every command (a `%` in a help string made argparse raise).

    Reproduce: ``percontrast train --help``.
    """
    argv = ["--help"] if command is None else [command, "--help"]
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage:") and ("--help" in out or "-h" in out)
