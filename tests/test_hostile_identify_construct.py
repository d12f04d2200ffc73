"""Hostile use of `identify` and `construct` (issue 19): no output destroys an input or another output,
an interrupted `construct` keeps every reply already received and resumes, and bad input is one line
naming the file, line and field (exit 2), checked before the model is loaded or the server asked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from chat_server import ChatServer

from percontrast.cli import main
from percontrast.data import synthetic
from percontrast.utils.bundled import PERSONA_TOKENS_DEV


@pytest.fixture()
def items(tmp_path: Path) -> Path:
    path = tmp_path / "items.jsonl"
    path.write_text("".join(PERSONA_TOKENS_DEV.read_text(encoding="utf-8").splitlines(keepends=True)[:2]))
    return path


def _identify(items: Path, out: str, *extra: str) -> int:
    argv = ["identify", "--model", "tiny", "--data", str(items), "--out", out, "--methods", "percontrast"]
    return main([*argv, "--bootstrap", "0", *extra])


@pytest.mark.parametrize(
    ("out", "extra", "message"),
    [
        ("{items}", [], "it would be overwritten"),  # --out equal to --data
        ("{tmp}/x.md", [], "markdown table beside --out"),  # the table would replace the JSON
        ("{tmp}/z.png", ["--plot", "{tmp}/z.png"], "it would be overwritten"),
        ("{tmp}/r.json", ["--plot", "{items}"], "not an image file name"),
        ("{tmp}/r.json", ["--plot", "{tmp}/r.json"], "not an image file name"),  # used to fail after writing
        ("{tmp}/r.json", ["--plot", "{tmp}/fig.json"], "not an image file name"),
        ("{tmp}/r.json", ["--threshold", "nan"], "--threshold nan: expected a finite"),
        ("{tmp}/r.json", ["--donors", "-1"], "--donors -1"),
        ("{tmp}/r.json", ["--donors", "100"], "--donors 100: only 1 other personas"),
    ],
)
def test_identify_refuses_colliding_paths_and_bad_values_before_writing(
    tmp_path: Path, items: Path, out: str, extra: list[str], message: str, capsys
) -> None:
    """percontrast identify --model tiny --data items.jsonl --out items.jsonl (or x.md; --plot z.png with
    --out z.png; --plot items.jsonl; --plot x.json; --threshold nan; --donors -1 / 100)."""
    before = items.read_bytes()
    fill = {"items": items, "tmp": tmp_path}
    assert _identify(items, out.format(**fill), *[e.format(**fill) for e in extra]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert items.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["items.jsonl"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"personal_spans": ["ehind the cam"]}, "not word-aligned"),
        ({"personal_spans": "vows"}, "expected a list of non-empty strings"),
        ({"personal_spans": [5]}, "expected a list of non-empty strings"),
        ({"persona": []}, "expected a non-empty list of persona sentences"),
        ({"answer": None}, "field 'answer': expected a non-empty string"),
    ],
)
def test_identify_refuses_bad_annotations(
    tmp_path: Path, items: Path, change: dict, message: str, capsys
) -> None:
    """Spans that are not whole words, a string or numbers for the spans, persona: [], answer: null
    (each used to be scored with the spans dropped, or a traceback)."""
    records = [json.loads(line) for line in items.read_text().splitlines()]
    records[0] |= change
    items.write_text("".join(json.dumps(r) + "\n" for r in records))
    assert _identify(items, str(tmp_path / "r.json")) == 2
    err = capsys.readouterr().err
    assert f"{items}:1" in err and message in err and "Traceback" not in err
    assert not (tmp_path / "r.json").exists()


# ------------------------------------------------------------------------------------------ construct

REPLIES = [
    "Question: Hobby?\nAnswer: I **sew** dresses every weekend.",  # 5-20 words (Figure 6)
    "Question: Height?\nAnswer: Not tall.",
    "Question: Pet?\nAnswer: My **cat** sleeps all day long.",
]


@pytest.fixture()
def personas(tmp_path: Path) -> Path:
    path = tmp_path / "personas.jsonl"
    sentences = ["I like to sew.", "I am short.", "I have a cat."]
    path.write_text("".join(json.dumps({"persona": [s]}) + "\n" for s in sentences))
    return path


def _construct(personas: Path, out: Path | str, url: str, *extra: str) -> int:
    argv = ["construct", "--personas", str(personas), "--out", str(out), "--url", url, "--api-model", "m"]
    return main([*argv, "--temperature", "0", *extra])


@pytest.mark.parametrize(
    ("out", "extra", "message"),
    [
        ("{personas}", [], "it would be overwritten"),  # --out equal to --personas
        ("{tmp}/p.x", [], "report beside --out"),  # its p.report.json sidecar is the --personas file
        ("{tmp}/set.jsonl", ["--limit", "-1"], "--limit -1: expected a positive number"),
        ("{tmp}/set.jsonl", ["--limit", "0"], "--limit 0: expected a positive number"),
    ],
)
def test_construct_refuses_colliding_paths_and_bad_values(
    tmp_path: Path, personas: Path, out: str, extra: list[str], message: str, capsys
) -> None:
    """percontrast construct --personas p.jsonl --out p.jsonl (or an --out whose .report.json sidecar is
    an input; --limit -1, which dropped the last persona). Sampling values: test_hostile_http."""
    if out.endswith(".x"):
        personas = personas.rename(tmp_path / "p.report.json")
    fill = {"personas": personas, "tmp": tmp_path}
    before, out = personas.read_bytes(), out.format(**fill)
    with ChatServer(REPLIES) as server:
        assert _construct(personas, out, server.url, *[e.format(**fill) for e in extra]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert server.requests == [] and personas.read_bytes() == before


def test_an_interrupted_construct_keeps_its_replies_and_resumes(
    tmp_path: Path, personas: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    """Ctrl-C after two replies: both are on disk, the message says so, and a rerun asks only for the third;
    the files end byte-identical to an uninterrupted run's."""
    full = tmp_path / "full.jsonl"
    with ChatServer(REPLIES) as server:
        assert _construct(personas, full, server.url) == 0
    out = tmp_path / "set.jsonl"
    real_parse, calls = synthetic.parse_construction_reply, []

    def interrupted(reply: str):
        calls.append(reply)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real_parse(reply)

    monkeypatch.setattr(synthetic, "parse_construction_reply", interrupted)
    with ChatServer([*REPLIES, REPLIES[2]]) as server:  # one server: its URL is a recorded setting
        assert _construct(personas, out, server.url) == 130
        assert "2 replies received in this run are saved" in capsys.readouterr().err
        assert len(out.read_text().splitlines()) == 1
        assert len(out.with_suffix(".rejected.jsonl").read_text().splitlines()) == 1
        monkeypatch.setattr(synthetic, "parse_construction_reply", real_parse)
        assert _construct(personas, out, server.url) == 0
        assert len(server.requests) == 4 and "I have a cat." in server.requests[3]["messages"][0]["content"]
        for suffix in (".jsonl", ".rejected.jsonl", ".report.json"):
            assert out.with_suffix(suffix).read_text() == full.with_suffix(suffix).read_text()
        # Other settings, or other personas in the same file, would mix two runs: refused before asking.
        assert _construct(personas, out, server.url, "--seed", "3") == 2
        assert "resuming would mix two runs" in capsys.readouterr().err and len(server.requests) == 4
        personas.write_text(personas.read_text().replace("I have a cat.", "I have a dog."))
        assert _construct(personas, out, server.url) == 2
        assert "(personas:" in capsys.readouterr().err and len(server.requests) == 4
