"""Qwen3 and other reasoning models are judged, simulated and tested with thinking off (issue 18.1):
every chat rendering goes through `templates.render_chat`, the HTTP backend sends
``chat_template_kwargs``, and a reply that still holds a reasoning block is counted, never parsed."""

from __future__ import annotations

import argparse
import copy

import pytest
from chat_server import ChatServer

from percontrast.evaluation.aloe import Conversation, run_aloe
from percontrast.evaluation.aloe_config import AloeConfig
from percontrast.evaluation.judge import SINGLE, Judge, judge_predictions
from percontrast.evaluation.judge_config import JudgeConfig
from percontrast.modeling.chat import OpenAIChat, TransformersChat, holds_reasoning
from percontrast.prompts.registry import render_chat

# A template that, like Qwen3's, adds an empty think block only when enable_thinking is false.
THINKING_TEMPLATE = (
    "{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}{% endfor %}<assistant>"
    "{% if enable_thinking is defined and enable_thinking is false %}<think></think>{% endif %}"
)
MESSAGES = [{"role": "user", "content": "Rate this: 4 or 5?"}]


@pytest.fixture
def thinking_chat(tiny):
    model, tokenizer = tiny
    tokenizer = copy.deepcopy(tokenizer)
    tokenizer.chat_template = THINKING_TEMPLATE
    return TransformersChat(model, tokenizer)


def test_local_chat_prompts_are_rendered_with_thinking_off(thinking_chat) -> None:
    tokenizer = thinking_chat.tokenizer
    text = tokenizer.decode(thinking_chat.prompt_ids(MESSAGES))
    assert text.endswith("<assistant><think></think>") and text == render_chat(tokenizer, MESSAGES)
    context, _ = thinking_chat.digit_prompt_ids(MESSAGES, "")
    assert tokenizer.decode(context) == text


def test_http_backend_sends_chat_template_kwargs_only_when_set() -> None:
    with ChatServer(replies=["3", "4"]) as server:
        OpenAIChat(server.url, "m", chat_template_kwargs={"enable_thinking": False}).chat(
            [MESSAGES], max_new_tokens=5, temperature=1.0
        )
        OpenAIChat(server.url, "m").chat([MESSAGES], max_new_tokens=5, temperature=1.0)
    assert server.requests[0]["chat_template_kwargs"] == {"enable_thinking": False}
    assert "chat_template_kwargs" not in server.requests[1]


def test_judge_replies_holding_reasoning_are_counted_not_parsed() -> None:
    replies = ["<think>The score is 5, surely.</think>\n\n2", "3"]
    with ChatServer(replies=replies) as server:
        judgement = Judge(OpenAIChat(server.url, "m"), JudgeConfig(mode="sample", samples=2)).score(
            [MESSAGES], SINGLE
        )[0]
    assert judgement.score == 3.0 and judgement.n_reasoning == 1 and judgement.n_failed == 1
    with ChatServer(replies=["<think>Score: 5</think> 5 / 5 / 5 / 5", "<think>score 5"]) as server:
        results = judge_predictions(
            Judge(OpenAIChat(server.url, "m"), JudgeConfig(mode="sample")), ["q"], ["p"], ["r"], ("quality",)
        )
    assert results["coherence"]["n_reasoning_replies"] == 1 and results["coherence"]["mean"] is None


class _Scripted:
    name = "scripted"

    def __init__(self, replies: list[str]) -> None:
        self.replies = replies

    def chat(self, conversations, *, max_new_tokens, temperature, n=1, seed=0):
        return [[self.replies.pop(0) for _ in range(n)] for _ in conversations]


def test_aloe_counts_simulator_and_judge_replies_holding_reasoning() -> None:
    simulator = _Scripted(["<think>I should pretend to hike.</think> Hi!", "Nice."])
    judge = Judge(_Scripted(["<think>4</think>4", "5"]), JudgeConfig(mode="sample"))
    conversations = [Conversation("a", '"p"', '"q"')]
    summary = run_aloe(_Scripted(["hello", "sure"]), simulator, judge, conversations, AloeConfig(n_turns=2))
    assert summary["n_reasoning_user_messages"] == {1: 1, 2: 0}
    assert summary["n_reasoning_judge_replies"] == {1: 1, 2: 0}
    assert summary["al"] == {1: None, 2: 5.0} and summary["n_unparsed"] == {1: 1, 2: 0}


@pytest.mark.parametrize("text", ["<think>x", "a</think>b"])
def test_holds_reasoning(text: str) -> None:
    assert holds_reasoning(text) and not holds_reasoning("4")


def test_chat_template_kwargs_flag_takes_a_json_object() -> None:
    from percontrast.commands.evaluate import add_chat_arguments
    from percontrast.evaluation.config import EvaluateConfig

    parser = argparse.ArgumentParser()
    add_chat_arguments(parser, EvaluateConfig, "judge")
    args = parser.parse_args(["--judge-chat-template-kwargs", '{"enable_thinking": false}'])
    assert args.judge_chat_template_kwargs == {"enable_thinking": False}
    for bad in ("enable_thinking", "[1]"):
        with pytest.raises(SystemExit):
            parser.parse_args(["--judge-chat-template-kwargs", bad])


def test_the_metrics_table_reports_replies_holding_reasoning() -> None:
    from percontrast.evaluation.files import markdown_table

    counts = {"mean": 3.0, "n": 1, "n_unparsed": 1, "n_failed_replies": 2, "n_reasoning_replies": 2}
    result = {"judge_personalization": 3.0, "judge": {"personalization": counts}, "n": 2, "n_skipped": {}}
    assert "3.000 (1 unparsed) (2 replies held a reasoning block)" in markdown_table(result)
