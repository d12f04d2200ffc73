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

from percontrast.utils.errors import ConfigError

PRESETS = ("default", "full", "quick")


@dataclass
class DemoConfig:
    """What `run_demo` does.

    Attributes:
        model: model alias or path (default: the embedded SmolLM2-135M-Instruct).
        out_dir: where the scores, heatmap, results and report go.
        preset: the preset the sizes came from (recorded in the results).
        seeds: training seeds; each seed draws its own training sample and order, the same for every loss.
        train_steps: optimizer steps per training run.
        batch_size: examples per optimizer step.
        learning_rate: AdamW learning rate (full fine-tune, linear decay, no warm-up).
        history: prior messages of the conversation kept in the prompt.
        max_length: longest training / scoring sequence; the persona is truncated to fit.
        n_eval: held-out examples scored by likelihood (reference NLL and PIR).
        n_generate: of those, how many get a generated reply for ROUGE-L and METEOR.
        max_new_tokens: longest generated reply (greedy decoding).
        eval_batch_size: examples per scoring / generation batch.
        identify: run the identification step (step 2).
        identify_limit: use only the first this many bundled items for identification (None: all).
        bootstrap: bootstrap resamples for the intervals.
        keep_models: keep the fine-tuned weights under ``out_dir/runs`` (default: a temporary folder).
        progress: show progress bars.
    """

    model: str = "smollm2-135m-instruct"
    out_dir: str = "percontrast_demo"
    preset: str = "default"
    seeds: tuple[int, ...] = (0,)
    train_steps: int = 12
    batch_size: int = 4
    learning_rate: float = 5e-5
    history: int = 2
    max_length: int = 256
    n_eval: int = 48
    n_generate: int = 16
    max_new_tokens: int = 24
    eval_batch_size: int = 16
    identify: bool = True
    identify_limit: int | None = None
    bootstrap: int = 1000
    keep_models: bool = False
    progress: bool = True
    extra: dict = field(default_factory=dict)

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
