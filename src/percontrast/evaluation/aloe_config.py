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

from dataclasses import dataclass, field
from typing import Any

from percontrast.evaluation.judge_config import JudgeConfig
from percontrast.modeling.config import ChatModelConfig
from percontrast.utils.errors import ConfigError

# ALOE's call_gpt (eval_own.py lines 25-32): the official simulator and judge.
ALOE_API_MODEL = "gpt-4o-mini-2024-07-18"
ALOE_API_URL = "https://api.openai.com/v1"
ALOE_MAX_TOKENS = 300
ALOE_TEMPERATURE = 1.0  # not set in call_gpt: the API's default


def aloe_simulator() -> ChatModelConfig:
    """ALOE's user simulator: ``gpt-4o-mini`` over HTTP (when a url is given), 300 tokens, temperature
    1.0; no model of its own (the judge's backend plays it)."""
    return ChatModelConfig(api_model=ALOE_API_MODEL, temperature=ALOE_TEMPERATURE, max_tokens=ALOE_MAX_TOKENS)


def aloe_judge() -> JudgeConfig:
    """ALOE's judge: ``gpt-4o-mini`` over HTTP (when a url is given), 300 tokens, temperature 1.0, one
    reply per turn; `JudgeConfig`'s local model otherwise."""
    return JudgeConfig(api_model=ALOE_API_MODEL, temperature=ALOE_TEMPERATURE, max_tokens=ALOE_MAX_TOKENS)


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
    simulator: ChatModelConfig = field(
        default_factory=aloe_simulator,
        metadata={
            "help": "the user simulator (ALOE: 300 tokens, temperature 1.0); no model of its own: the judge's",
            "prefix": "simulator",
            "role": "user simulator",
        },
    )
    judge: JudgeConfig = field(
        default_factory=aloe_judge,
        metadata={
            "help": "the judge (ALOE: 300 tokens, temperature 1.0, one reply parsed with int())",
            "prefix": "judge",
        },
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
        for name in ("n_personalities", "n_turns", "max_new_tokens", "chunk_size"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.n_profiles is not None and self.n_profiles < 1:
            raise ConfigError(f"n_profiles must be >= 1 (or None: all), got {self.n_profiles}")
        for name, kind in (("simulator", ChatModelConfig), ("judge", JudgeConfig)):
            if not isinstance(getattr(self, name), kind):
                raise ConfigError(f"{name} must be a {kind.__name__}, got {getattr(self, name)!r}")
        if self.average_from is None:
            self.average_from = min(6, self.n_turns)
        if not 1 <= self.average_from <= self.n_turns:
            raise ConfigError(f"average_from must be in 1..n_turns={self.n_turns}, got {self.average_from}")

    def protocol_settings(self) -> dict[str, Any]:
        """How the simulator and the judge are asked, under the names of the settings records written
        before the roles were nested (`FLAT_KEYS`), so those runs still resume."""
        return {key: getattr(getattr(self, role), name) for key, (role, name) in FLAT_KEYS.items()}


# The flat spellings of the simulator's and the judge's settings, as the `aloe:` section of an experiment
# config (configs/cpu/tiny_all_tables.yaml) and the settings records of earlier runs write them: still read
# (`nest_flat_keys`), each the same setting as the nested one (``simulator: {max_tokens: 4}``).
FLAT_KEYS = {
    "simulator_max_new_tokens": ("simulator", "max_tokens"),
    "simulator_temperature": ("simulator", "temperature"),
    "judge_max_new_tokens": ("judge", "max_tokens"),
    "judge_temperature": ("judge", "temperature"),
    "judge_mode": ("judge", "mode"),
    "judge_samples": ("judge", "samples"),
}


def nest_flat_keys(values: dict[str, Any]) -> dict[str, Any]:
    """An ``aloe:`` mapping with its flat keys (`FLAT_KEYS`) moved into the ``simulator`` and ``judge``
    mappings; a key given both ways is refused."""
    values = dict(values)
    for key, (role, name) in FLAT_KEYS.items():
        if key not in values:
            continue
        nested = values.get(role)
        nested = {} if nested is None else dict(nested) if isinstance(nested, dict) else nested
        if not isinstance(nested, dict):
            continue  # the role's own check names it
        if name in nested:
            raise ConfigError(f"{key} and {role}.{name} are one setting: give it once")
        nested[name] = values.pop(key)
        values[role] = nested
    return values
