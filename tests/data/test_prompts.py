"""LaMP / LongLaMP templates: the official text prompts, the paper's chat prompts, and without persona."""

from __future__ import annotations

import pytest

from percontrast.data import prompts
from percontrast.data.schema import Example
from percontrast.templates import get_template

LAMP4_ITEMS = [{"title": "T1", "text": "x one"}, {"title": "T2", "text": "x two"}]
QUERY = "Generate a headline for the following article: body"


def official_lamp4(inp: str, profile: list[dict]) -> str:
    """LaMP/prompts/prompts.py create_generation_news_prompt without its per-item token cap."""
    parts = [f'"{p["title"]}" is the title for "{p["text"]}" ' for p in profile]
    return f"{', and '.join(parts)}. {inp}"


def render(template: str, items: list[dict], query: str, with_persona: bool, tokenizer=None) -> str:
    persona = [prompts.ITEM_RENDERERS[template](item) for item in items]
    example = Example(id="1", persona=persona, query=query, response="r")
    return get_template(template).render(example, with_persona=with_persona, tokenizer=tokenizer)


def test_lamp4_text_prompt_is_the_official_one() -> None:
    assert render("LaMP_4_text", LAMP4_ITEMS, QUERY, True) == official_lamp4(QUERY, LAMP4_ITEMS)
    assert render("LaMP_4_text", LAMP4_ITEMS, QUERY, False) == QUERY


@pytest.mark.parametrize(
    ("template", "items", "expected"),
    [
        (
            "LaMP_5_text",
            [{"title": "A", "abstract": "B"}],
            '"A" is a title for "B" . Following the given patterns Q',
        ),
        (
            "LaMP_7_text",
            [{"text": "t1"}, {"text": "t2"}],
            '"t1" , and "t2"  are written by a person. Following the given patterns Q',
        ),
        (
            "LongLaMP_product_review_text",
            [{"overall": 5.0, "description": "D", "summary": "S", "reviewText": "R"}],
            '"5.0" is a rating for the product with description "D". "S" is summary for "R" . Following the given patterns Q',
        ),
        (
            "LongLaMP_topic_writing_text",
            [{"summary": "S", "content": "C"}],
            '"S" is a summary for "C" . Following the given patterns, Q',
        ),
        (
            "LongLaMP_abstract_generation_text",
            [{"title": "T", "abstract": "w " * 800}],
            '"'
            + " ".join(["w"] * 750)
            + '" is the abstract for the title "T". Use the above abstracts as context to '
            "understand the style and language of the user and, Q",
        ),
    ],
)
def test_official_text_prompts(template: str, items: list[dict], expected: str) -> None:
    assert render(template, items, "Q", True) == expected
    assert render(template, items, "Q", False) == "Q"


def test_paper_chat_template_with_and_without_persona(tiny) -> None:
    _, tokenizer = tiny
    items = [{"title": "T", "abstract": "An abstract."}]
    with_persona = render("LongLaMP_abstract_generation_chat", items, "Write it.", True, tokenizer)
    without = render("LongLaMP_abstract_generation_chat", items, "Write it.", False, tokenizer)
    assert (
        "Your task is to write abstracts for the user's paper. The following are abstracts from the user's previous papers:\n"
        "Title: T\nAbstract: An abstract.\nBased on these examples, compose a new abstract that is consistent with the "
        "user's preferred style and language."
    ) in with_persona
    assert (
        "<|im_start|>system\nYour task is to write abstracts for the user's paper. Compose a new abstract.<|im_end|>"
        in without
    )
    assert "An abstract." not in without
    assert without.endswith("<|im_start|>user\nWrite it.<|im_end|>\n<|im_start|>assistant\n")


def test_every_task_has_a_default_template_that_renders_its_items() -> None:
    for task, name in prompts.DEFAULT_TEMPLATES.items():
        assert prompts.TEMPLATE_TASKS[name] == task
        assert name in prompts.templates_for(task)
