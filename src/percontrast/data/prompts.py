"""Prompt templates for LaMP and LongLaMP, each with and without the user's profile.

Two families, registered in `percontrast.templates` on import:

- ``<task>_text``: the official text prompts of the LaMP code (Salemi et al., 2024,
  github.com/LaMP-Benchmark/LaMP, ``LaMP/prompts/prompts.py``) and of the LongLaMP code
  (Kumar et al., 2024, arXiv:2407.11016). Each profile item is rendered as the official code renders
  it (e.g. LaMP-4: ``"{title}" is the title for "{text}" `` with its trailing space), the items are
  joined with ``", and "``, and the task's tail follows (``. {input}``, ``. Following the given
  patterns {input}``, ...). The official code cuts each item to a per-item token share; we do not:
  truncation is `percontrast.encoding.truncate_persona` (drop lowest-ranked items, then shorten the
  last kept one), so the closing quote of a shortened item can be lost.
  Without persona the prompt is the task input alone (the input carries the task instruction, e.g.
  "Generate a headline for the following article: ...").
- ``LongLaMP_<task>_chat``: the chat templates of the paper we implement (PerContrast/PerCE). The
  system message is "Your task is to write abstracts for the user's paper. The following are
  abstracts from the user's previous papers: <items> Based on these examples, compose a new abstract
  that is consistent with the user's preferred style and language." and the user message is the
  task input. The review and topic-writing messages follow the same pattern; only the abstract
  wording is quoted from the paper. Without persona the system message keeps the first sentence and
  ends with "Compose a new abstract." (review, post), e.g. exactly
  "Your task is to write abstracts for the user's paper. Compose a new abstract."

`ITEM_RENDERERS[template]` turns one raw profile item (a dict in the official schema) into the text
of one persona item for that template; `DEFAULT_TEMPLATES[task]` names the template a task uses
unless another is asked for.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from percontrast.templates import TEMPLATES, PromptTemplate, register_template

ItemRenderer = Callable[[dict[str, Any]], str]

ITEM_RENDERERS: dict[str, ItemRenderer] = {}
DEFAULT_TEMPLATES: dict[str, str] = {}
TEMPLATE_TASKS: dict[str, str] = {}  # template name -> the task whose profile items it renders


def first_words(text: str, n: int) -> str:
    """The first ``n`` whitespace-separated words, joined by one space (LongLaMP's abstract cap: 750)."""
    return " ".join(str(text).split()[:n])


def _register(task: str, template: PromptTemplate, render_item: ItemRenderer, default: bool = False) -> None:
    if template.name not in TEMPLATES:  # importing twice (e.g. reload in tests) must not fail
        register_template(template)
    ITEM_RENDERERS[template.name] = render_item
    TEMPLATE_TASKS[template.name] = task
    if default:
        DEFAULT_TEMPLATES[task] = template.name


def _text_template(name: str, tail: str) -> PromptTemplate:
    """An official text prompt: ``{persona}`` + ``tail`` (which contains ``{query}``); without: the query."""
    return PromptTemplate(
        name=name,
        kind="text",
        with_persona="{persona}" + tail,
        without_persona="{query}",
        item_separator=", and ",
        response_prefix=" ",
    )


# LaMP (official LaMP/prompts/prompts.py). LaMP-1 (citation choice) puts the items inside the question
# and is not supported; LaMP-6 (Avocado e-mail) is private data but its format is cheap to support.
_LAMP = {
    "LaMP_2": ('the tag for the movie: "{description}" is "{tag}" ', ". {query}"),
    "LaMP_3": ('{score} is the score for "{text}" ', ". {query}"),
    "LaMP_4": ('"{title}" is the title for "{text}" ', ". {query}"),
    "LaMP_5": ('"{title}" is a title for "{abstract}" ', ". Following the given patterns {query}"),
    "LaMP_6": ('"{title}" is the title for "{text}" ', ". {query}"),
    "LaMP_7": ('"{text}" ', " are written by a person. Following the given patterns {query}"),
}
for _task, (_item, _tail) in _LAMP.items():
    _register(
        _task, _text_template(f"{_task}_text", _tail), lambda item, _f=_item: _f.format(**item), default=True
    )


# LongLaMP (official LongLaMP prompt code).
def _abstract_text_item(item: dict[str, Any]) -> str:
    return f'"{first_words(item["abstract"], 750)}" is the abstract for the title "{item["title"]}"'


def _review_text_item(item: dict[str, Any]) -> str:
    return (
        f'"{item["overall"]}" is a rating for the product with description "{item["description"]}". '
        f'"{item["summary"]}" is summary for "{item["reviewText"]}" '
    )


def _topic_text_item(item: dict[str, Any]) -> str:
    return f'"{item["summary"]}" is a summary for "{item["content"]}" '


_register(
    "LongLaMP_abstract_generation",
    _text_template(
        "LongLaMP_abstract_generation_text",
        ". Use the above abstracts as context to understand the style and language of the user and, {query}",
    ),
    _abstract_text_item,
)
_register(
    "LongLaMP_product_review",
    _text_template("LongLaMP_product_review_text", ". Following the given patterns {query}"),
    _review_text_item,
)
_register(
    "LongLaMP_topic_writing",
    _text_template("LongLaMP_topic_writing_text", ". Following the given patterns, {query}"),
    _topic_text_item,
)


# The paper's chat templates (the default for LongLaMP).
def _chat_template(name: str, task_sentence: str, history_sentence: str, noun: str) -> PromptTemplate:
    return PromptTemplate(
        name=name,
        kind="chat",
        with_persona=(
            f"{task_sentence} {history_sentence}\n{{persona}}\nBased on these examples, compose a new {noun} that is "
            "consistent with the user's preferred style and language."
        ),
        without_persona=f"{task_sentence} Compose a new {noun}.",
        item_separator="\n\n",
    )


_register(
    "LongLaMP_abstract_generation",
    _chat_template(
        "LongLaMP_abstract_generation_chat",
        "Your task is to write abstracts for the user's paper.",
        "The following are abstracts from the user's previous papers:",
        "abstract",
    ),
    lambda item: f"Title: {item['title']}\nAbstract: {first_words(item['abstract'], 750)}",
    default=True,
)
_register(
    "LongLaMP_product_review",
    _chat_template(
        "LongLaMP_product_review_chat",
        "Your task is to write reviews for the user's product purchases.",
        "The following are reviews from the user's previous purchases:",
        "review",
    ),
    lambda item: (
        f"Product: {item['description']}\nRating: {item['overall']}\nSummary: {item['summary']}\nReview: {item['reviewText']}"
    ),
    default=True,
)
_register(
    "LongLaMP_topic_writing",
    _chat_template(
        "LongLaMP_topic_writing_chat",
        "Your task is to write Reddit posts for the user.",
        "The following are posts from the user's previous writing:",
        "post",
    ),
    lambda item: f"Summary: {item['summary']}\nPost: {item['content']}",
    default=True,
)


def templates_for(task: str) -> list[str]:
    """The registered template names that render ``task``'s profile items."""
    return sorted(name for name, owner in TEMPLATE_TASKS.items() if owner == task)
