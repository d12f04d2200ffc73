"""Configuration of PerCE training: `PerCEConfig`, a `transformers.TrainingArguments` with our fields.

Every Hugging Face training flag (learning rate, schedule, gradient accumulation, checkpointing,
mixed precision, ...) is inherited; the fields below add the model and data, the loss family of the
paper (Eq. 5 with the weight of Eq. 6, ``w_i = clip(PIR_i, m, M)``, m = 0.8, M = 5) and its baselines, the normalisation,
LoRA, and the probe that logs the most personal tokens of one example during training.

Defaults follow the paper's Appendix B (Table 7) where they differ from Hugging Face's: warmup
ratio 0.04 (``warmup_steps=0.04``: transformers 5 reads a value below 1 as a ratio of the steps) and
a longest sequence of 5000 tokens (clamped to the model's context). The rest of Table 7 is already
Hugging Face's default or one flag away; `docs/training.md` lists each value and its flag.

The PerCE settings themselves (loss kind, m and M, PIR form and source, normalisation, ...) are defined
once, in the dataclass `PerCESettings`, with their validation (`PerCESettings.check_perce_settings`);
`PerCEConfig` and TRL's flavour `percontrast.training.trl.PerCESFTConfig` both inherit it, and
`PerCETrainer`'s loss reads nothing else from its args.

Read from the command line (``percontrast train --help``) or a YAML file (`PerCEConfig.from_yaml`);
unknown keys and bad values are errors naming the field and the allowed values.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml
from transformers import TrainingArguments

from percontrast.scoring.formula import PIR_FORMS
from percontrast.training.options import LOSS_KINDS, WEIGHT_MODES, check_clip_range
from percontrast.utils.errors import ConfigError

# Fields a resume may not change: they decide the loss, the data, the model, the optimizer, the length of
# the learning-rate schedule and the precision. (`PerCEConfig.resume_settings` adds the data's sha256.)
RESUME_SETTINGS = (
    "model",
    "data",
    "loss",
    "clip_min",
    "clip_max",
    "pir_form",
    "weight_mode",
    "hard_fraction",
    "normalization",
    "pir_pass_mode",
    "pir_source",
    "template",
    "max_length",
    "add_eos",
    "use_lora",
    "lora_r",
    "lora_alpha",
    "lora_dropout",
    "lora_target_modules",
    "learning_rate",
    "lr_scheduler_type",
    "lr_scheduler_kwargs",
    "warmup_steps",
    "max_steps",
    "num_train_epochs",
    "weight_decay",
    "adam_beta1",
    "adam_beta2",
    "adam_epsilon",
    "max_grad_norm",
    "optim",
    "per_device_train_batch_size",
    "gradient_accumulation_steps",
    "seed",
    "bf16",
    "fp16",
)
# The resume settings that fix the length of the learning-rate schedule (a resume that changed one would
# restart the schedule on the trained weights).
SCHEDULE_SETTINGS = (
    "lr_scheduler_type",
    "lr_scheduler_kwargs",
    "warmup_steps",
    "max_steps",
    "num_train_epochs",
)
NORMALIZATIONS = ("tokens", "weights", "responses")
PADDING_SIDES = ("right", "left")
PIR_PASS_MODES = ("train", "eval")
PIR_SOURCES = ("online", "frozen")
PAPER_WARMUP_RATIO = 0.04  # Appendix B, Table 7
PAPER_MAX_LENGTH = 5000  # Appendix B, Table 7


@dataclass
class PerCESettings:
    """PerCE's settings: the loss family, its weights and normalisation, and how its log-probs are computed.

    Everything `PerCETrainer`'s loss (`percontrast.training.trainer.PerCELossMixin`) reads from its args. A mixin of
    `transformers.TrainingArguments` subclasses: `PerCEConfig` (``percontrast train``) and
    `percontrast.training.trl.PerCESFTConfig` (TRL's `SFTConfig`) inherit these fields, defaults and checks.
    """

    loss: str = field(
        default="perce",
        metadata={
            "help": f"Loss kind, one of {LOSS_KINDS}: ce (plain), perce (PIR weights, the paper), lossce, entce."
        },
    )
    clip_min: float = field(
        default=0.8, metadata={"help": "m of the paper: lower clip of the token weights."}
    )
    clip_max: float = field(
        default=5.0, metadata={"help": "M of the paper: upper clip of the token weights."}
    )
    pir_form: str = field(
        default="log",
        metadata={
            "help": f"PIR form for perce, one of {PIR_FORMS}: log (Eq. 2, default) or ratio (exp of it)."
        },
    )
    weight_mode: str | None = field(
        default=None,
        metadata={
            "help": f"For lossce/entce, one of {WEIGHT_MODES}: soft (default for both: clip(score / the "
            "response's mean score, m, M), the same clipping as perce) or hard (keep the top hard_fraction "
            "of each response's tokens, as the cited works select tokens)."
        },
    )
    hard_fraction: float | None = field(
        default=None,
        metadata={
            "help": "Share of each response's tokens kept in hard mode, in (0, 1]; default: lossce 0.6 "
            "(ours; Rho-1's top-k share is a hyper-parameter), entce 0.2 (the 80/20 paper's)."
        },
    )
    normalization: str = field(
        default="tokens",
        metadata={
            "help": f"One of {NORMALIZATIONS}. tokens: the weighted sum over the step's response tokens "
            "divided by their global count (1/n over all tokens of the step, as transformers does for CE). "
            "weights: divided by the step's global sum of the weights (removes the change of effective "
            "learning rate that the weights bring). responses: Eq. 5 read literally, the weighted mean "
            "over each response's own tokens, then the mean over the step's responses (each response "
            "counts the same whatever its length). All three are exact under gradient accumulation and DDP."
        },
    )
    pir_pass_mode: str = field(
        default="train",
        metadata={
            "help": f"Mode of the persona-free (PIR) pass, one of {PIR_PASS_MODES}; matters only when the "
            "model or the adapters have active dropout (a warning says so). train: the same mode as the "
            "trained pass, so both log-probs of the PIR carry dropout noise. eval: the persona-free pass "
            "without dropout, compared with the trained pass's dropped-out log-prob."
        },
    )
    pir_source: str = field(
        default="online",
        metadata={
            "help": f"Where PerCE's PIR comes from, one of {PIR_SOURCES}. online (the paper): the model being "
            "trained, at every step (one extra no-grad forward per step). frozen (not in the paper): the "
            "starting model, computed once before the first step for the training examples the run draws (all of "
            "them when it trains an epoch or more), so a step costs what a CE step costs."
        },
    )
    frozen_pir_cache: str | None = field(
        default=None,
        metadata={
            "help": "pir_source=frozen: a file to read the starting model's PIR from (when it covers this data "
            "and model) or to write it to, so runs from the same starting model share one scoring."
        },
    )
    padding_side: str = field(
        default="right", metadata={"help": f"Padding side of batches, one of {PADDING_SIDES}."}
    )
    logprob_chunk_size: int = field(
        default=512, metadata={"help": "Response positions projected to the vocabulary at a time."}
    )

    def check_perce_settings(self) -> None:
        """Check the fields above; errors name the field and the allowed values."""

        def check_choice(name: str, allowed: tuple[str, ...]) -> None:
            if getattr(self, name) not in allowed:
                raise ConfigError(f"{name} must be one of {allowed}, got {getattr(self, name)!r}")

        check_choice("loss", LOSS_KINDS)
        check_choice("pir_form", PIR_FORMS)
        check_choice("normalization", NORMALIZATIONS)
        check_choice("padding_side", PADDING_SIDES)
        check_choice("pir_pass_mode", PIR_PASS_MODES)
        check_choice("pir_source", PIR_SOURCES)
        if self.pir_source == "frozen" and self.loss != "perce":
            raise ConfigError(
                f"pir_source='frozen' is a PerCE option; loss is {self.loss!r} (use loss: perce)"
            )
        if self.frozen_pir_cache is not None and self.pir_source != "frozen":
            raise ConfigError(
                f"frozen_pir_cache is read only with pir_source='frozen' (loss {self.loss!r}, pir_source "
                f"{self.pir_source!r}); drop --frozen_pir_cache or add --pir_source frozen"
            )
        if self.weight_mode is not None:
            check_choice("weight_mode", WEIGHT_MODES)
        check_clip_range(self.clip_min, self.clip_max)
        if self.hard_fraction is not None and not 0.0 < self.hard_fraction <= 1.0:
            raise ConfigError(f"hard_fraction must be in (0, 1], got {self.hard_fraction}")
        if self.logprob_chunk_size < 1:
            raise ConfigError(f"logprob_chunk_size must be a positive integer, got {self.logprob_chunk_size}")
        if not self.average_tokens_across_devices:  # a TrainingArguments field
            # Without the global count, each process divides by its own count and DDP averages the
            # per-process means: not the loss of the step (invariant 5).
            raise ConfigError(
                "average_tokens_across_devices must be True (allowed: True): PerCE normalises by the global "
                "count of response tokens of the step"
            )


@dataclass
class PerCEConfig(PerCESettings, TrainingArguments):
    """Training arguments of `percontrast train` (TrainingArguments, `PerCESettings` and the fields below)."""

    model: str = field(
        default="smollm2-135m-instruct",
        metadata={"help": "Model: an alias (smollm2-135m-instruct, tiny), a local directory or a hub id."},
    )
    data: str | None = field(
        default=None,
        metadata={"help": "Training examples, JSONL of {id, persona, query, response} (required)."},
    )
    template: str | None = field(
        default=None,
        metadata={
            "help": "Prompt template name. Default: each example's own template (the `template` field that "
            "`percontrast data` writes), else persona_chat. A name that contradicts an example's is an error."
        },
    )
    max_length: int | None = field(
        default=PAPER_MAX_LENGTH,
        metadata={
            "help": "Longest sequence (prompt with persona + response); the persona is truncated to fit. "
            "Examples whose query + response do not fit, or whose persona is truncated away entirely, are "
            "skipped and listed. Default 5000 (the paper's), clamped to the model's context; unset: the "
            "model's context."
        },
    )
    add_eos: bool = field(
        default=True, metadata={"help": "Append EOS to each response so the model learns to stop."}
    )
    use_lora: bool = field(
        default=False, metadata={"help": "Train LoRA adapters (peft) instead of all weights."}
    )
    lora_r: int = field(default=16, metadata={"help": "LoRA rank."})
    lora_alpha: int = field(default=32, metadata={"help": "LoRA alpha (scaling = alpha / r)."})
    lora_dropout: float = field(default=0.0, metadata={"help": "LoRA dropout."})
    lora_target_modules: list[str] = field(
        default_factory=lambda: ["all-linear"],
        metadata={"help": "Modules that get adapters: names such as q_proj v_proj, or all-linear."},
    )
    probe_steps: int = field(
        default=50,
        metadata={
            "help": "Every this many optimizer steps, log the top personal tokens of the probe (0: off)."
        },
    )
    probe_example: str | None = field(
        default=None,
        metadata={"help": "Id of the probe example in the training data (default: the first one)."},
    )
    probe_top_k: int = field(default=5, metadata={"help": "How many top-PIR tokens of the probe to log."})
    warmup_steps: float = field(
        default=PAPER_WARMUP_RATIO,
        metadata={
            "help": "Linear warmup: a number of steps if >= 1, else a ratio of the training steps. Default "
            "0.04, the paper's warmup ratio (transformers' own default is 0)."
        },
    )
    overwrite_output_dir: bool = field(
        default=False,
        metadata={"help": "Write over a non-empty output_dir (refused otherwise, unless resuming)."},
    )
    report_to: None | str | list[str] = field(
        default="auto",
        metadata={
            "help": "Logging integrations (as in transformers); auto: tensorboard when installed, else none."
        },
    )

    def __post_init__(self) -> None:
        # Our collator emits columns the model does not take; Trainer must not drop them.
        self.remove_unused_columns = False
        if self.report_to == "auto" or self.report_to == ["auto"]:
            self.report_to = "tensorboard" if importlib.util.find_spec("tensorboard") is not None else "none"
        self._check_numbers()  # before transformers reads them: nan would fail deep inside
        self._check_precision()  # transformers' own check is a ValueError traceback
        super().__post_init__()
        self.validate()

    def check_values(self) -> None:
        """Our checks of the values alone (`validate`, the numbers and the precision), without
        transformers' set-up."""
        self._check_numbers()
        self._check_precision()
        self.validate()

    def _check_precision(self) -> None:
        if self.bf16 and self.fp16:
            raise ConfigError(
                "bf16 and fp16 are both set: choose one mixed precision (bf16 on CPU and recent GPUs, fp16 "
                "on a CUDA GPU without bfloat16), or neither for float32"
            )

    def _check_numbers(self) -> None:
        if not math.isfinite(self.learning_rate) or self.learning_rate < 0:
            raise ConfigError(f"learning_rate must be a finite number >= 0, got {self.learning_rate}")
        if not math.isfinite(self.num_train_epochs) or self.num_train_epochs <= 0:
            raise ConfigError(
                f"num_train_epochs must be a positive finite number (it is used when max_steps is -1), "
                f"got {self.num_train_epochs}"
            )

    def resume_settings(self) -> dict[str, Any]:
        """The values that decide what is trained: a resumed run must keep them (`prepare_run_dir`).

        `RESUME_SETTINGS` (the length of the schedule and the precision among them; ``num_train_epochs``
        only when it sets the length, i.e. without ``max_steps``) and ``data_sha256``, a sha256 of the
        training data file (`utils.files.file_fingerprint`, as ``generate`` records), so data edited in place
        is noticed. Logging, saving and devices may change.
        """
        from percontrast.utils.files import file_fingerprint

        values = {}
        for name in RESUME_SETTINGS:
            value = getattr(self, name)
            if name in ("model", "data") and value is not None and Path(value).expanduser().exists():
                value = str(Path(value).expanduser().resolve())
            values[name] = getattr(value, "value", value)  # enums (optim, lr_scheduler_type) by value
        if self.max_steps > 0:
            values["num_train_epochs"] = None  # transformers reads it only when max_steps is -1
        data = Path(self.data).expanduser() if self.data is not None else None
        values["data_sha256"] = file_fingerprint([data], full=True) if data and data.is_file() else None
        return values

    def validate(self) -> None:
        """Check our fields (`check_perce_settings` first); errors name the field and the allowed values."""
        self.check_perce_settings()
        for name in ("lora_r", "lora_alpha", "probe_top_k"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be a positive integer, got {getattr(self, name)}")
        if self.probe_steps < 0:
            raise ConfigError(f"probe_steps must be >= 0 (0 turns the probe off), got {self.probe_steps}")
        for name in (
            "per_device_train_batch_size",
            "per_device_eval_batch_size",
            "gradient_accumulation_steps",
        ):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be a positive integer, got {getattr(self, name)}")
        if self.max_steps == 0 or self.max_steps < -1:
            raise ConfigError(
                f"max_steps must be a positive number of optimizer steps, or -1 to train for num_train_epochs; "
                f"got {self.max_steps}"
            )
        if self.max_length is not None and self.max_length < 2:
            raise ConfigError(f"max_length must be >= 2 or unset, got {self.max_length}")
        if not 0.0 <= self.lora_dropout < 1.0:
            raise ConfigError(f"lora_dropout must be in [0, 1), got {self.lora_dropout}")

    @classmethod
    def from_yaml(cls, path: str | Path, **overrides: Any) -> PerCEConfig:
        """Read a config from YAML; ``overrides`` win over the file. Unknown keys are an error."""
        values = load_yaml_values(path)
        values.update(overrides)
        return cls(**values)


def config_field_names() -> set[str]:
    """Every field a config accepts (ours and TrainingArguments')."""
    return {item.name for item in fields(PerCEConfig) if item.init}


def check_value_types(parser: argparse.ArgumentParser, values: dict, path: str) -> None:
    """Convert-check each YAML value with its flag's type, so a bad value names the file and key.

    ``parser`` is `percontrast.commands.train.build_parser()` (or any parser over `PerCEConfig`);
    ``path`` names where the values come from. argparse would convert a string default itself and
    blame the command-line flag, which the user never passed.
    """
    actions = {action.dest: action for action in parser._actions}
    for key, value in values.items():
        action = actions.get(key)
        if action is None or value is None or action.nargs not in (None, "?"):
            continue
        kind = action.type
        try:
            if isinstance(value, str) and callable(kind):
                converted = kind(value)
            elif kind in (int, float) and (isinstance(value, bool) or not isinstance(value, (int, float))):
                raise TypeError
            elif kind is int and isinstance(value, float) and not value.is_integer():
                raise TypeError
            elif isinstance(value, (list, dict)):
                raise TypeError
            else:
                converted = value
        except (TypeError, ValueError, argparse.ArgumentTypeError):
            expected = getattr(kind, "__name__", "a value of the flag's type")
            expected = "boolean (true or false)" if expected == "string_to_bool" else expected
            raise ConfigError(f"{path}: key {key!r}: {value!r} is not a valid {expected}") from None
        if action.choices is not None and converted not in action.choices:
            raise ConfigError(f"{path}: key {key!r}: {value!r} is not one of {list(action.choices)}")


def load_yaml_values(path: str | Path) -> dict[str, Any]:
    """The mapping in a YAML config file, checked against the known fields."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"config file {path} does not exist")
    if path.is_dir():
        raise ConfigError(f"config file {path} is a directory; give the YAML file")
    try:
        values = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{where}: not valid YAML: {problem}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text; save the YAML file as UTF-8") from None
    if not isinstance(values, dict):
        raise ConfigError(f"{path}: expected a mapping of field: value, got {type(values).__name__}")
    unknown = sorted(set(values) - config_field_names())
    if unknown:
        raise ConfigError(
            f"{path}: unknown config keys {unknown}; see `percontrast train --help` for the allowed fields"
        )
    return values
