"""ALOE interrupted (class 2 of the safety issue): each finished conversation is on disk at once, a
rerun resumes after them, and a rerun under other settings is refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from percontrast.cli import main
from percontrast.evaluation import aloe as aloe_module

FIXTURES = Path(__file__).parent / "fixtures" / "aloe"


def _argv(out: Path, *extra: str) -> list[str]:
    argv = [
        "aloe",
        "--model",
        "tiny",
        "--judge-model",
        "tiny",
        "--profiles",
        str(FIXTURES / "profile_eval.jsonl"),
    ]
    argv += ["--personalities", str(FIXTURES / "personality_eval.jsonl"), "--n-profiles", "2"]
    argv += ["--n-personalities", "2", "--turns", "1", "--max-new-tokens", "4", "--chunk-size", "1"]
    return [*argv, "--out", str(out), *extra]


def test_an_interrupted_run_keeps_its_finished_conversations_and_resumes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    out = tmp_path / "aloe.json"
    saved = tmp_path / "aloe.conversations.jsonl"
    real_run, calls = aloe_module.run_aloe, []

    def interrupted(model, simulator, judge, conversations, config, progress=True):
        calls.append([c.id for c in conversations])
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real_run(model, simulator, judge, conversations, config, progress=False)

    monkeypatch.setattr(aloe_module, "run_aloe", interrupted)
    assert main(_argv(out)) == 130  # Ctrl-C: one line saying what was saved and how to resume
    assert f"2 of 4 conversations are saved in {saved}; rerun the same command" in capsys.readouterr().err
    kept = saved.read_text().splitlines()
    assert [json.loads(line)["id"] for line in kept] == calls[0] + calls[1]
    assert not out.exists()
    # A rerun runs only the conversations that were not finished, and keeps the others as they were.
    calls.clear()
    assert main(_argv(out)) == 0
    assert calls == [["p01_q0"], ["p01_q1"]]
    lines = saved.read_text().splitlines()
    assert lines[:2] == kept and len(lines) == 4
    summary = json.loads(out.read_text())
    assert summary["n_conversations"] == 4
    assert "AL(1) |" in capsys.readouterr().out
    # Other settings would mix two runs in one file: refused, nothing run.
    calls.clear()
    assert main(_argv(out, "--temperature", "0.9")) == 2
    assert "resuming would mix two runs" in capsys.readouterr().err and calls == []


def test_out_naming_the_conversations_file_is_refused(tmp_path: Path, capsys) -> None:
    """percontrast aloe ... --out a.json, then --out a.conversations.jsonl: the summary replaced the
    resumable conversations (its own conversations path is a.conversations.conversations.jsonl)."""
    out = tmp_path / "a.json"
    assert main(_argv(out, "--n-profiles", "1", "--n-personalities", "1")) == 0
    saved = tmp_path / "a.conversations.jsonl"
    before = saved.read_text()
    assert main(_argv(saved, "--n-profiles", "1", "--n-personalities", "1")) == 2
    assert "resumable output of an earlier run" in capsys.readouterr().err
    assert saved.read_text() == before


def test_a_resume_on_other_profiles_is_refused(tmp_path: Path, capsys) -> None:
    """The settings record named the profile files by path only: other profiles in the same file were
    resumed into the conversations of the old ones."""
    profiles = tmp_path / "profiles.jsonl"
    profiles.write_text((FIXTURES / "profile_eval.jsonl").read_text())
    out = tmp_path / "a.json"
    argv = [*_argv(out, "--n-profiles", "1", "--n-personalities", "1")]
    argv[argv.index("--profiles") + 1] = str(profiles)
    assert main(argv) == 0
    profiles.write_text(
        "\n".join(reversed(profiles.read_text().splitlines())) + "\n"
    )  # another first profile
    assert main(argv) == 2
    assert "(profiles:" in capsys.readouterr().err
