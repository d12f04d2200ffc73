"""The demo's sizes: how much it trains and evaluates, with three presets.

- ``default``: `percontrast demo`, the README's first command. Sized to finish in about 10 minutes on
  2 CPU cores with SmolLM2-135M-Instruct, first model load included.
- ``full``: `percontrast demo --full`, the same comparison with longer training, more held-out
  examples and three seeds, with intervals over seeds and examples (measured: 65-80 min on 2 CPU cores).
- ``quick``: a seconds-long smoke run for tests (meant for ``--model tiny``); its numbers mean nothing.

Every field is also a command-line flag of `percontrast demo` (``--train-steps 60`` etc.), which
overrides the preset.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace

from percontrast.modeling.config import DEFAULT_MODEL
from percontrast.utils.errors import ConfigError

# name -> (loss, normalization) of the fine-tuned variants, in report order.
VARIANTS: dict[str, tuple[str, str]] = {
    "ce": ("ce", "tokens"),
    "perce_tokens": ("perce", "tokens"),
    "perce_weights": ("perce", "weights"),
}
UNTRAINED = "untrained"
LABELS = {
    UNTRAINED: "untrained",
    "ce": "CE",
    "perce_tokens": "PerCE (÷ tokens, paper)",
    "perce_weights": "PerCE (÷ sum of weights)",
}

PRESETS = ("default", "full", "quick")


@dataclass
class DemoConfig:
    """What `run_demo` does. ``percontrast demo``'s flags are these fields (``preset`` is chosen by
    ``--full`` / ``--quick``); a flag left out keeps the preset's value (`preset_config`)."""

    model: str = field(
        default=DEFAULT_MODEL,
        metadata={"help": "model alias or path (default: {default}; tiny with --quick)"},
    )
    out_dir: str = field(
        default="percontrast_demo",
        metadata={
            "help": "where report.html, heatmap.html, scores.jsonl and comparison.json go (default: {default})"
        },
    )
    preset: str = field(
        default="default", metadata={"help": f"the preset the sizes came from, one of {PRESETS}"}
    )
    seeds: tuple[int, ...] = field(
        default=(0,),
        metadata={
            "help": "training seeds; each draws its own training sample and order, the same for every loss "
            "(default: 0; 0 1 2 with --full)",
            "nargs": "+",
        },
    )
    train_steps: int = field(default=12, metadata={"help": "optimizer steps per training run"})
    batch_size: int = field(default=4, metadata={"help": "examples per optimizer step"})
    learning_rate: float = field(
        default=5e-5, metadata={"help": "AdamW learning rate (full fine-tune, linear decay, no warm-up)"}
    )
    history: int = field(
        default=2, metadata={"help": "prior messages of the conversation kept in the prompt"}
    )
    max_length: int = field(
        default=256, metadata={"help": "longest training / scoring sequence; the persona is truncated to fit"}
    )
    n_eval: int = field(default=48, metadata={"help": "held-out replies scored by likelihood (NLL, PIR)"})
    n_generate: int = field(default=16, metadata={"help": "of those, replies generated for ROUGE-L / METEOR"})
    max_new_tokens: int = field(default=24, metadata={"help": "longest generated reply (greedy decoding)"})
    eval_batch_size: int = field(default=16, metadata={"help": "examples per scoring / generation batch"})
    identify: bool = field(
        default=True, metadata={"help": "skip the identification step", "flag": "--no-identify"}
    )
    identify_limit: int | None = field(
        default=None, metadata={"help": "identify on the first N annotated items only (default: all)"}
    )
    bootstrap: int = field(default=1000, metadata={"help": "bootstrap resamples for the intervals"})
    keep_models: bool = field(
        default=False,
        metadata={"help": "keep the fine-tuned weights under OUT_DIR/runs (default: a temporary folder)"},
    )
    progress: bool = field(default=True, metadata={"help": "no progress bars", "flag": "--no-progress"})

    def __post_init__(self) -> None:
        self.seeds = tuple(int(seed) for seed in self.seeds)
        if not self.seeds:
            raise ConfigError("seeds must name at least one seed")
        if any(seed < 0 for seed in self.seeds) or len(set(self.seeds)) != len(self.seeds):
            # Each seed trains into its own folder: a repeated seed would find its folder taken.
            raise ConfigError(f"seeds must be distinct integers >= 0, got {list(self.seeds)}")
        if self.preset not in PRESETS:
            raise ConfigError(f"preset must be one of {PRESETS}, got {self.preset!r}")
        for name in ("train_steps", "batch_size", "history", "n_eval", "max_new_tokens", "eval_batch_size"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not 0 <= self.n_generate <= self.n_eval:
            raise ConfigError(f"n_generate must be in [0, n_eval={self.n_eval}], got {self.n_generate}")
        if self.max_length < 16:
            raise ConfigError(f"max_length must be >= 16, got {self.max_length}")
        if not math.isfinite(self.learning_rate) or self.learning_rate <= 0:
            raise ConfigError(f"learning_rate must be a finite number > 0, got {self.learning_rate}")
        if self.bootstrap < 0:
            raise ConfigError(f"bootstrap must be >= 0, got {self.bootstrap}")
        if self.identify_limit is not None and self.identify_limit < 1:
            raise ConfigError(f"identify_limit must be >= 1 or unset, got {self.identify_limit}")

    @property
    def n_train(self) -> int:
        """Training examples drawn per seed: one pass of ``train_steps`` batches."""
        return self.train_steps * self.batch_size

    def to_dict(self) -> dict:
        values = asdict(self)
        values["seeds"] = list(self.seeds)
        return values

    @classmethod
    def preset_config(cls, name: str = "default", **overrides) -> DemoConfig:
        """The named preset with ``overrides`` (None values are ignored) applied."""
        if name not in PRESETS:
            raise ConfigError(f"preset must be one of {PRESETS}, got {name!r}")
        base = cls(preset=name)
        if name == "full":
            base = replace(
                base, seeds=(0, 1, 2), train_steps=60, learning_rate=2e-5, n_eval=334, n_generate=64
            )
        elif name == "quick":
            base = replace(
                base,
                model="tiny",
                train_steps=2,
                batch_size=2,
                history=1,
                max_length=768,
                n_eval=6,
                n_generate=3,
                max_new_tokens=4,
                identify_limit=6,
                bootstrap=50,
                progress=False,
            )
        return replace(base, **{key: value for key, value in overrides.items() if value is not None})
