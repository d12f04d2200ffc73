"""Hostile inputs (classes 3 and 5 of the safety issue): what cannot be right is refused, and every
refusal is one line naming what is wrong, with exit code 2, never a traceback. Real CLI, tiny model."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import pytest
import torch

from percontrast.cli import main
from percontrast.commands.demo import demo_examples_path
from percontrast.data.build import build_examples
from percontrast.data.lamp import lamp_task
from percontrast.data.task_spec import RawRecord
from percontrast.generation.generate import SamplingConfig, generate_from_ids
from percontrast.utils.errors import DataError

PROFILE = [{"id": "p0", "title": "A title", "text": "Some article text."}]


@pytest.fixture()
def files(tmp_path: Path) -> dict[str, Path]:
    data = tmp_path / "data.jsonl"
    data.write_text("".join(demo_examples_path().read_text().splitlines(keepends=True)[:2]))
    preds = tmp_path / "preds.jsonl"
    preds.write_text(json.dumps({"id": "paper_sew", "prediction": "x", "reference": "y"}) + "\n")
    aloe = tmp_path / "aloe.jsonl"
    aloe.write_text('"a profile"\n')
    model_dir = tmp_path / "empty_model"
    model_dir.mkdir()
    a_file = tmp_path / "a_file"
    a_file.write_text("")
    return {
        "data": data,
        "preds": preds,
        "aloe": aloe,
        "dir": tmp_path,
        "model_dir": model_dir,
        "file": a_file,
    }


SCORE = ["score", "--model", "tiny", "--data", "{data}", "--out", "{dir}/s.jsonl"]
GENERATE = [
    "generate",
    "--model",
    "tiny",
    "--data",
    "{data}",
    "--out",
    "{dir}/p.jsonl",
    "--max-new-tokens",
    "3",
]
CASES = [
    # a directory given as a file
    (["score", "--model", "tiny", "--data", "{dir}", "--out", "{dir}/s.jsonl"], "--data .* is a directory"),
    (["evaluate", "--predictions", "{dir}"], "--predictions .* is a directory"),
    (
        [
            "aloe",
            "--model",
            "tiny",
            "--profiles",
            "{dir}",
            "--personalities",
            "{aloe}",
            "--out",
            "{dir}/a.json",
        ],
        "--profiles .* is a directory",
    ),
    (["score", "--model", "tiny", "--data", "{data}", "--out", "{dir}"], "--out .* is a directory"),
    (["evaluate", "--predictions", "{preds}", "--out", "{dir}"], "--out .* is a directory"),
    # models that are not models, and bad dtypes and devices
    ([*SCORE[:2], "{model_dir}", *SCORE[3:]], "directory without a model in it"),
    ([*SCORE[:2], "{data}", *SCORE[3:]], "is a file, not a model"),
    ([*SCORE[:2], "nobody/no-such-model", *SCORE[3:]], "could not load hub model 'nobody/no-such-model'"),
    ([*SCORE, "--dtype", "int8"], "unsupported dtype 'int8'"),
    ([*SCORE, "--device", "banana"], "unknown device 'banana'"),
    # values that silently meant something else
    ([*SCORE, "--batch-size", "0"], "batch size must be a positive integer"),
    ([*SCORE, "--batch-size", "-1"], "batch size must be a positive integer"),
    ([*SCORE, "--max-batch-tokens", "0"], "max batch tokens must be a positive integer"),
    ([*SCORE, "--max-length", "100000"], r"max_length must be in 2..2048"),
    ([*GENERATE, "--batch-size", "0"], "batch_size must be >= 1"),
    ([*GENERATE, "--temperature", "nan"], "temperature must be a finite number > 0"),
    ([*GENERATE[:-1], "2048"], "leaves no room for a prompt"),
    (["demo", "--model", "tiny", "--out-dir", "{file}"], "--out-dir .* is a file"),
]


@pytest.mark.parametrize(("argv", "message"), CASES)
def test_bad_input_is_one_line_and_exit_2(files, argv: list[str], message: str, capsys) -> None:
    if "'cuda'" in message and torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    assert main([arg.format(**files) for arg in argv]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert re.search(message, err), err
    assert not (files["dir"] / "p.jsonl").exists() and not (files["dir"] / "s.jsonl").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")
def test_cuda_without_cuda(files, capsys) -> None:
    assert main([arg.format(**files) for arg in [*SCORE, "--device", "cuda"]]) == 2
    assert "CUDA is not available" in capsys.readouterr().err


def test_generate_truncates_the_persona_to_fit_the_context(tiny, tmp_path: Path, caplog) -> None:
    from percontrast.data.schema import Example
    from percontrast.generation.generate import DecodingConfig, generate_predictions

    model, tokenizer = tiny
    persona = [f"I like hobby number {i} very much and do it every weekend." for i in range(40)]
    example = Example(id="x", persona=persona, query="What do you do?", response="I sew.")
    config = DecodingConfig(sampling=SamplingConfig(max_new_tokens=3, greedy=True))
    context = model.config.max_position_embeddings
    model.config.max_position_embeddings = 120  # a short context, so that the persona cannot fit
    try:
        with caplog.at_level(logging.WARNING):
            stats = generate_predictions(
                model, tokenizer, [example], tmp_path / "p.jsonl", config, progress=False
            )
    finally:
        model.config.max_position_embeddings = context
    assert stats.generated == 1 and "persona truncated in 1 of 1 prompts" in caplog.text


def test_generate_refuses_a_prompt_whose_persona_would_be_cut_away(tiny, tmp_path: Path) -> None:
    """Issue 27: generation truncated the persona itself, without the persona-lost refusal of training and
    scoring, so a "with persona" prompt could carry an empty persona frame. It goes through
    `encoding.fit_prompt` now."""
    from percontrast.data.schema import Example
    from percontrast.generation.generate import render_prompts
    from percontrast.prompts.encoding import PersonaLostError, fit_prompt, tokenize_prompt
    from percontrast.prompts.registry import resolve_template

    model, tokenizer = tiny
    example = Example(id="x", persona=["(I like to sew) " * 30], query="What do you do?", response="I sew.")
    without, _ = fit_prompt(example, tokenizer, with_persona=False)
    with_persona, _ = fit_prompt(example, tokenizer)
    template = resolve_template(example, None)
    frame = template.render_persona_block("", example.query, tokenizer, history=example.history)
    budget = len(tokenize_prompt(tokenizer, frame, template))  # the persona frame with no persona text
    assert len(with_persona) > budget + 5
    with pytest.raises(PersonaLostError, match="no persona item fits the .* prompt tokens") as error:
        render_prompts([example], tokenizer, None, with_persona=True, max_prompt_tokens=budget)
    assert error.value.record_id == "x"
    # With room for part of the item, the persona is shortened, never emptied.
    ids = render_prompts([example], tokenizer, None, True, max_prompt_tokens=len(with_persona) - 5)[0]
    assert len(without) < len(ids) <= len(with_persona) - 5
    assert "(I like to sew" in tokenizer.decode(ids)


def test_a_persona_free_prompt_past_its_budget_is_refused(tiny) -> None:
    """A generation without persona checked nothing: a query longer than the room beside max_new_tokens
    went to generate unchecked."""
    from percontrast.data.schema import Example
    from percontrast.generation.generate import render_prompts
    from percontrast.prompts.encoding import fit_prompt
    from percontrast.utils.errors import DataError

    model, tokenizer = tiny
    example = Example(id="long", persona=["I sew."], query="Tell me everything. " * 40, response="Fine.")
    ids, _ = fit_prompt(example, tokenizer, with_persona=False)
    with pytest.raises(
        DataError, match="the prompt without persona needs .* tokens but only 10 fit"
    ) as error:
        render_prompts([example], tokenizer, None, with_persona=False, max_prompt_tokens=10)
    assert error.value.record_id == "long"
    assert render_prompts([example], tokenizer, None, False, max_prompt_tokens=len(ids))[0] == ids


def test_prompts_past_the_context_are_refused_everywhere(tiny) -> None:
    model, tokenizer = tiny
    with pytest.raises(DataError, match="exceeds the model's context"):
        generate_from_ids(model, tokenizer, [[5] * 2000], SamplingConfig(max_new_tokens=100))
    from percontrast.modeling.chat import TransformersChat

    chat = TransformersChat(model, tokenizer)
    long_message = [{"role": "user", "content": "sew " * 3000}]
    with pytest.raises(DataError, match="exceeds the model's context"):
        chat.chat([long_message], max_new_tokens=4, temperature=0)
    with pytest.raises(DataError, match="judge prompt"):
        chat.score_distribution([long_message])


def test_a_response_that_alone_exceeds_the_context_says_it_cannot_be_fixed(tmp_path: Path, capsys) -> None:
    data = tmp_path / "d.jsonl"
    data.write_text(json.dumps({"id": "x", "persona": "p", "query": "q", "response": "sew " * 3000}) + "\n")
    assert main(["score", "--model", "tiny", "--data", str(data), "--out", str(tmp_path / "s.jsonl")]) == 2
    err = capsys.readouterr().err
    assert "the response alone" in err and "pass max_length" not in err


# ----------------------------------------------------------------------------------- data building


def _lamp(tmp_path: Path, questions: list, golds: list) -> list[str]:
    (tmp_path / "q.json").write_text(json.dumps(questions))
    (tmp_path / "o.json").write_text(json.dumps({"task": "LaMP_4", "golds": golds}))
    return [
        "data",
        "lamp",
        "--task",
        "LaMP_4",
        "--retriever",
        "bm25",
        "--model",
        "none",
        "--input",
        str(tmp_path / "q.json"),
        "--outputs",
        str(tmp_path / "o.json"),
        "--out",
        str(tmp_path / "out" / "x.jsonl"),
    ]


def _question(qid: str, profile: list) -> dict:
    return {"id": qid, "input": "Generate a headline for the following article: text", "profile": profile}


def test_a_wrong_gold_is_blamed_on_the_golds_file(tmp_path: Path, capsys) -> None:
    argv = _lamp(tmp_path, [_question("1", PROFILE)], [{"id": "1", "output": 42}])
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "o.json" in err and "q.json" not in err and "'output'" in err


def test_a_build_that_keeps_nothing_is_an_error_and_writes_no_examples(tmp_path: Path, capsys) -> None:
    argv = _lamp(
        tmp_path, [_question("1", [{"id": "p", "title": 5, "text": "x"}])], [{"id": "1", "output": "h"}]
    )
    summary = tmp_path / "new_dir" / "summary.json"  # a folder that does not exist yet is created
    assert main([*argv, "--skip-invalid", "--summary", str(summary)]) == 2
    assert "no example was kept" in capsys.readouterr().err
    assert not (tmp_path / "out" / "x.jsonl").exists()
    assert json.loads(summary.read_text())["skipped"]


def test_a_failed_build_leaves_the_examples_and_their_summary_together(tmp_path: Path, capsys) -> None:
    """percontrast data lamp ... --out x.jsonl twice, the second time keeping nothing (or failing to
    write): the summary of the first run's examples was overwritten by the second run's."""
    argv = _lamp(tmp_path, [_question("1", PROFILE)], [{"id": "1", "output": "h"}])
    assert main(argv) == 0
    out = tmp_path / "out" / "x.jsonl"
    summary = tmp_path / "out" / "x.jsonl.summary.json"
    before = (out.read_text(), summary.read_text())
    _lamp(tmp_path, [_question("1", [{"id": "p", "title": 5, "text": "x"}])], [{"id": "1", "output": "h"}])
    assert main([*argv, "--skip-invalid"]) == 2
    assert "are left as they were" in capsys.readouterr().err
    _lamp(tmp_path, [_question("1", PROFILE)], [{"id": "1", "output": "h\ud800"}])  # a lone surrogate
    assert main(argv) == 2
    assert "cannot be written as UTF-8" in capsys.readouterr().err
    assert (out.read_text(), summary.read_text()) == before


def test_empty_profile_items_are_dropped_and_counted(tmp_path: Path, capsys) -> None:
    empty = {"id": "e", "title": " ", "text": ""}
    argv = _lamp(
        tmp_path,
        [_question("1", [empty, *PROFILE]), _question("2", [empty, empty])],
        [{"id": "1", "output": "h1"}, {"id": "2", "output": "h2"}],
    )
    assert main(argv) == 2  # question 2 has only empty items
    assert "all 2 profile items have only empty fields" in capsys.readouterr().err
    assert main([*argv, "--skip-invalid"]) == 0
    summary = json.loads((tmp_path / "out" / "x.jsonl.summary.json").read_text())
    assert summary["empty_items_dropped"] == 3 and summary["examples_written"] == 1
    (example,) = [json.loads(line) for line in (tmp_path / "out" / "x.jsonl").read_text().splitlines()]
    assert len(example["persona"]) == 1 and "Some article text." in example["persona"][0]


class BrokenRetriever:
    name = "broken"

    def rank(self, query, documents, profile, record_id):
        raise ValueError("index out of range in the encoder")


def test_a_retrieval_error_is_skipped_under_skip_invalid_and_named_otherwise() -> None:
    from percontrast.data.retrieval import RecencyRetriever

    record = RawRecord(
        "r1", "Generate a headline for the following article: x", "h", PROFILE, "u", "q.json", 3
    )
    with pytest.raises(DataError, match=r"q.json:3, record 'r1'.*retrieval \(broken\) failed: ValueError"):
        build_examples([record], lamp_task("LaMP_4"), BrokenRetriever(), k=1)
    examples, summary = build_examples(
        [record], lamp_task("LaMP_4"), BrokenRetriever(), k=1, skip_invalid=True
    )
    assert examples == [] and summary.skipped == {
        "retrieval (broken) failed: ValueError: index out of range in the encoder": 1
    }
    # A real retriever's own error (recency: dates on some items only) gets the file and line too.
    dated = [{**PROFILE[0], "date": "2016-05-01"}, {"id": "p1", "title": "B", "text": "b"}]
    record = RawRecord("r2", "Generate a headline for the following article: x", "h", dated, "u", "q.json", 4)
    with pytest.raises(DataError, match=r"q.json:4, record 'r2', field 'profile\[1\].date'"):
        build_examples([record], lamp_task("LaMP_4"), RecencyRetriever("date"), k=1)
    examples, summary = build_examples(
        [record], lamp_task("LaMP_4"), RecencyRetriever("date"), k=1, skip_invalid=True
    )
    assert examples == [] and sum(summary.skipped.values()) == 1
