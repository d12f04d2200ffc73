"""`run_identification`, the identify CLI and the construction pipeline on `tiny` and a loopback server."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from chat_server import ChatServer

from percontrast.cli import main
from percontrast.data.construct_config import ConstructConfig
from percontrast.data.persona_qa import read_persona_qa
from percontrast.data.synthetic import construct_dataset
from percontrast.identification import plot_pir_breakdown, run_identification
from percontrast.identification.config import IdentifyConfig
from percontrast.identification.labels import personal_words, token_labels
from percontrast.identification.metrics import auroc, precision_recall_f1
from percontrast.modeling.chat import OpenAIChat
from percontrast.modeling.config import ChatModelConfig
from percontrast.scoring.config import ScoreConfig
from percontrast.scoring.pir import score_examples

needs_tagger = pytest.mark.needs("tagger")


@pytest.fixture(scope="module")
def examples():
    return read_persona_qa()[:6]


def test_percontrast_metrics_match_an_independent_recomputation(tiny, examples) -> None:
    model, tokenizer = tiny
    config = IdentifyConfig(methods="percontrast", threshold=0.0)
    result = run_identification(model, tokenizer, examples, config, progress=False)
    scores = score_examples(model, tokenizer, examples, ScoreConfig(template=result.template), progress=False)
    labels, pir = [], []
    for example, score in zip(examples, scores, strict=True):
        labels += token_labels(
            example.response, score.offsets, personal_words(example.response, example.meta["personal_spans"])
        )
        pir += score.pir
    expected = precision_recall_f1([p > 0.0 for p in pir], labels)
    got = result.to_dict()
    assert got["methods"]["percontrast"]["f1"] == pytest.approx(expected.f1)
    assert got["methods"]["percontrast"]["precision"] == pytest.approx(expected.precision)
    assert got["auroc"] == pytest.approx(auroc(pir, labels))
    assert got["n_tokens"] == len(labels) == sum(b["n_tokens"] for b in got["pir_breakdown"])
    assert got["n_personal"] == sum(labels) > 0
    assert set(got["methods"]) == {"percontrast"}
    assert "| percontrast |" in result.markdown_table()


def test_http_judge_replies_are_matched_back_and_unmatched_keywords_counted(tiny, examples) -> None:
    """A judge that answers with the annotated spans is perfect; a keyword absent from the answer is counted."""
    replies = [", ".join(ex.meta["personal_spans"]) for ex in examples]
    replies[0] += ", tripod"
    replies[1] = "I cannot tell."
    with ChatServer(replies) as server:
        judge = OpenAIChat(server.url, "judge")
        result = run_identification(
            *tiny, examples, IdentifyConfig(methods="llm_judge"), judge, progress=False
        )
    assert "User 2: " + examples[0].query in server.requests[0]["messages"][0]["content"]
    assert server.requests[0]["temperature"] == 0.0
    stats = result.judge
    assert stats["n_replies"] == 6 and stats["n_unmatched"] == 2  # "tripod" and "I cannot tell"
    per_example = result.examples
    for row in per_example[2:]:
        assert row["identified_llm_judge"] == row["personal"]
    assert result.methods["llm_judge"].precision == 1.0
    assert result.methods["llm_judge"].recall < 1.0  # example 1's personal tokens were missed


@pytest.mark.parametrize("progress", [True, False])
def test_the_local_judge_shows_a_progress_bar(tiny, examples, progress, capsys) -> None:
    """The demo's local LLM-judge step (120 generations, minutes on 2 cores) printed one line and no bar."""
    model, tokenizer = tiny
    judge = ChatModelConfig(temperature=0.0, max_tokens=2)
    config = IdentifyConfig(methods="llm_judge", batch_size=2, judge=judge)
    run_identification(model, tokenizer, examples[:3], config, progress=progress)
    err = capsys.readouterr().err
    assert ("LLM judge: keywords" in err and "3/3" in err) == progress


@pytest.mark.smollm2
def test_local_judge_runs_on_the_model_itself(smollm2, examples) -> None:
    """SmolLM2 as its own judge (greedy) quotes the ferry answer back; the tokens of the quoted words are
    identified, 'ferry', 'boat' and 'schedule' (the personal ones) among them. (`tiny`'s random replies
    leave only F1's range to check, which a judge that identifies nothing passes.)"""
    (example,) = [ex for ex in examples if "ferry" in ex.response]
    result = run_identification(*smollm2, [example], IdentifyConfig(methods="llm_judge"), progress=False)
    assert result.judge["n_replies"] == 1 and result.judge["backend"] == "local model"
    (row,) = result.examples
    keywords = [k.strip(" \"'.") for k in row["judge_reply"].removeprefix("User 1:").split(",")]
    text = example.response.lower()
    quoted = [(text.find(k.lower()), text.find(k.lower()) + len(k)) for k in keywords if k.lower() in text]
    expected = []
    for start, end in row["offsets"]:
        piece = example.response[start:end]
        core = (start + len(piece) - len(piece.lstrip()), start + len(piece.rstrip()))
        expected.append(core[0] < core[1] and any(a < core[1] and core[0] < b for a, b in quoted))
    assert row["identified_llm_judge"] == expected and any(expected), row["judge_reply"]
    correct = sum(i and p for i, p in zip(expected, row["personal"], strict=True))
    precision, recall = correct / sum(expected), correct / sum(row["personal"])
    assert correct > 0 and result.methods["llm_judge"].f1 == pytest.approx(
        2 * precision * recall / (precision + recall)
    )


