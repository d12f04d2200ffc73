"""Prompt templates: the same example rendered with and without the user's persona.

PerContrast's intervention is to remove the persona and keep everything else. A template renders an
`Example` twice:

- chat templates put the persona into the system message; without persona, the persona block is
  removed and the rest of the system message (the task instruction) stays, so the persona-free
  prompt is still a well-formed chat prompt for the model;
- text templates (for base models, and the official LaMP / LongLaMP text prompts) put the persona
  before the query; without persona only the query part remains.

Templates are registered by name in `TEMPLATES`; `get_template(name)` looks one up.
"""

from __future__ import annotations

from percontrast.data.schema import Example
from percontrast.prompts.benchmarks import BENCHMARK_TEMPLATES
from percontrast.prompts.template import PromptTemplate, render_chat
from percontrast.utils.errors import ConfigError

__all__ = [
    "DEFAULT_TEMPLATE",
    "TEMPLATES",
    "PromptTemplate",
    "get_template",
    "register_template",
    "render_chat",
    "resolve_template",
]


TEMPLATES: dict[str, PromptTemplate] = {}


def register_template(template: PromptTemplate) -> PromptTemplate:
    """Add a template to the registry (a name can be registered once)."""
    if template.name in TEMPLATES:
        raise ConfigError(f"template {template.name!r} is already registered")
    TEMPLATES[template.name] = template
    return template


def resolve_template(example: Example, override: str | PromptTemplate | None = None) -> PromptTemplate:
    """The template to render ``example`` with.

    The example's own ``template`` (set by the data builders) is used unless ``override`` is given;
    an override that names a different template than the example is an error, because the example's
    persona items were rendered for its own template. Examples without a template use ``override``,
    else `DEFAULT_TEMPLATE`.

    Raises:
        ConfigError: unknown template, or an override that contradicts the example.
    """
    if override is None:
        return get_template(example.template or DEFAULT_TEMPLATE)
    template = get_template(override)
    if example.template is not None and example.template != template.name:
        raise ConfigError(
            f"example {example.id!r} was built for template {example.template!r} but template "
            f"{template.name!r} was asked for; leave --template out to use each example's own template, "
            "or rebuild the data for the other template (percontrast data ... --template NAME)"
        )
    return template


def get_template(name: str | PromptTemplate) -> PromptTemplate:
    """Look up a template by name; unknown names list the registered ones."""
    if isinstance(name, PromptTemplate):
        return name
    if name not in TEMPLATES:
        raise ConfigError(f"unknown template {name!r}; registered templates: {sorted(TEMPLATES)}")
    return TEMPLATES[name]


# Persona-grounded QA (the paper's synthetic setting, Synthetic-Persona-Chat personas).
register_template(
    PromptTemplate(
        name="persona_chat",
        kind="chat",
        with_persona="You are a person with this persona: {persona}\nAnswer the user's question in the first person, in one sentence.",
        without_persona="Answer the user's question in the first person, in one sentence.",
    )
)
register_template(
    PromptTemplate(
        name="persona_text",
        kind="text",
        with_persona="Persona: {persona}\nQuestion: {query}\nAnswer:",
        without_persona="Question: {query}\nAnswer:",
        response_prefix=" ",
    )
)
# The next reply in a persona dialogue (the demo's Synthetic-Persona-Chat task, `data/persona_chat.py`).
register_template(
    PromptTemplate(
        name="persona_dialogue_chat",
        kind="chat",
        with_persona=(
            "You are chatting with a partner. This is your persona: {persona}\n"
            "Write your next message in the conversation."
        ),
        without_persona="You are chatting with a partner.\nWrite your next message in the conversation.",
    )
)
# Conversational data (TRL's / the Hub's ``messages`` format, `data/conversational.py`): the persona is
# the whole system message; without it there is no system message of the template's at all.
register_template(
    PromptTemplate(
        name="messages_chat", kind="chat", with_persona="{persona}", without_persona="", item_separator="\n"
    )
)
# TRL's standard (text) prompt-completion rows (`percontrast.training.trl`): the persona, one item a line,
# and a blank line before the row's own prompt; without it the prompt is the row's prompt, exactly.
register_template(
    PromptTemplate(
        name="persona_prefix",
        kind="text",
        with_persona="{persona}\n\n{query}",
        without_persona="{query}",
        item_separator="\n",
    )
)
DEFAULT_TEMPLATE = "persona_chat"

# The LaMP / LongLaMP templates live with the data layer (`percontrast.prompts.benchmarks`); registered here, so
# that every lookup by name finds them (e.g. `percontrast score --template LaMP_4_text`).
for _benchmark_template in BENCHMARK_TEMPLATES:
    register_template(_benchmark_template)

# `percontrast identify`'s default (docs/identification.md): the persona-free prompt keeps the role
# ("You are a person."), so removing the persona removes only the persona sentences and their header.
register_template(
    PromptTemplate(
        name="persona_role",
        kind="chat",
        with_persona="You are a person with this persona: {persona}",
        without_persona="You are a person.",
    )
)
