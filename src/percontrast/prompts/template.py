"""`PromptTemplate`: how one example becomes a prompt, with or without its persona; `render_chat`.

The type lives apart from the registry (`percontrast.prompts.registry`) so that the data layer's templates
(`percontrast.prompts.benchmarks`) can be defined without importing the registry that registers them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from percontrast.utils.errors import ConfigError

if TYPE_CHECKING:
    from transformers.tokenization_utils_base import PreTrainedTokenizerBase

    from percontrast.data.schema import Example


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
