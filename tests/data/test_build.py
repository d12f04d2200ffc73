"""Building examples: retrieval order, truncation (invariant 6) with counts, sampling, lengths, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from percontrast.cli import main
from percontrast.data.build import build_benchmark, build_examples, sample_records
from percontrast.data.config import DataConfig
from percontrast.data.lamp import lamp_task
from percontrast.data.retrieval import BM25Retriever, NoneRetriever
from percontrast.data.task_spec import RawRecord
from percontrast.prompts.encoding import encode_example
from percontrast.utils.errors import ConfigError, DataError

FIXTURES = Path(__file__).parent.parent / "fixtures"
LAMP4 = (str(FIXTURES / "lamp/LaMP_4_dev_questions.json"), str(FIXTURES / "lamp/LaMP_4_dev_outputs.json"))


def record(n_items: int, words: int = 12) -> RawRecord:
    profile = [
        {"id": f"p{i}", "title": f"Title {i}", "text": " ".join([f"word{i}"] * words)} for i in range(n_items)
    ]
    return RawRecord(
        "r1",
        "Generate a headline for the following article: word3 word3",
        "A headline",
        profile,
        "u",
        "q.json",
    )


def test_persona_order_is_the_retrieval_rank() -> None:
    examples, summary = build_examples([record(6)], lamp_task("LaMP_4"), BM25Retriever(), k=4)
    (example,) = examples
    assert example.meta["retrieved"][0] == "p3"  # the only item sharing the query's term
    assert len(example.persona) == 4 and example.persona[0].startswith('"Title 3"')
    assert example.task == "LaMP_4" and example.user_id == "u"
    assert summary.mean_prompt_tokens_with_persona is None  # no tokenizer, no lengths


def test_truncation_drops_lowest_ranked_first_and_counts(tiny) -> None:
    _, tokenizer = tiny
    spec = lamp_task("LaMP_4")
    (full,), _ = build_examples([record(4)], spec, NoneRetriever(), k=4, tokenizer=tokenizer)
    full_length = len(encode_example(full, tokenizer, "LaMP_4_text").prompt_with_ids) + len(
        encode_example(full, tokenizer, "LaMP_4_text").response_ids
    )
    examples, summary = build_examples(
        [record(4)], spec, NoneRetriever(), k=4, tokenizer=tokenizer, max_length=full_length - 80
    )
    (cut,) = examples
    assert cut.query == full.query and cut.response == full.response  # never cut
    assert cut.persona[:-1] == full.persona[: len(cut.persona) - 1]  # the top-ranked items survive unchanged
    dropped = cut.meta["truncation"]["items_dropped"]
    assert dropped == len(full.persona) - len(cut.persona) and dropped >= 1
    assert summary.examples_truncated == 1 and summary.items_dropped == dropped
    encoded = encode_example(cut, tokenizer, "LaMP_4_text")
    assert len(encoded.prompt_with_ids) + len(encoded.response_ids) <= full_length - 80
    assert summary.mean_prompt_tokens_with_persona == len(encoded.prompt_with_ids)
    assert summary.mean_prompt_tokens_without_persona == len(encoded.prompt_without_ids)


def test_query_that_cannot_fit_is_an_error_or_a_skip(tiny) -> None:
    _, tokenizer = tiny
    spec = lamp_task("LaMP_4")
    with pytest.raises(DataError, match="query and the response are never cut"):
        build_examples([record(2)], spec, NoneRetriever(), tokenizer=tokenizer, max_length=10)
    examples, summary = build_examples(
        [record(2)], spec, NoneRetriever(), tokenizer=tokenizer, max_length=10, skip_invalid=True
    )
    assert examples == [] and summary.skipped == {"does not fit max_length=10": 1}


def test_invalid_records_are_skipped_with_reasons_when_asked() -> None:
    bad = record(2)
    bad.profile = []
    examples, summary = build_examples(
        [record(2), bad], lamp_task("LaMP_4"), NoneRetriever(), skip_invalid=True
    )
    assert len(examples) == 1 and summary.skipped == {
        "invalid profile: the profile is empty: nothing to personalise with": 1
    }


def test_sampling_is_seeded_and_keeps_file_order() -> None:
    records = [RawRecord(str(i), "x", "y", [], None, "f") for i in range(50)]
    first = [r.id for r in sample_records(records, 10, seed=3)]
    assert first == [r.id for r in sample_records(records, 10, seed=3)]
    assert first != [r.id for r in sample_records(records, 10, seed=4)]
    assert [int(i) for i in first] == sorted(int(i) for i in first)
    assert len(sample_records(records, 500, seed=0)) == 50


def test_template_must_match_the_task() -> None:
    with pytest.raises(ConfigError, match="does not render LaMP_4"):
        build_examples([record(2)], lamp_task("LaMP_4"), NoneRetriever(), template="LaMP_5_text")


def test_query_fallback_is_counted() -> None:
    rec = record(2)
    rec.input = "no marker in this input"
    _, summary = build_examples([rec], lamp_task("LaMP_4"), BM25Retriever())
    assert summary.query_fallbacks == 1


def test_build_benchmark_on_fixtures() -> None:
    examples, summary = build_benchmark(
        DataConfig("lamp", "LaMP_4", LAMP4[0], outputs=LAMP4[1], retriever="recency", k=2)
    )
    assert summary.examples_written == 3 and summary.records_read == 3
    assert examples[0].meta["retrieved"] == ["4103", "4102"]  # newest first by date


def test_cli_writes_examples_and_summary(tmp_path: Path, capsys) -> None:
    out = tmp_path / "ex.jsonl"
    rc = main(
        [
            "data",
            "lamp",
            "--task",
            "LaMP_4",
            "--input",
            LAMP4[0],
            "--outputs",
            LAMP4[1],
            "--model",
            "tiny",
            "--retriever",
            "bm25",
            "--out",
            str(out),
        ]
    )
    assert rc == 0
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line["id"] for line in lines] == ["410", "411", "412"]
    summary = json.loads((tmp_path / "ex.jsonl.summary.json").read_text())
    assert (
        summary["examples_written"] == 3
        and summary["mean_prompt_tokens_with_persona"] > summary["mean_prompt_tokens_without_persona"]
    )
    assert "| LaMP_4 | 3 |" in capsys.readouterr().out
    rc = main(
        [
            "data",
            "lamp",
            "--task",
            "LaMP_9",
            "--input",
            LAMP4[0],
            "--outputs",
            LAMP4[1],
            "--model",
            "none",
            "--retriever",
            "bm25",
            "--out",
            str(out),
        ]
    )
    assert rc == 2


def test_cli_longlamp_written_examples_are_valid(tmp_path: Path) -> None:
    from percontrast.data.schema import read_examples

    out = tmp_path / "ex.jsonl"
    path = str(FIXTURES / "longlamp/topic_writing_user_val.jsonl")
    assert (
        main(
            [
                "data",
                "longlamp",
                "--task",
                "topic_writing",
                "--input",
                path,
                "--model",
                "tiny",
                "--retriever",
                "bm25",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    examples = read_examples(out)
    assert [e.task for e in examples] == ["LongLaMP_topic_writing"] * 2
    assert examples[0].persona[0].startswith("Summary: ")


def _date(value) -> tuple[int, ...]:
    return tuple(map(int, str(value).split("-")))


@pytest.mark.parametrize("k", [1, 2, 4])
def test_recency_follows_each_benchmarks_official_rule(k: int) -> None:
    # LaMP prompts.py lines 224-226 (@ 38c9d4d): sort by the date, last k, reversed.
    lamp_examples, _ = build_benchmark(
        DataConfig("lamp", "LaMP_4", LAMP4[0], outputs=LAMP4[1], retriever="recency", k=k)
    )
    questions = json.loads(Path(LAMP4[0]).read_text())
    for example, question in zip(lamp_examples, questions, strict=True):
        profile = sorted(question["profile"], key=lambda x: _date(x["date"]))
        assert example.meta["retrieved"] == [item["id"] for item in profile[-k:][::-1]]
    # LongLaMP prompts.py line 100 (@ 41412fe): profile[-k:][::-1], the profile's order, never the year.
    path = FIXTURES / "longlamp/abstract_generation_user_val.jsonl"
    longlamp_examples, _ = build_benchmark(
        DataConfig("longlamp", "abstract_generation", str(path), retriever="recency", k=k)
    )
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    for example, row in zip(longlamp_examples, rows, strict=True):
        assert example.meta["retrieved"] == [item["id"] for item in row["profile"][-k:][::-1]]
    if k == 2:  # the fixture's years are out of order: sorting by year would pick a3 (2023), a5 (2022)
        assert longlamp_examples[0].meta["retrieved"] == ["a5", "a4"]


def test_random_with_replacement_can_repeat_items_in_the_persona() -> None:
    def build():
        return build_benchmark(
            DataConfig(
                "lamp",
                "LaMP_4",
                LAMP4[0],
                outputs=LAMP4[1],
                retriever="random",
                random_with_replacement=True,
                k=4,
                seed=3,
            )
        )

    examples, summary = build()
    assert summary.retriever == "random"
    assert all(len(e.meta["retrieved"]) == 4 for e in examples)  # 4 draws even from a 2-item profile
    assert len(set(examples[2].meta["retrieved"])) <= 2
    again, _ = build()
    assert [e.meta["retrieved"] for e in again] == [e.meta["retrieved"] for e in examples]


def test_cli_defaults_to_contriever_and_says_what_to_do_without_it(tmp_path: Path, capsys) -> None:
    from huggingface_hub import try_to_load_from_cache

    if isinstance(try_to_load_from_cache("facebook/contriever", "config.json"), str):
        pytest.skip("facebook/contriever is in the local cache here")
    out = tmp_path / "ex.jsonl"
    argv = ["data", "lamp", "--task", "LaMP_4", "--input", LAMP4[0], "--outputs", LAMP4[1]]
    assert main([*argv, "--model", "none", "--out", str(out)]) == 2
    error = capsys.readouterr().err
    assert "facebook/contriever" in error and "--dense-model DIR" in error
    assert "--retriever minilm" in error and "--retriever bm25" in error
    assert not out.exists()
