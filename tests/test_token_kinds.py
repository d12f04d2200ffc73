"""Figure 1 quantified: token kinds and the PIR table, on hand-made tokens with hand-computed values."""

from __future__ import annotations

import json

import pytest

from percontrast.analysis.token_kinds import KINDS, kind_table, persona_words, token_kinds

RESPONSE = "I bake sourdough, daily."
OFFSETS = [(0, 1), (1, 6), (6, 11), (11, 16), (16, 17), (17, 23), (23, 24), (24, 24)]  # ... "." EOS
PIR = [0.1, 2.0, 1.0, 0.5, -0.2, -1.0, 0.0, 0.3]
RECORD = {
    "response": RESPONSE,
    "offsets": OFFSETS,
    "pir": PIR,
    "prompt_with": "Persona: I bake bread.\nWhat do you do?",
    "prompt_without": "What do you do?",
}


def test_persona_words_are_what_the_persona_adds():
    assert persona_words(RECORD["prompt_with"], RECORD["prompt_without"]) == {"persona", "i", "bake", "bread"}
    assert persona_words("you you x", "you") == {"you", "x"}  # a multiset difference


def test_token_kinds():
    kinds = token_kinds(RESPONSE, OFFSETS, {"persona", "i", "bake", "bread"})
    assert kinds == [
        "function",  # I (a function word even though the persona has it)
        "persona_content",  # bake
        "other_content",  # sour-: first piece of a word the persona lacks
        "continuation",  # -dough
        "punctuation",
        "other_content",  # daily
        "punctuation",
        "other",  # EOS: no characters of its own
    ]


def test_kind_table_by_hand():
    table = kind_table([RECORD])
    positive_mass = 0.1 + 2.0 + 1.0 + 0.5 + 0.3
    assert table["persona_content"] == {
        "n_tokens": 1,
        "token_share": 1 / 8,
        "mean_pir": 2.0,
        "positive_mass_share": pytest.approx(2.0 / positive_mass),
    }
    assert table["other_content"]["mean_pir"] == pytest.approx(0.0)  # (1.0 - 1.0) / 2
    assert table["punctuation"]["positive_mass_share"] == 0.0
    assert sum(table[kind]["positive_mass_share"] for kind in KINDS) == pytest.approx(1.0)
    assert sum(table[kind]["n_tokens"] for kind in KINDS) == 8


def test_kinds_command(tmp_path, capsys):
    from percontrast.cli import main

    scores = tmp_path / "s.jsonl"
    scores.write_text(json.dumps(RECORD) + "\n")
    out, plot = tmp_path / "k.json", tmp_path / "k.png"
    assert main(["kinds", "--scores", f"toy={scores}", "--out", str(out), "--plot", str(plot)]) == 0
    assert json.loads(out.read_text())["tasks"]["toy"]["continuation"]["n_tokens"] == 1
    assert plot.stat().st_size > 0 and "| toy | persona_content |" in capsys.readouterr().out


def test_kinds_and_groups_refuse_other_files_in_one_line(tmp_path, capsys):
    """`percontrast kinds --scores A=predictions.jsonl` ended in KeyError: 'prompt_with'; `groups --data` on
    bytes that are not UTF-8 in a UnicodeDecodeError traceback."""
    from percontrast.cli import main

    predictions = tmp_path / "preds.jsonl"
    predictions.write_text('{"id": "a", "prediction": "x", "reference": "y"}\n')
    assert main(["kinds", "--scores", f"A={predictions}", "--out", str(tmp_path / "k.json")]) == 2
    err = capsys.readouterr().err
    assert "not a scores record" in err and f"{predictions}:1" in err and "Traceback" not in err
    binary = tmp_path / "bad.jsonl"
    binary.write_bytes(b'{"id": "\xff"}\n')
    assert main(["groups", "--model", "tiny", "--data", str(binary), "--out", str(tmp_path / "g.json")]) == 2
    err = capsys.readouterr().err
    assert "not UTF-8" in err and "Traceback" not in err
