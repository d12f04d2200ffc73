"""Hostile use of the HTTP chat backend (issue 19): sampling values no server can honour are refused by
the flag before anything is sent, and a malformed answer (no choice, a null content) or URL is one line
naming it (exit 2), never a traceback or "kept 0 of 2".

    percontrast construct --personas p.jsonl --out s.jsonl --url URL --api-model m --temperature nan
    percontrast evaluate --predictions p.jsonl --metrics judge --judge-url URL --judge-temperature nan
    percontrast generate --model tiny --data d.jsonl --out p.jsonl --max-new-tokens 0
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from chat_server import ChatServer

from percontrast.cli import main


@pytest.fixture()
def files(tmp_path: Path) -> dict[str, Path]:
    personas = tmp_path / "personas.jsonl"
    personas.write_text("".join(json.dumps({"persona": [s]}) + "\n" for s in ("I sew.", "I run.")))
    preds = tmp_path / "preds.jsonl"
    preds.write_text(json.dumps({"id": "a", "prediction": "x", "reference": "x"}) + "\n")
    data = tmp_path / "data.jsonl"
    data.write_text(json.dumps({"id": "a", "persona": ["p"], "query": "q", "response": "x"}) + "\n")
    return {"personas": personas, "preds": preds, "data": data, "tmp": tmp_path}


def _construct(files: dict[str, Path], url: str, *extra: str) -> list[str]:
    argv = ["construct", "--personas", str(files["personas"]), "--out", str(files["tmp"] / "s.jsonl")]
    return [*argv, "--url", url, "--api-model", "m", *extra]


def _judge(files: dict[str, Path], url: str, *extra: str) -> list[str]:
    argv = ["evaluate", "--predictions", str(files["preds"]), "--data", str(files["data"])]
    argv += ["--metrics", "judge", "--judge-url", url]
    return [*argv, "--judge-api-model", "m", *extra]


@pytest.mark.parametrize(
    ("command", "extra", "flag"),
    [
        (_construct, ["--temperature", "nan"], "--temperature"),
        (_construct, ["--temperature", "inf"], "--temperature"),
        (_construct, ["--temperature", "-1"], "--temperature"),
        (_construct, ["--max-new-tokens", "0"], "--max-new-tokens"),
        (_judge, ["--judge-temperature", "nan"], "--judge-temperature"),
        (_judge, ["--judge-max-tokens", "0"], "--judge-max-tokens"),
    ],
)
def test_sampling_values_are_checked_by_the_flag(files, command, extra: list[str], flag: str, capsys) -> None:
    with ChatServer(["Question: q?\nAnswer: I **sew**."] * 4) as server:
        with pytest.raises(SystemExit) as exit_info:
            main(command(files, server.url, *extra))
    assert exit_info.value.code == 2 and server.requests == []
    assert f"argument {flag}:" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--temperature", "nan"], "temperature must be a finite number > 0"),
        (["--temperature", "-1"], "temperature must be a finite number > 0"),
        (["--max-new-tokens", "0"], "max_new_tokens must be >= 1"),
    ],
)
def test_generate_sampling_values_are_refused(files, extra: list[str], message: str, capsys) -> None:
    """generate's own decoding settings check these (SamplingConfig) before the model is loaded."""
    out = files["tmp"] / "p.jsonl"
    assert main(["generate", "--model", "tiny", "--data", str(files["data"]), "--out", str(out), *extra]) == 2
    assert message in capsys.readouterr().err and not out.exists()


BAD_BODIES = [
    {"choices": []},
    {"choices": [{"message": {"role": "assistant", "content": None}}]},
    {"error": "overloaded"},
]


@pytest.mark.parametrize("body", BAD_BODIES)
def test_a_malformed_answer_is_one_line(files, body: dict, capsys) -> None:
    """{"choices": []} raised IndexError; content null became "" and construct exited 0 with "kept 0 of 2"."""
    with ChatServer(bodies=[body] * 4) as server:
        assert main(_construct(files, server.url)) == 2
    err = capsys.readouterr().err
    assert "unexpected chat-completions response" in err and "Traceback" not in err


def test_a_malformed_answer_to_the_judge_is_one_line(files, capsys) -> None:
    with ChatServer(bodies=[{"choices": []}] * 4) as server:
        assert main(_judge(files, server.url)) == 2
    assert "unexpected chat-completions response" in capsys.readouterr().err


def test_a_malformed_url_is_one_line(files, capsys) -> None:
    assert main(_construct(files, "http://[::1")) == 2
    assert "is not a valid URL" in capsys.readouterr().err
