"""Prompt templates for LaMP and LongLaMP, each with and without the user's profile.

Two families, listed in `BENCHMARK_TEMPLATES`, which `percontrast.prompts.registry` registers:

- ``<task>_text``: the official text prompts of the LaMP code (Salemi et al., 2024,
  github.com/LaMP-Benchmark/LaMP, ``LaMP/prompts/prompts.py``) and of the LongLaMP code
  (Kumar et al., 2024, arXiv:2407.11016). Each profile item is rendered as the official code renders
  it (e.g. LaMP-4: ``"{title}" is the title for "{text}" `` with its trailing space), the items are
  joined with ``", and "``, and the task's tail follows (``. {input}``, ``. Following the given
  patterns {input}``, ...). The official code cuts each item to a per-item token share; we do not:
  truncation is `percontrast.prompts.encoding.truncate_persona` (drop lowest-ranked items, then shorten the
  last kept one), so the closing quote of a shortened item can be lost.
  Without persona the prompt is the task input alone (the input carries the task instruction, e.g.
  "Generate a headline for the following article: ...").
- ``LongLaMP_<task>_chat``: the chat templates of the paper we implement (PerContrast/PerCE,
  arXiv:2603.06595, Appendix D.1), the default for LongLaMP. The system message is the paper's text for
  the task, verbatim, stored with its source in ``resources/prompts/longlamp_<task>_system.txt``, with
  the rendered items in place of its placeholder; the user message is the task input. Without persona
  (the PerContrast intervention) `persona_free_system` removes the items, the sentence announcing them
  and "Based on these examples, ", and nothing else; for abstracts, exactly: "Your task is to write
  abstracts for the user's paper. Compose a new abstract that is consistent with the user's preferred
  style and language."

`ITEM_RENDERERS[template]` turns one raw profile item (a dict in the official schema) into the text
of one persona item for that template; `DEFAULT_TEMPLATES[task]` names the template a task uses
unless another is asked for.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from percontrast.prompts.template import PromptTemplate
from percontrast.utils.bundled import load_published_prompt
from percontrast.utils.errors import ConfigError

ItemRenderer = Callable[[dict[str, Any]], str]

ITEM_RENDERERS: dict[str, ItemRenderer] = {}
DEFAULT_TEMPLATES: dict[str, str] = {}
TEMPLATE_TASKS: dict[str, str] = {}  # template name -> the task whose profile items it renders
BENCHMARK_TEMPLATES: list[PromptTemplate] = []  # registered by percontrast.prompts.registry


def first_words(text: str, n: int) -> str:
    """The first ``n`` whitespace-separated words, joined by one space (LongLaMP's abstract cap: 750)."""
    return " ".join(str(text).split()[:n])


def _register(task: str, template: PromptTemplate, render_item: ItemRenderer, default: bool = False) -> None:
    if template.name not in TEMPLATE_TASKS:  # importing twice (e.g. reload in tests) must not fail
        BENCHMARK_TEMPLATES.append(template)
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


# The paper's chat templates (the default for LongLaMP): Appendix D.1, verbatim (resources/prompts).
_PERSONA_INTRO = "The following are "  # the sentence that announces the user's items
_PERSONA_REFERENCE = "Based on these examples, "  # the clause that points back at them


def persona_free_system(system_with_persona: str) -> str:
    """The PerContrast intervention on a D.1 system message: remove the persona and what needs it.

    The D.1 messages have three parts around the items: a task sentence, a sentence announcing the
    items ("The following are ...:"), the items, then "Based on these examples, <instruction>". Without
    persona the items go, and so do the two pieces that only make sense with them: the announcing
    sentence and "Based on these examples, ". The task sentence and the instruction stay word for
    word (its first letter capitalised), including "consistent with the user's preferred style", which
    still names what is asked even when the model cannot see the user's texts.

    Args:
        system_with_persona: the system message with ``{persona}`` in place of the items.

    Returns:
        e.g. "Your task is to write abstracts for the user's paper. Compose a new abstract that is
        consistent with the user's preferred style and language."
    """
    head, sep, tail = system_with_persona.partition("\n{persona}\n")
    task, intro_sep, intro = head.rpartition(" " + _PERSONA_INTRO)
    if not sep or not intro_sep or not intro.endswith(":") or not tail.startswith(_PERSONA_REFERENCE):
        raise ConfigError(
            "expected a D.1 system message '<task>. The following are ...:\n{persona}\nBased on these "
            f"examples, <instruction>', got {system_with_persona!r}"
        )
    instruction = tail[len(_PERSONA_REFERENCE) :]
    return f"{task} {instruction[:1].upper()}{instruction[1:]}"


def _chat_template(name: str, prompt_name: str) -> PromptTemplate:
    """A chat template whose system message is the published prompt ``prompt_name``."""
    published = load_published_prompt(prompt_name)
    (field_name,) = published.fields
    with_persona = published.fill(**{field_name: "{persona}"})
    return PromptTemplate(
        name=name,
        kind="chat",
        with_persona=with_persona,
        without_persona=persona_free_system(with_persona),
        item_separator="\n\n",
    )


# How one profile item is rendered inside the system message is not given by the paper (D.1 shows only
# the placeholder): each item is its fields as "Label: value" lines, items separated by a blank line.
_register(
    "LongLaMP_abstract_generation",
    _chat_template("LongLaMP_abstract_generation_chat", "longlamp_abstract_generation_system"),
    lambda item: f"Title: {item['title']}\nAbstract: {first_words(item['abstract'], 750)}",
    default=True,
)
_register(
    "LongLaMP_product_review",
    _chat_template("LongLaMP_product_review_chat", "longlamp_product_review_system"),
    lambda item: (
        f"Product: {item['description']}\nRating: {item['overall']}\nSummary: {item['summary']}\nReview: {item['reviewText']}"
    ),
    default=True,
)
_register(
    "LongLaMP_topic_writing",
    _chat_template("LongLaMP_topic_writing_chat", "longlamp_topic_writing_system"),
    lambda item: f"Summary: {item['summary']}\nPost: {item['content']}",
    default=True,
)


def templates_for(task: str) -> list[str]:
    """The registered template names that render ``task``'s profile items."""
    return sorted(name for name, owner in TEMPLATE_TASKS.items() if owner == task)
