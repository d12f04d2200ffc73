"""`JudgeConfig`: the judge's settings, a `ChatModelConfig` (modeling/config.py) plus how scores are read.

A chat model is a local model or an OpenAI-compatible server. ``percontrast evaluate`` builds its
``--judge-*`` flags from `JudgeConfig`, ``percontrast aloe`` its ``--judge-*`` and ``--simulator-*``
flags from `JudgeConfig` and `ChatModelConfig` (with ALOE's defaults, from `AloeConfig`), and the
experiment runner's ``judge:`` section takes its defaults from here. The help texts name the role
and the flag prefix (``{role}``, ``{prefix}``) and, where they say it, the default (``{default}``).
Kept free of torch so that ``percontrast --help`` stays fast.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from percontrast.modeling.config import ChatModelConfig

JUDGE_MODES = ("probability", "sample")
DEFAULT_JUDGE_MODEL = "smollm2-135m-instruct"


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
