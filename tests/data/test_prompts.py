"""LaMP / LongLaMP templates: the official text prompts, the paper's chat prompts, and without persona."""

from __future__ import annotations

import re

import pytest

from percontrast.data.schema import Example
from percontrast.prompts import benchmarks as prompts
from percontrast.prompts.registry import get_template
from percontrast.utils.bundled import load_published_prompt
from percontrast.utils.errors import ConfigError

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


# Appendix D.1 as the paper's HTML text gives it (line breaks inside each prompt lost), copied from
# arXiv:2603.06595; the stored prompts must equal it up to the layout and apostrophe rule in their headers.
PAPER_D1 = "Prompt for Personalized Abstract Generation System:\nYour task is to write abstracts for the user’s paper. The following are abstracts from the user’s previous papers:\n{previous_abstracts} Based on these examples, compose a new abstract that is consistent with the user’s preferred style and language. User:\n{question}\nAssistant:\nPrompt for Personalized Review Writing System:\nYour task is to write product review texts for the user. The following are the previous reviews from the user:\n{previous_reviews} Based on these examples, compose a new product review that is consistent with the user’s preferred style and tone. User:\n{question}\nAssistant:\nPrompt for Personalized Topic Writing System:\nYour task is to write on a given topic for the user. The following are examples of the user’s previous writings:\n{previous_writings} Based on these examples, write a new text on the given topic that is consistent with the user’s preferred style and tone. User:\n{question}\nAssistant:\n"

D1_PROMPTS = {
    "Personalized Abstract Generation": (
        "longlamp_abstract_generation_system",
        "LongLaMP_abstract_generation_chat",
    ),
    "Personalized Review Writing": ("longlamp_product_review_system", "LongLaMP_product_review_chat"),
    "Personalized Topic Writing": ("longlamp_topic_writing_system", "LongLaMP_topic_writing_chat"),
}


def paper_system_message(title: str) -> tuple[str, str]:
    """(system text, the text after 'User:') of one D.1 prompt, per the documented reading."""
    block = PAPER_D1.split(f"Prompt for {title} System:\n", 1)[1].split("Assistant:", 1)[0]
    system, user = block.split(" User:\n")
    system = system.replace("\u2019", "'")
    placeholder = re.search(r"\n(\{\w+\}) ", system).group(1)
    return system.replace(f"\n{placeholder} ", f"\n{placeholder}\n"), user


@pytest.mark.parametrize("title", sorted(D1_PROMPTS))
def test_published_system_messages_are_the_papers(title: str) -> None:
    prompt_name, template_name = D1_PROMPTS[title]
    published = load_published_prompt(prompt_name)
    system, user = paper_system_message(title)
    assert published.text == system
    assert user == "{question}\n"  # the user message is the task input alone
    assert published.source == "paper arXiv:2603.06595, Appendix D.1"
    (field_name,) = published.fields
    template = get_template(template_name)
    assert template.with_persona == system.replace("{" + field_name + "}", "{persona}")
    assert template.user == "{query}"


# What the persona-free system message keeps, per task: the task sentence and the instruction, with
# "The following are ...:", the items and "Based on these examples, " removed (docs/data.md).
PERSONA_FREE = {
    "LongLaMP_abstract_generation_chat": "Your task is to write abstracts for the user's paper. Compose a new "
    "abstract that is consistent with the user's preferred style and language.",
    "LongLaMP_product_review_chat": "Your task is to write product review texts for the user. Compose a new "
    "product review that is consistent with the user's preferred style and tone.",
    "LongLaMP_topic_writing_chat": "Your task is to write on a given topic for the user. Write a new text on "
    "the given topic that is consistent with the user's preferred style and tone.",
}


@pytest.mark.parametrize("template_name", sorted(PERSONA_FREE))
def test_persona_free_system_message(template_name: str, tiny) -> None:
    _, tokenizer = tiny
    template = get_template(template_name)
    assert template.without_persona == PERSONA_FREE[template_name]
    # The with-persona message is the persona-free one with exactly three things put back: the sentence
    # announcing the items, the items, and "Based on these examples, " (before the lower-cased instruction).
    task, instruction = template.without_persona.split(". ", 1)
    announce = template.with_persona.split(". The following are ", 1)[1].split("\n", 1)[0]
    rebuilt = (
        f"{task}. The following are {announce}\n{{persona}}\nBased on these examples, "
        f"{instruction[0].lower()}{instruction[1:]}"
    )
    assert rebuilt == template.with_persona
    example = Example(id="1", persona=["ITEM-ONE", "ITEM-TWO"], query="Write it.", response="r")
    with_text = template.render(example, with_persona=True, tokenizer=tokenizer)
    without_text = template.render(example, with_persona=False, tokenizer=tokenizer)
    assert "ITEM-ONE\n\nITEM-TWO" in with_text and "ITEM-ONE" not in without_text
    assert without_text == (
        f"<|im_start|>system\n{PERSONA_FREE[template_name]}<|im_end|>\n"
        "<|im_start|>user\nWrite it.<|im_end|>\n<|im_start|>assistant\n"
    )


def test_persona_free_rejects_other_shapes() -> None:
    with pytest.raises(ConfigError, match="expected a D.1 system message"):
        prompts.persona_free_system("Task.\n{persona}\nWrite.")


def test_every_task_has_a_default_template_that_renders_its_items() -> None:
    for task, name in prompts.DEFAULT_TEMPLATES.items():
        assert prompts.TEMPLATE_TASKS[name] == task
        assert name in prompts.templates_for(task)
