"""The judge: score parsing, exact probability-weighted scores, and the HTTP backend against a real server."""

from __future__ import annotations

import pytest
import torch
from chat_server import ChatServer

from percontrast.evaluation.judge import (
    QUALITY,
    Judge,
    judge_predictions,
    judge_prompt,
    parse_int_score,
    parse_quality,
    parse_score,
)
from percontrast.evaluation.judge_config import JudgeConfig
from percontrast.modeling.chat import BackendError, OpenAIChat, TransformersChat
from percontrast.utils.bundled import load_published_prompt
from percontrast.utils.errors import ConfigError

PARSE_CASES = [
    ("4", 4),
    ("5.", 5),
    (" 3/5", 3),
    ("Score: 2", 2),
    ("I would give it a score of 1 out of 5.", 1),
    ("The answer is fine.", None),
    ("10", None),
    ("3.5", None),
    ("0", None),
    ("", None),
]


@pytest.mark.parametrize(("text", "expected"), PARSE_CASES)
def test_parse_score(text: str, expected: int | None) -> None:
    assert parse_score(text) == expected


QUALITY_CASES = [
    ("4 / 5 / 3 / 4", (4, 5, 3, 4)),
    ("4/5/3/4", (4, 5, 3, 4)),
    ("Scores: 5 / 5 / 4 / 2\nThe answer is fluent.", (5, 5, 4, 2)),
    ("Coherence: 4 / Consistency: 5 / Fluency: 3 / Relevance: 4", (4, 5, 3, 4)),
    ("4 / 5 / 3", None),
    ("10 / 5 / 3 / 4", None),
    ("4.5 / 5 / 3 / 4", None),
    ("4 / 5 / 3 / 40", None),
    ("Coherence 4, Consistency 5", None),
]


@pytest.mark.parametrize(("text", "expected"), QUALITY_CASES)
def test_parse_quality(text: str, expected: tuple | None) -> None:
    assert parse_quality(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("3", 3), (" 4\n", 4), ("5 ", 5), ("Score: 4", None), ("4.", None), ("6", None), ("", None)],
)
def test_aloe_parse_rule_is_int(text: str, expected: int | None) -> None:
    assert parse_int_score(text) == expected


# Appendix D.1's two judge prompts as the paper's HTML text gives them (arXiv:2603.06595).
PAPER_JUDGES = "Prompt for LLM-as-a-Judge method (personalization) System:\nYou are a helpful assistant. Please act as an impartial judge and evaluate the quality of the response provided by an AI assistant to the user instruction displayed below. Based on the scoring criteria, given the instruction, provide a score of the AI assistant’s answer compared to the ground truth. Be as objective as possible.\nScoring Criteria:\nScore 1: The answer is completely unrelated to the reference.\nScore 2: The answer has minor relevance but does not align with the reference. Score 3: The answer has moderate relevance but contains inaccuracies. Score 4: The answer aligns with the reference but has minor omissions. Score 5: The answer is completely accurate and aligns perfectly with the reference. User:\n{question}\nGround Truth:\n{expected output}\nAssistant:\n{generated output}\nScore:\n{score}\nPrompt for LLM-as-a-Judge method (quality) System:\nYou are a helpful assistant. Please act as an impartial judge and evaluate the language quality of the response provided by an AI assistant to the user instruction displayed below. Evaluate based on four dimensions: Coherence, Consistency, Fluency, and Relevance. Be as objective as possible.\nScoring Criteria:\nScore 1: Completely unacceptable in this dimension.\nScore 2: Major issues present in this dimension. Score 3: Some noticeable issues but partially acceptable. Score 4: Good, with minor issues. Score 5: Excellent, no noticeable issues. User:\n{question}\nAssistant:\n{generated output}\nScores (format: Coherence / Consistency / Fluency / Relevance):\n{Coherence score} / {Consistency score} / {Fluency score} / {Relevance score}\n\n"