@needs_tagger
def test_word_matching_identifies_shared_content_words(tiny, examples) -> None:
    result = run_identification(*tiny, examples, IdentifyConfig(methods="word_match"), progress=False)
    row = next(
        r for r in result.examples if r["id"] == "pqa_0001"
    )  # persona "i like pepsi.", answer "... Pepsi."
    identified = [t for t, flag in zip(row["tokens"], row["identified_word_match"], strict=True) if flag]
    assert "".join(identified).strip() == "Pepsi"


@needs_tagger
def test_identify_cli_writes_results_table_and_plot(tmp_path, examples) -> None:
    data = tmp_path / "items.jsonl"
    lines = read_persona_qa_lines(4)
    data.write_text("".join(lines), encoding="utf-8")
    out = tmp_path / "results.json"
    rc = main(
        ["identify", "--model", "tiny", "--data", str(data), "--out", str(out), "--plot", str(tmp_path / "fig.png"),
         "--judge-max-new-tokens", "4"]
    )  # fmt: skip
    assert rc == 0
    results = json.loads(out.read_text())
    assert set(results["methods"]) == {"percontrast", "word_match", "llm_judge"}
    assert {"precision", "recall", "f1"} <= set(results["methods"]["word_match"])
    assert results["n_examples"] == 4 and results["model"] == "tiny"
    assert (tmp_path / "fig.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "| word_match |" in out.with_suffix(".md").read_text()


def read_persona_qa_lines(n: int) -> list[str]:
    from percontrast.utils.bundled import PERSONA_TOKENS_DEV

    return PERSONA_TOKENS_DEV.read_text(encoding="utf-8").splitlines(keepends=True)[:n]


def test_plot_writes_a_png(tiny, examples, tmp_path) -> None:
    result = run_identification(*tiny, examples[:2], IdentifyConfig(methods="percontrast"), progress=False)
    path = plot_pir_breakdown(result, tmp_path / "sub" / "fig5.png")
    assert path.read_bytes()[:4] == b"\x89PNG"


def test_construction_over_http_keeps_good_replies_and_counts_the_rest(tmp_path) -> None:
    personas = [("p0", ["I like to sew."]), ("p1", ["I have an iphone."]), ("p2", ["I travel often."])]
    personas += [("p3", ["I am short."]), ("p4", ["I cook."])]
    replies = [
        "Question: How do you spend a free afternoon?\nAnswer: I usually **stitch** clothes at home.",
        "Here is a question: what phone do you use?",  # no Question:/Answer: fields
        "Question: Trips?\nAnswer: I fly a lot.\nKeywords: passport",  # keyword not in the answer
        "Question: Height?\nAnswer: Not **short**.",  # 2 words: the paper asks for 5-20
        "Question: Food?\nAnswer: I " + "really " * 17 + "love to **cook**.",  # 21 words
    ]
    with ChatServer(replies) as server:
        config = ConstructConfig(replace(ConstructConfig().writer, temperature=0.0))  # 256 tokens kept
        records, report = construct_dataset(personas, OpenAIChat(server.url, "strong"), config)
    assert "I like to sew." in server.requests[0]["messages"][0]["content"]
    assert report.to_dict() == {
        "n_personas": 5,
        "n_kept": 1,
        "n_set_aside": 4,
        "set_aside_by_reason": {"no question": 1, "keyword not in the answer": 1, "answer not 5-20 words": 2},
    }
    assert [r["persona_id"] for r in report.rejected] == ["p1", "p2", "p3", "p4"]
    assert [r.get("words") for r in report.rejected[2:]] == [2, 21]
    path = tmp_path / "constructed.jsonl"
    path.write_text(json.dumps(records[0]) + "\n", encoding="utf-8")
    (item,) = read_persona_qa(path)
    assert item.response == "I usually stitch clothes at home." and item.meta["personal_spans"] == ["stitch"]


def test_donor_personas_replace_the_persona_free_term(tiny, examples) -> None:
    """With donors, logp_with is unchanged and PIR = logp_with - the donor marginal (checked with K=1: one donor's log-probs)."""
    model, tokenizer = tiny
    config = IdentifyConfig(methods="percontrast", template="persona_chat", donors=1)
    result = run_identification(model, tokenizer, examples[:3], config, progress=False)
    plain = score_examples(
        model, tokenizer, examples[:3], ScoreConfig(template="persona_chat"), progress=False
    )
    donor = replace(examples[0], persona=examples[1].persona)  # example 0's donor is example 1
    (donor_scores,) = score_examples(
        model, tokenizer, [donor], ScoreConfig(template="persona_chat"), progress=False
    )
    expected = [w - d for w, d in zip(plain[0].logp_with, donor_scores.logp_with, strict=True)]
    assert result.examples[0]["pir"] == pytest.approx(expected, abs=1e-4)
    assert "1 donor personas" in result.template


def test_construct_cli_writes_kept_rejected_and_report(tmp_path) -> None:
    personas = tmp_path / "personas.jsonl"
    personas.write_text(
        json.dumps({"persona_id": "a", "persona": ["I like to sew."]})
        + "\n"
        + json.dumps({"persona": "I am short."})
        + "\n",
        encoding="utf-8",
    )
    replies = [
        "Question: Hobby?\nAnswer: I **sew** dresses for my family.",
        "Question: Height?\nAnswer: Not tall.",
    ]
    out = tmp_path / "set.jsonl"
    with ChatServer(replies) as server:
        rc = main(
            [
                "construct",
                "--personas",
                str(personas),
                "--out",
                str(out),
                "--url",
                server.url,
                "--api-model",
                "m",
            ]
        )
    assert rc == 0
    assert [ex.meta["personal_spans"] for ex in read_persona_qa(out)] == [["sew"]]
    assert json.loads(out.with_suffix(".report.json").read_text())["set_aside_by_reason"] == {
        "no keywords": 1
    }
    (rejected,) = [json.loads(line) for line in out.with_suffix(".rejected.jsonl").read_text().splitlines()]
    assert rejected["persona_id"] == "persona_00002" and rejected["reply"] == replies[1]


def test_per_fact_pir_is_the_maximum_over_facts_scored_alone(tiny, examples) -> None:
    """percontrast_facts: each fact alone against the persona-free prompt, the maximum over facts; the word
    level takes each fact's summed log-ratio over a word's tokens first. Recomputed here with plain
    `score_examples` calls, one per single-fact example, and a hand-written word split."""
    import re
    from dataclasses import replace

    model, tokenizer = tiny
    items = examples[:3]
    methods = "percontrast,percontrast_facts,percontrast_facts_word"
    config = IdentifyConfig(methods=methods, threshold=0.0, template="persona_chat")
    result = run_identification(model, tokenizer, items, config, progress=False)
    plain = score_examples(model, tokenizer, items, ScoreConfig(template="persona_chat"), progress=False)
    token_pir, word_pir, labels = [], [], []
    for index, example in enumerate(items):
        singles = [replace(example, persona=[fact]) for fact in example.persona]
        per_fact = [
            s.pir
            for s in score_examples(
                model, tokenizer, singles, ScoreConfig(template="persona_chat"), progress=False
            )
        ]
        assert len(per_fact) == len(example.persona) > 1
        expected = [max(column) for column in zip(*per_fact, strict=True)]
        assert result.examples[index]["pir_facts"] == pytest.approx(expected, abs=1e-4)
        token_pir += expected
        spans = [m.span() for m in re.finditer(r"[A-Za-z0-9]+(?:['’-][A-Za-z0-9]+)*", example.response)]
        offsets = plain[index].offsets
        owner = []
        for start, end in offsets:
            text = example.response[start:end]
            start += len(text) - len(text.lstrip())
            end -= len(text) - len(text.rstrip())
            owner.append(next((k for k, (a, b) in enumerate(spans) if start < b and a < end), None))
        for i, k in enumerate(owner):
            if k is None:
                word_pir.append(expected[i])
            else:
                members = [u for u, o in enumerate(owner) if o == k]
                word_pir.append(max(sum(row[u] for u in members) for row in per_fact))
        labels += result.examples[index]["personal"]
    got = result.to_dict()
    for name, values in (("percontrast_facts", token_pir), ("percontrast_facts_word", word_pir)):
        expected_prf = precision_recall_f1([v > 0.0 for v in values], labels)
        assert got["methods"][name]["f1"] == pytest.approx(expected_prf.f1)
        assert got["methods"][name]["precision"] == pytest.approx(expected_prf.precision)
        assert got["auroc_by_method"][name] == pytest.approx(auroc(values, labels), abs=1e-6)
    assert got["auroc_by_method"]["percontrast"] == pytest.approx(got["auroc"])
    table = result.markdown_table()
    low, high = got["intervals"]["percontrast_facts"]["f1_minus_percontrast"]
    assert f"percontrast_facts [{low:+.3f}, {high:+.3f}]" in table and "F1 95% CI" in table
    with pytest.raises(Exception, match="donors"):
        config = IdentifyConfig(methods="percontrast_facts", donors=1)
        run_identification(model, tokenizer, items, config, progress=False)
