"""Figure 1 quantified: token kinds and the PIR table, on hand-made tokens with hand-computed values."""

from __future__ import annotations

import json
import math

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


# ------------------------------------------------------------------------------ hostile use (issue 25)


def _kinds(tmp_path, *scores: str, plot: str | None = None) -> int:
    from percontrast.cli import main

    argv = [
        "kinds",
        *[arg for value in scores for arg in ("--scores", value)],
        "--out",
        str(tmp_path / "k.json"),
    ]
    return main(argv + (["--plot", plot] if plot else []))


def _scores_file(tmp_path, *records: dict, name: str = "s.jsonl"):
    path = tmp_path / name
    path.write_text("".join(json.dumps(record) + "\n" for record in records))
    return path


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"pir": PIR[:-1]}, "field 'pir': 7 values for 8 tokens (offsets): expected one per token"),
        ({"pir": "high"}, "field 'pir': expected a list of numbers, one per token, got str"),
        ({"pir": [*PIR[:-1], "x"]}, "field 'pir': value 7 is 'x': expected a finite number"),
        ({"pir": [*PIR[:-1], float("nan")]}, "field 'pir': value 7 is nan: expected a finite number"),
        ({"pir": [float("inf"), *PIR[1:]]}, "field 'pir': value 0 is inf: expected a finite number"),
        ({"offsets": [[0, 1], "x"]}, "field 'offsets': expected a list of [start, end]"),
        ({"response": 3}, "field 'response': expected a string, got int"),
        ({"pir_form": "exp"}, "field 'pir_form': expected one of ('log', 'ratio'), got 'exp'"),
        ({"pir_form": "ratio"}, "field 'logp_with': expected a list of numbers"),
    ],
)
def test_kinds_validates_scores_records(tmp_path, capsys, change, message):
    """A pir list shorter than its tokens: a raw ValueError from zip; pir "high": a raw TypeError; NaN was
    written into the output as NaN (not JSON), without a word."""
    scores = _scores_file(tmp_path, RECORD, RECORD | {"id": "b"} | change)
    assert _kinds(tmp_path, f"toy={scores}") == 2
    err = capsys.readouterr().err
    assert f"{scores}:2" in err and message in err and "Traceback" not in err
    assert not (tmp_path / "k.json").exists()


def test_kinds_refuses_an_empty_scores_file(tmp_path, capsys):
    """An empty scores file: exit 0 and a table of zeros (`groups` refuses empty data)."""
    scores = _scores_file(tmp_path)
    assert _kinds(tmp_path, f"toy={scores}") == 2
    assert f"{scores}: no scores records" in capsys.readouterr().err


def test_kinds_refuses_a_task_named_twice(tmp_path, capsys):
    """--scores a=x.jsonl --scores a=y.jsonl: the first file was silently dropped."""
    first, second = (
        _scores_file(tmp_path, RECORD, name="x.jsonl"),
        _scores_file(tmp_path, RECORD, name="y.jsonl"),
    )
    assert _kinds(tmp_path, f"a={first}", f"a={second}") == 2
    err = capsys.readouterr().err
    assert f"--scores: task 'a' is given twice ({first} and {second})" in err


def test_kinds_names_its_own_flag_and_refuses_a_plot_that_is_not_a_png(tmp_path, capsys):
    """kinds --scores =sc.jsonl blamed --model; kinds and groups wrote a PNG to --plot o.txt."""
    from percontrast.cli import main

    scores = _scores_file(tmp_path, RECORD)
    assert _kinds(tmp_path, f"={scores}") == 2
    err = capsys.readouterr().err
    assert f"--scores takes TASK=FILE, got '={scores}'" in err and "--model" not in err
    plot = tmp_path / "o.txt"
    assert _kinds(tmp_path, f"toy={scores}", plot=str(plot)) == 2
    assert f"--plot {plot}: not an image file name; end it in one of .png" in capsys.readouterr().err
    argv = ["groups", "--model", "tiny", "--data", str(scores), "--out", str(tmp_path / "g.json")]
    assert main([*argv, "--plot", str(plot)]) == 2
    assert f"--plot {plot}: not an image file name; end it in one of .png" in capsys.readouterr().err
    assert not plot.exists() and not (tmp_path / "k.json").exists()


def test_kinds_reads_ratio_scores_as_log_pir(tmp_path):
    """`score --pir-form ratio` files were read as log PIR: their records say pir_form, and kinds takes the
    log PIR from the record's log-probs."""
    from percontrast.cli import main
    from percontrast.utils.files import write_jsonl

    data = tmp_path / "ex.jsonl"
    examples = [
        {"id": "a", "persona": "I bake bread.", "query": "What do you do?", "response": "I bake daily."}
    ]
    write_jsonl(data, examples)
    tables = {}
    for form in ("log", "ratio"):
        scores = tmp_path / f"{form}.jsonl"
        assert (
            main(["score", "--model", "tiny", "--data", str(data), "--out", str(scores), "--pir-form", form])
            == 0
        )
        record = json.loads(scores.read_text())
        assert record["pir_form"] == form
        if form == "ratio":
            log_pir = [w - wo for w, wo in zip(record["logp_with"], record["logp_without"], strict=True)]
            assert record["pir"] == pytest.approx([math.exp(value) for value in log_pir], rel=1e-5)
        out = tmp_path / f"{form}.json"
        assert main(["kinds", "--scores", f"{form}={scores}", "--out", str(out)]) == 0
        tables[form] = json.loads(out.read_text())["tasks"][form]
    for kind in KINDS:
        assert tables["ratio"][kind]["n_tokens"] == tables["log"][kind]["n_tokens"]
        for key in ("mean_pir", "positive_mass_share"):
            assert tables["ratio"][kind][key] == pytest.approx(tables["log"][kind][key], abs=1e-6)
    old = tmp_path / "old.jsonl"  # a file of an older version: no pir_form, log PIR
    old.write_text(json.dumps(RECORD) + "\n")
    assert main(["kinds", "--scores", f"old={old}", "--out", str(tmp_path / "old.json")]) == 0
