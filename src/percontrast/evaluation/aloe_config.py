"""`AloeConfig`: the one definition of an ALOE run's settings (the paper's Tables 4 and 9).

``percontrast aloe`` builds its flags from these fields (defaults and help text), and the ``aloe:``
section of an experiment config is this dataclass, so the CLI and the experiment runner cannot drift
apart. Kept free of torch so that loading an experiment config stays cheap.

The defaults are ALOE's ``evaluation/eval_own.py`` (github.com/ShujinWu-0814/ALOE @ d5015c5): the
simulator and judge are ``gpt-4o-mini-2024-07-18`` called by ``call_gpt`` (lines 25-32) with
``max_tokens=300`` and no temperature (the API default, 1.0); 5 personalities per profile (lines
90-91), 10 rounds (line 94). The model under test samples with the paper's inference settings
(Appendix B: temperature 0.4, 512 new tokens).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from percontrast.evaluation.judge_config import JUDGE_MODES, JudgeConfig
from percontrast.utils.errors import ConfigError

# ALOE's call_gpt (eval_own.py lines 25-32): the official simulator and judge.
ALOE_API_MODEL = "gpt-4o-mini-2024-07-18"
ALOE_API_URL = "https://api.openai.com/v1"
ALOE_MAX_TOKENS = 300
ALOE_TEMPERATURE = 1.0  # not set in call_gpt: the API's default


@dataclass
class AloeConfig:
    """ALOE settings (defaults: the official run, with the paper's inference settings for the model)."""

    profiles: str | None = field(
        default=None, metadata={"help": "ALOE profile_eval.jsonl (a JSON string per line)"}
    )
    personalities: str | None = field(
        default=None, metadata={"help": "ALOE personality_eval.jsonl (a JSON string per line)"}
    )
    n_profiles: int | None = field(
        default=None, metadata={"help": "profiles used, the first ones (default: all, as ALOE)"}
    )
    n_personalities: int = field(
        default=5, metadata={"help": "personalities used, the first ones (ALOE: 5, eval_own.py 90-91)"}
    )
    n_turns: int = field(
        default=10, metadata={"help": "rounds per conversation (ALOE: 10)", "flag": "--turns"}
    )
    max_new_tokens: int = field(
        default=512, metadata={"help": "reply length of the model under test (paper, Appendix B: 512)"}
    )
    temperature: float = field(
        default=0.4,
        metadata={"help": "sampling temperature of the model under test (paper: 0.4; 0: greedy)"},
    )
    simulator_max_new_tokens: int = field(
        default=ALOE_MAX_TOKENS, metadata={"help": "length of the simulated user's messages (ALOE: 300)"}
    )
    simulator_temperature: float = field(
        default=ALOE_TEMPERATURE, metadata={"help": "sampling temperature of the user simulator (ALOE: 1.0)"}
    )
    judge_max_new_tokens: int = field(
        default=ALOE_MAX_TOKENS, metadata={"help": "length of the judge's replies (ALOE: 300)"}
    )
    judge_temperature: float = field(
        default=ALOE_TEMPERATURE, metadata={"help": "sampling temperature of the judge (ALOE: 1.0)"}
    )
    judge_mode: str | None = field(
        default=None,
        metadata={
            "help": "probability (local judge: expected digit) or sample (parse the reply with int(), "
            "as ALOE); default: probability for a local judge, sample over HTTP"
        },
    )
    judge_samples: int = field(
        default=JudgeConfig.samples, metadata={"help": "judge replies per turn in sample mode (ALOE: 1)"}
    )
    seed: int = field(default=0, metadata={"help": "base seed (the runner uses the cell's seed)"})
    average_from: int | None = field(
        default=None,
        metadata={"help": "first turn of the reported average AL(k..n_turns) (default: 6, the paper's)"},
    )
    chunk_size: int = field(
        default=10,
        metadata={
            "help": "conversations run in lock-step at a time; each finished one is saved at once and a "
            "rerun resumes after it"
        },
    )

    def __post_init__(self) -> None:
        positive = ("n_personalities", "n_turns", "max_new_tokens", "simulator_max_new_tokens")
        for name in (*positive, "judge_max_new_tokens", "judge_samples", "chunk_size"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.n_profiles is not None and self.n_profiles < 1:
            raise ConfigError(f"n_profiles must be >= 1 (or None: all), got {self.n_profiles}")
        if self.judge_mode is not None and self.judge_mode not in JUDGE_MODES:
            raise ConfigError(f"judge_mode must be one of {JUDGE_MODES} or unset, got {self.judge_mode!r}")
        if self.average_from is None:
            self.average_from = min(6, self.n_turns)
        if not 1 <= self.average_from <= self.n_turns:
            raise ConfigError(f"average_from must be in 1..n_turns={self.n_turns}, got {self.average_from}")


def aloe_default(name: str):
    """The default of an `AloeConfig` field (what a CLI flag defaults to)."""
    return next(item.default for item in fields(AloeConfig) if item.name == name)
