"""`JudgeConfig`: the judge's settings, a `ChatModelConfig` (modeling/config.py) plus how scores are read.

``EvaluateConfig.judge`` (``percontrast evaluate --judge-*``) and ``AloeConfig.judge`` (``percontrast
aloe --judge-*``, with ALOE's defaults) are `JudgeConfig` fields, and the experiment runner's
``judge:`` section is one (``experiments.config.JudgeSettings``); `evaluation.judge.judge_from_config`
builds the `Judge` of every one of them. Kept free of torch so that ``percontrast --help`` stays fast.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from percontrast.modeling.config import ChatModelConfig
from percontrast.utils.errors import ConfigError

JUDGE_MODES = ("probability", "sample")
DEFAULT_JUDGE_MODEL = "smollm2-135m-instruct"


@dataclass
class JudgeConfig(ChatModelConfig):
    """The LLM judge: a chat model, and how its 1-5 scores are read."""

    model: str | None = field(
        default=DEFAULT_JUDGE_MODEL,
        metadata={
            "help": "local {role} model (default: " + DEFAULT_JUDGE_MODEL + "); {flag_prefix}url overrides it"
        },
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

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.mode is not None and self.mode not in JUDGE_MODES:
            raise ConfigError(f"mode must be one of {JUDGE_MODES} or unset, got {self.mode!r}")
        if self.mode == "probability" and self.url:
            raise ConfigError(
                "mode 'probability' reads a local model's digit probabilities; over a url use 'sample'"
            )
        if isinstance(self.samples, bool) or not isinstance(self.samples, int) or self.samples < 1:
            raise ConfigError(f"samples must be an integer >= 1, got {self.samples!r}")