@pytest.mark.parametrize(
    ("title", "name", "fields"),
    [
        (
            "LLM-as-a-Judge method (personalization)",
            "judge_personalization",
            ("question", "expected output", "generated output"),
        ),
        ("LLM-as-a-Judge method (quality)", "judge_quality", ("question", "generated output")),
    ],
)
def test_judge_prompts_are_the_papers(title: str, name: str, fields: tuple) -> None:
    """Same words in the same order; only the line layout and the apostrophe (U+2019 -> ') are ours."""
    block = PAPER_JUDGES.split(f"Prompt for {title} System:\n", 1)[1].split("\nPrompt for", 1)[0]
    paper, answer = block.rsplit(":\n", 1)  # the last line is the judge's answer, not the prompt
    system, user = load_published_prompt(name + "_system"), load_published_prompt(name + "_user")
    assert " ".join(paper.replace("\u2019", "'").split()) + ":" == " ".join(
        (system.text + " " + user.text).split()
    )
    assert user.text.startswith("User:\n{question}\n") and user.fields == fields
    assert answer.strip() in (
        "{score}",
        "{Coherence score} / {Consistency score} / {Fluency score} / {Relevance score}",
    )
    messages = judge_prompt(name.split("_")[1], "Q", "P", "R")
    assert [m["role"] for m in messages] == ["system", "user"] and messages[0]["content"] == system.text
    assert "Answer with" not in messages[1]["content"]  # no instruction lines of our own


def _reference_digit_probs(model, tokenizer, conversation, prefix: str) -> torch.Tensor:
    """One forward of the un-padded prompt + prefix, softmax, the five digit ids: (5,) unnormalised."""
    text = tokenizer.apply_chat_template(conversation, tokenize=False, add_generation_prompt=True) + prefix
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    digit_ids = [tokenizer(text + d, add_special_tokens=False)["input_ids"][-1] for d in "12345"]
    with torch.no_grad():
        return torch.softmax(model(torch.tensor([ids])).logits[0, -1], -1)[digit_ids]


def test_probability_score_is_the_expectation_over_digit_tokens(tiny) -> None:
    """Independent reference: one forward of the un-padded prompt, softmax, the five digit ids."""
    model, tokenizer = tiny
    backend = TransformersChat(model, tokenizer, batch_size=2)
    conversations = [
        judge_prompt("personalization", "q", "short answer", "ref"),
        judge_prompt("personalization", "a longer query here", "p", "r"),
    ]
    judgements = Judge(backend).score(conversations)
    for conversation, judgement in zip(conversations, judgements, strict=True):
        probs = _reference_digit_probs(model, tokenizer, conversation, "")
        assert judgement.mass["score"] == pytest.approx(float(probs.sum()), rel=1e-4)
        expected = float((probs / probs.sum()) @ torch.arange(1.0, 6.0))
        assert judgement.score == pytest.approx(expected, rel=1e-4)
        assert 1.0 <= judgement.score <= 5.0


def test_probability_quality_teacher_forces_the_greedy_digits(tiny) -> None:
    """Each of the four scores is read after the most probable earlier digits and " / " separators."""
    model, tokenizer = tiny
    conversations = [
        judge_prompt("quality", "q", "an answer", "unused"),
        judge_prompt("quality", "longer q", "b", ""),
    ]
    judgements = Judge(TransformersChat(model, tokenizer, batch_size=2)).score(conversations, QUALITY)
    for conversation, judgement in zip(conversations, judgements, strict=True):
        prefix = ""
        assert list(judgement.scores) == ["coherence", "consistency", "fluency", "relevance"]
        for name in judgement.scores:
            probs = _reference_digit_probs(model, tokenizer, conversation, prefix)
            expected = float((probs / probs.sum()) @ torch.arange(1.0, 6.0))
            assert judgement.scores[name] == pytest.approx(expected, rel=1e-4)
            prefix += f"{int(probs.argmax()) + 1} / "
    with pytest.raises(ConfigError, match="several scores"):
        _ = judgements[0].score


def test_probability_mode_needs_a_local_backend() -> None:
    with pytest.raises(ConfigError, match="local judge"):
        Judge(OpenAIChat("http://127.0.0.1:9/v1", "m"), JudgeConfig(mode="probability"))


