"""`ChatModelConfig` and `JudgeConfig`: the one definition of a chat model's flags (judge, user simulator).

A chat model is a local model or an OpenAI-compatible server. ``percontrast evaluate`` builds its
``--judge-*`` flags from `JudgeConfig`, ``percontrast aloe`` its ``--judge-*`` and ``--simulator-*``
flags from `JudgeConfig` and `ChatModelConfig` (with ALOE's defaults, from `AloeConfig`), and the
experiment runner's ``judge:`` section takes its defaults from here. The help texts name the role
and the flag prefix (``{role}``, ``{prefix}``) and, where they say it, the default (``{default}``).
Kept free of torch so that ``percontrast --help`` stays fast.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

JUDGE_MODES = ("probability", "sample")
DEFAULT_JUDGE_MODEL = "smollm2-135m-instruct"


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

    def backend(self, prefix: str = "judge"):
        """The chat backend this names: an HTTP server, else a local model (None: neither given).

        ``prefix`` names the flags in the error message (``--judge-url``, ``--simulator-url``).
        """
        from percontrast.modeling.chat import OpenAIChat, TransformersChat
        from percontrast.utils.errors import ConfigError

        if self.url:
            if not self.api_model:
                raise ConfigError(
                    f"--{prefix}-url needs --{prefix}-api-model, the model name the server expects"
                )
            return OpenAIChat(
                self.url,
                self.api_model,
                api_key_env=self.key_env,
                chat_template_kwargs=self.chat_template_kwargs,
            )
        if not self.model:
            return None
        from percontrast.modeling.load import load_model

        return TransformersChat(*load_model(self.model), name=self.model)


@dataclass
class JudgeConfig(ChatModelConfig):
    """The LLM judge: a chat model, and how its 1-5 scores are read."""

    model: str | None = field(
        default=DEFAULT_JUDGE_MODEL,
        metadata={"help": "local {role} model (default: " + DEFAULT_JUDGE_MODEL + ")"},
    )
    mode: str | None = field(
        default=None,
        metadata={
            "help": "probability: the expected digit under the local model's next-token distribution "
            "(default for a local judge); sample: parse sampled replies (default over HTTP)",
            "choices": JUDGE_MODES,
        },
    )
    samples: int = field(default=1, metadata={"help": "samples per judgement in sample mode"})
