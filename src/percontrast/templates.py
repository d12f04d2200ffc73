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

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from transformers.tokenization_utils_base import PreTrainedTokenizerBase

from percontrast.data.schema import Example
from percontrast.errors import ConfigError


@dataclass(frozen=True)
class PromptTemplate:
    """How to turn an example into a prompt, with or without its persona.

    Attributes:
        name: registry name.
        kind: ``"chat"`` (rendered with the tokenizer's chat template) or ``"text"``.
        with_persona: the system message (chat) or the whole prompt (text), with the fields
            ``{persona}`` and, for text templates, ``{query}``.
        without_persona: the same with the persona part removed.
        user: the user message of chat templates (field ``{query}``).
        item_format: how one persona item is rendered (field ``{item}``, 1-based ``{index}``).
        item_separator: what joins the rendered items into ``{persona}``.
        response_prefix: text put before the response when it is tokenized (a space for text
            prompts that end in ``Answer:``); token offsets still index into the bare response.
    """

    name: str
    kind: Literal["chat", "text"]
    with_persona: str
    without_persona: str
    user: str = "{query}"
    item_format: str = "{item}"
    item_separator: str = " "
    response_prefix: str = ""

    def __post_init__(self) -> None:
        if self.kind not in ("chat", "text"):
            raise ConfigError(f"template {self.name!r}: kind must be 'chat' or 'text', got {self.kind!r}")
        if "{persona}" not in self.with_persona:
            raise ConfigError(f"template {self.name!r}: with_persona must contain {{persona}}")
        if "{persona}" in self.without_persona:
            raise ConfigError(f"template {self.name!r}: without_persona must not contain {{persona}}")

    def persona_block(self, persona: list[str]) -> str:
        """The persona items rendered and joined."""
        return self.item_separator.join(
            self.item_format.format(item=item, index=index) for index, item in enumerate(persona, start=1)
        )

    def render(
        self, example: Example, with_persona: bool, tokenizer: PreTrainedTokenizerBase | None = None
    ) -> str:
        """The prompt text for `example`, ending where the response starts.

        Args:
            example: the example.
            with_persona: include the persona (True) or remove it (False).
            tokenizer: needed for chat templates (its chat template renders the messages).
        """
        return self.render_persona_block(
            self.persona_block(example.persona) if with_persona else None,
            example.query,
            tokenizer,
            history=example.history,
        )

    def render_persona_block(
        self,
        persona_block: str | None,
        query: str,
        tokenizer: PreTrainedTokenizerBase | None,
        history: Sequence[Mapping[str, str]] = (),
    ) -> str:
        """Render from an already joined persona block (None: without persona).

        ``history`` holds the conversation before the final user message (chat templates only): an
        optional leading system message of the data's own (kept in both prompts; the template's
        persona head is appended to it after a blank line) and then user / assistant turns, which are
        kept as they are.
        """
        if persona_block is None:
            head = self.without_persona
        else:
            head = self.with_persona.replace("{persona}", persona_block)
        if self.kind == "text":
            if history:
                raise ConfigError(
                    f"template {self.name!r} is a text template; examples with a conversation history need a "
                    "chat template (for example messages_chat)"
                )
            return head.replace("{query}", query)
        if tokenizer is None or not getattr(tokenizer, "chat_template", None):
            raise ConfigError(
                f"template {self.name!r} is a chat template but the tokenizer has no chat template; "
                "use a text template (for example --template persona_text)"
            )
        turns = [dict(message) for message in history]
        system = turns.pop(0)["content"] if turns and turns[0]["role"] == "system" else ""
        system = "\n\n".join(part for part in (system, head) if part)
        messages = [{"role": "system", "content": system}] if system else []
        messages += turns
        messages.append({"role": "user", "content": self.user.replace("{query}", query)})
        return render_chat(tokenizer, messages)


def render_chat(tokenizer: PreTrainedTokenizerBase, messages: list[dict[str, str]]) -> str:
    """The chat prompt text for ``messages``, ending with the assistant's generation prompt.

    Chat templates with a thinking switch (Qwen3, the paper's models) are rendered with thinking off
    (``enable_thinking=False``: Qwen3's template then closes an empty ``<think></think>`` block before
    the answer). Training, scoring and generation all go through here, so the response always follows
    the same prompt. Templates without the switch ignore the variable.
    """
    return tokenizer.apply_chat_template(
        messages, tokenize=False, add_generation_prompt=True, enable_thinking=False
    )


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
DEFAULT_TEMPLATE = "persona_chat"

# The LaMP / LongLaMP templates live with the data layer; importing them here registers them wherever
# templates are looked up by name (e.g. `percontrast score --template LaMP_4_text`).
import percontrast.data.prompts  # noqa: E402,F401

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