def test_http_backend_serves_the_tiny_model(tiny, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same chat route vLLM and llama.cpp expose, answered by a real model on loopback."""
    monkeypatch.setenv("TEST_JUDGE_KEY", "secret")
    with ChatServer(chat=TransformersChat(*tiny)) as server:
        backend = OpenAIChat(server.url, "tiny", api_key_env="TEST_JUDGE_KEY")
        replies = backend.chat(
            [[{"role": "user", "content": "Hello"}]], max_new_tokens=5, temperature=1.0, n=2
        )
    assert len(replies) == 1 and len(replies[0]) == 2 and all(isinstance(r, str) for r in replies[0])
    assert server.requests[0]["model"] == "tiny" and server.requests[0]["_auth"] == "Bearer secret"
    assert server.requests[0]["_path"] == "/v1/chat/completions"


def test_http_sampled_scores_count_parse_failures() -> None:
    replies = ["4", "5", "no idea", "gibberish", "Score: 2", "2"]
    with ChatServer(replies=replies) as server:
        judge = Judge(OpenAIChat(server.url, "judge"), JudgeConfig(samples=2))
        result = judge_predictions(
            judge, ["q1", "q2", "q3"], ["p1", "p2", "p3"], ["r1", "r2", "r3"], criteria=("personalization",)
        )
    details = result["personalization"]
    assert details["per_example"] == [4.5, None, 2.0]  # the unparsable pair is None, never 0
    assert details["mean"] == pytest.approx(3.25)
    assert details["n"] == 2 and details["n_unparsed"] == 1 and details["n_failed_replies"] == 2


def test_http_quality_is_one_call_with_four_scores() -> None:
    replies = ["4 / 5 / 3 / 4", "I think it is good.", "5/5/5/4", "2 / 2 / 2"]
    with ChatServer(replies=replies) as server:
        judge = Judge(OpenAIChat(server.url, "judge"))
        result = judge_predictions(
            judge, ["q1", "q2", "q3", "q4"], ["p1", "p2", "p3", "p4"], ["r"] * 4, criteria=("quality",)
        )
    assert len(server.requests) == 4  # one call per item, not one per dimension
    assert server.requests[0]["messages"][0]["role"] == "system"
    assert (
        "Scores (format: Coherence / Consistency / Fluency / Relevance):"
        in server.requests[0]["messages"][1]["content"]
    )
    assert result["coherence"]["per_example"] == [4, None, 5, None]
    assert result["relevance"]["mean"] == pytest.approx(4.0)
    assert result["quality"]["per_example"] == [4.0, None, 4.75, None]
    assert result["quality"]["n_unparsed"] == 2 and result["quality"]["n_failed_replies"] == 2


def test_http_retries_with_backoff_then_succeeds() -> None:
    with ChatServer(replies=["3"], fail_first=2) as server:
        backend = OpenAIChat(server.url, "judge", max_retries=3, backoff=0.01)
        assert backend.chat([[{"role": "user", "content": "x"}]], max_new_tokens=2, temperature=0, n=1) == [
            ["3"]
        ]
    assert len(server.requests) == 3


def test_http_failure_is_reported_not_scored() -> None:
    with ChatServer(replies=[], fail_first=100) as server:
        judge = Judge(OpenAIChat(server.url, "judge", max_retries=2, backoff=0.01))
        with pytest.raises(BackendError, match="after 3 attempts: HTTP 503"):
            judge.score([[{"role": "user", "content": "x"}]])
    closed = OpenAIChat(server.url, "judge", max_retries=1, backoff=0.01)  # server is gone now
    with pytest.raises(BackendError, match="URLError|ConnectionRefused"):
        closed.chat([[{"role": "user", "content": "x"}]], max_new_tokens=2, temperature=0)


def test_http_client_errors_are_not_retried() -> None:
    with ChatServer(replies=[]) as server:
        backend = OpenAIChat(server.url.replace("/v1", "/wrong"), "judge", max_retries=3, backoff=0.01)
        with pytest.raises(BackendError, match="HTTP 404"):
            backend.chat([[{"role": "user", "content": "x"}]], max_new_tokens=2, temperature=0)
    assert len(server.requests) == 1


@pytest.mark.slow
@pytest.mark.smollm2
def test_smollm2_reads_all_four_quality_scores(smollm2) -> None:
    """On a real tokenizer the four digit places are reached (single-token digits after "4 / "...).

    SmolLM2-135M is no judge: with the paper's prompts (which do not say "answer with a digit") it puts
    under 5% of its probability on a digit at the first place, which the reported mass shows. This test
    checks the mechanics, not the judgement.
    """
    model, tokenizer = smollm2
    conversation = judge_prompt(
        "quality", "Write a short review of your blender.", "It is loud but fast.", ""
    )
    (judgement,) = Judge(TransformersChat(model, tokenizer)).score([conversation], QUALITY)
    assert list(judgement.scores) == ["coherence", "consistency", "fluency", "relevance"]
    assert all(1.0 <= value <= 5.0 for value in judgement.scores.values())
    assert judgement.mass["coherence"] < 0.05  # the first digit is not what this small model wants to write
    assert (
        min(judgement.mass[name] for name in ("consistency", "fluency", "relevance")) > 0.5
    )  # "d / " then digits
