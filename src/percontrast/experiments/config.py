"""`ExperimentConfig`: one YAML file describing a grid of PerCE experiments (``percontrast experiment``).

A config names the grid (models x losses x source tasks x learning rates x clips x seeds), the tasks
(where their train/test data come from), the training settings shared by every cell (any
`PerCEConfig` field), decoding, the evaluations (in-domain, cross-task, ALOE, judge, general QA) and
how a cell is launched (one process, ``torchrun`` or ``accelerate launch``). Every section is a
dataclass with help text and validation; unknown keys anywhere are an error naming the file and key.

    from percontrast.experiments.config import load_experiment_config
    config = load_experiment_config("configs/cpu/smollm2_spc.yaml")
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import re
import types
import typing
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from percontrast.data.config import DataConfig
from percontrast.evaluation.aloe_config import AloeConfig, aloe_judge, aloe_simulator, nest_flat_keys
from percontrast.evaluation.judge_config import JudgeConfig
from percontrast.generation.config import DecodingConfig, SamplingConfig
from percontrast.training.options import check_clip_range
from percontrast.utils.errors import ConfigError

# perce_frozen: PerCE with pir_source='frozen' (weights from the starting model, an ablation; not the paper's).
LOSSES = ("ce", "lossce", "entce", "perce", "perce_frozen")
TASK_SOURCES = ("persona_chat", "lamp", "longlamp")
LAUNCH_MODES = ("single", "torchrun", "accelerate")
# PerCEConfig fields a cell sets itself: the grid's axes and the cell's paths.
CELL_FIELDS = ("model", "data", "loss", "learning_rate", "clip_min", "clip_max", "seed", "output_dir")


def check_learning_rates(values: Any, where: str) -> list[float]:
    """A non-empty list of finite learning rates > 0, each once, as floats; else an error naming ``where``."""
    if not isinstance(values, list) or not values:
        raise ConfigError(f"{where} must be a non-empty list of learning rates, got {values!r}")
    if not all(isinstance(lr, int | float) and not isinstance(lr, bool) for lr in values):
        raise ConfigError(f"{where} must be numbers, got {values!r}")
    rates = [float(lr) for lr in values]
    if not all(math.isfinite(lr) and lr > 0 for lr in rates):
        raise ConfigError(f"{where} must be finite and > 0, got {rates}")
    repeated = sorted({repr(lr) for lr in rates if rates.count(lr) > 1})
    if repeated:
        raise ConfigError(f"{where}: {', '.join(repeated)} given more than once")
    return rates


@dataclass
class TaskConfig:
    """Where one task's training and test examples come from."""

    source: str = field(metadata={"help": f"one of {TASK_SOURCES}"})
    task: str | None = field(
        default=None, metadata={"help": "benchmark task: LaMP_4, product_review, ... (not persona_chat)"}
    )
    label: str | None = field(default=None, metadata={"help": "column name in reports (default: the key)"})
    train_input: str | None = field(
        default=None,
        metadata={
            "help": "LaMP questions / LongLaMP rows file; persona_chat: a conversations JSONL to train on "
            "(with test_input; default: the bundled 100 conversations, split by conversation)"
        },
    )
    train_outputs: str | None = field(default=None, metadata={"help": "LaMP outputs file of train_input"})
    test_input: str | None = field(default=None, metadata={"help": "held-out questions / rows file"})
    test_outputs: str | None = field(default=None, metadata={"help": "LaMP outputs file of test_input"})
    hub_config: str | None = field(
        default=None, metadata={"help": "LongLaMP hub config when no input file is given"}
    )
    train_split: str = field(default="train", metadata={"help": "LongLaMP hub split for training"})
    test_split: str = field(
        default=DataConfig.split,
        metadata={
            "help": "LongLaMP hub split for testing (the paper's 500 test examples; as `percontrast data`)"
        },
    )
    train_sample: int | None = field(default=None, metadata={"help": "seeded sample of N training examples"})
    test_sample: int | None = field(default=None, metadata={"help": "seeded sample of N test examples"})
    retriever: str = field(
        default=DataConfig.retriever,
        metadata={
            "help": "profile retriever (contriever: the paper's and `percontrast data`'s default; bm25, ...)"
        },
    )
    dense_model: str | None = field(
        default=DataConfig.dense_model,
        metadata={
            "help": "a local copy of Contriever (retriever: contriever), or the encoder of retriever: dense"
        },
    )
    k: int = field(default=DataConfig.k, metadata={"help": "profile items per example (paper: 4)"})
    max_length: int | None = field(
        default=DataConfig.max_length,
        metadata={"help": "truncate personas so prompt + response fit (paper: 5000)"},
    )
    data_seed: int = field(
        default=DataConfig.seed, metadata={"help": "seed of the samples (shared by every cell)"}
    )
    history: int = field(default=6, metadata={"help": "persona_chat: messages of history in the query"})
    learning_rates: list[float] | None = field(
        default=None,
        metadata={"help": "this task's learning rates, instead of grid.learning_rates (e.g. Table 12)"},
    )

    def __post_init__(self) -> None:
        if self.source not in TASK_SOURCES:
            raise ConfigError(f"source must be one of {TASK_SOURCES}, got {self.source!r}")
        if self.source != "persona_chat" and not self.task:
            raise ConfigError(f"a {self.source} task needs `task` (e.g. LaMP_4, product_review)")
        if self.source == "persona_chat" and bool(self.train_input) != bool(self.test_input):
            raise ConfigError(
                "a persona_chat task takes both train_input and test_input (conversation files) or neither"
            )
        if self.source == "lamp" and not (self.train_input and self.test_input):
            raise ConfigError("a lamp task needs train_input and test_input (questions files)")
        for name in ("train_sample", "test_sample"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1 or unset, got {getattr(self, name)}")
        if self.history < 1:
            raise ConfigError(f"history must be >= 1, got {self.history}")
        if self.k < 1:
            raise ConfigError(f"k must be >= 1, got {self.k}")
        if self.learning_rates is not None:
            self.learning_rates = check_learning_rates(self.learning_rates, "learning_rates")

    def data_config(self, part: str) -> DataConfig:
        """The `DataConfig` of this task's ``train`` or ``test`` examples (a lamp or longlamp source)."""
        return DataConfig(
            benchmark=self.source,
            task=self.task,
            input=getattr(self, f"{part}_input"),
            outputs=getattr(self, f"{part}_outputs"),
            hub_config=self.hub_config,
            split=getattr(self, f"{part}_split"),
            retriever=self.retriever,
            dense_model=self.dense_model,
            k=self.k,
            max_length=self.max_length,
            sample=getattr(self, f"{part}_sample"),
            seed=self.data_seed,
        )


# TaskConfig fields a persona_chat task never reads (it reads conversation files, not a benchmark with a
# retrieved profile): a change to them, or to their defaults, leaves its data as it was.
PERSONA_CHAT_UNUSED = (
    "task",
    "train_outputs",
    "test_outputs",
    "hub_config",
    "train_split",
    "test_split",
    "retriever",
    "dense_model",
    "k",
    "max_length",
)
# TaskConfig fields that change no example: a report's column name, which cells exist.
NOT_DATA = ("label", "learning_rates")


def task_data_settings(task: dict[str, Any]) -> dict[str, Any]:
    """The settings that decide a task's examples, from a `TaskConfig` as a dict (``to_dict()``, or a run
    record's): without `NOT_DATA`, and for a persona_chat task without `PERSONA_CHAT_UNUSED`."""
    unused = NOT_DATA + (PERSONA_CHAT_UNUSED if task.get("source") == "persona_chat" else ())
    return {key: value for key, value in task.items() if key not in unused}


@dataclass
class GridConfig:
    """The axes of the grid; every combination is one cell."""

    models: list[str] = field(metadata={"help": "model aliases, directories or hub ids"})
    losses: list[str] = field(metadata={"help": f"subset of {LOSSES}"})
    tasks: list[str] = field(metadata={"help": "source tasks (keys of `tasks`)"})
    learning_rates: list[float] = field(metadata={"help": "peak learning rates"})
    seeds: list[int] = field(default_factory=lambda: [0], metadata={"help": "training / sampling seeds"})
    clips: list[list[float]] = field(
        default_factory=lambda: [[0.8, 5.0]],
        metadata={"help": "[m, M] pairs for perce (other losses ignore the clip and run once)"},
    )
    learning_rates_by_loss: dict[str, list[float]] = field(
        default_factory=dict,
        metadata={
            "help": "loss -> the learning rates it runs at instead of learning_rates (e.g. an ablation at one)"
        },
    )

    def __post_init__(self) -> None:
        for name in ("models", "losses", "tasks", "learning_rates", "seeds", "clips"):
            if not isinstance(getattr(self, name), list) or not getattr(self, name):
                raise ConfigError(f"grid.{name} must be a non-empty list, got {getattr(self, name)!r}")
        bad = [loss for loss in self.losses if loss not in LOSSES]
        if bad:
            raise ConfigError(f"grid.losses: unknown {bad}; allowed: {LOSSES}")
        self.learning_rates = check_learning_rates(self.learning_rates, "grid.learning_rates")
        if not all(isinstance(seed, int) and not isinstance(seed, bool) and seed >= 0 for seed in self.seeds):
            raise ConfigError(f"grid.seeds must be integers >= 0, got {self.seeds!r}")
        for clip in self.clips:
            numbers = isinstance(clip, list | tuple) and all(
                isinstance(v, int | float) and not isinstance(v, bool) for v in clip
            )
            if not (numbers and len(clip) == 2):
                raise ConfigError(f"grid.clips: each entry must be [m, M] (two numbers), got {clip!r}")
            try:
                check_clip_range(float(clip[0]), float(clip[1]))
            except ConfigError as exc:
                raise ConfigError(
                    f"grid.clips: each entry must be [m, M] with 0 < m <= M; {clip!r}: {exc}"
                ) from None
        self.clips = [[float(m), float(big_m)] for m, big_m in self.clips]
        for name in ("models", "losses", "tasks", "learning_rates", "seeds", "clips"):
            values = [repr(v) for v in getattr(self, name)]
            repeated = sorted({v for v in values if values.count(v) > 1})
            if repeated:
                # Two equal cells would share an id: two runs writing `ok` and `failed` for one cell.
                raise ConfigError(f"grid.{name}: {', '.join(repeated)} given more than once")
        if not isinstance(self.learning_rates_by_loss, dict):
            raise ConfigError(
                f"grid.learning_rates_by_loss must be a mapping loss -> [lr, ...], got {self.learning_rates_by_loss!r}"
            )
        for loss, rates in self.learning_rates_by_loss.items():
            if loss not in self.losses:
                raise ConfigError(
                    f"grid.learning_rates_by_loss: {loss!r} is not one of grid.losses {self.losses}"
                )
            check_learning_rates(rates, f"grid.learning_rates_by_loss.{loss}")
        self.learning_rates_by_loss = {
            k: [float(lr) for lr in v] for k, v in self.learning_rates_by_loss.items()
        }


@dataclass
class GenerationSettings(SamplingConfig):
    """Decoding of every cell's test predictions (paper: temperature 0.4, 512 new tokens): `SamplingConfig`
    (``max_new_tokens``, ``temperature``, ``greedy``: their definitions, defaults and checks), sampled with
    the cell's seed, plus `DecodingConfig`'s ``batch_size`` and ``backend`` and which examples to use."""

    seed: int = field(default=SamplingConfig.seed, init=False, metadata={"help": "the cell's seed"})
    batch_size: int = field(
        default=DecodingConfig.batch_size, metadata={"help": "examples per generate call"}
    )
    backend: str = field(default=DecodingConfig.backend, metadata={"help": "transformers or vllm"})
    limit: int | None = field(
        default=None,
        metadata={
            "help": "generate (and score ROUGE / METEOR) for the first N test examples only; null: all. "
            "Likelihood evaluations (token_groups) still use every test example"
        },
    )

    def decoding_config(self, seed: int) -> DecodingConfig:
        """The `DecodingConfig` of a cell's predictions, sampled with the cell's seed."""
        sampling = {item.name: getattr(self, item.name) for item in dataclasses.fields(SamplingConfig)}
        sampling = SamplingConfig(**(sampling | {"seed": seed}))
        return DecodingConfig(sampling=sampling, batch_size=self.batch_size, backend=self.backend)

    def __post_init__(self) -> None:
        super().__post_init__()
        self.decoding_config(self.seed)  # DecodingConfig's checks (batch_size, backend) at load, not per cell
        if self.limit is not None and self.limit < 1:
            raise ConfigError(f"generation.limit must be >= 1 or null, got {self.limit}")


@dataclass
class JudgeSettings(JudgeConfig):
    """The LLM judge (Table 10; also the model behind ALOE's judge and user simulator): `JudgeConfig`, the
    settings of ``percontrast evaluate --judge-*`` (model, url, api_model, key_env, chat_template_kwargs,
    temperature, max_tokens, mode, samples; checked by it), and which predictions to judge."""

    limit: int | None = field(default=None, metadata={"help": "judge only the first N predictions"})
    predictions: bool = field(
        default=True,
        metadata={"help": "judge the in-domain predictions (Table 10); false: ALOE's judge only"},
    )

    def __post_init__(self) -> None:
        # Checked here, at load time (also by --dry-run), not after every cell has trained.
        super().__post_init__()
        if self.url and not self.api_model:
            raise ConfigError("judge.url needs judge.api_model")
        if not self.url and not self.model:
            raise ConfigError("judge needs a local model or a url")
        if self.limit is not None and (
            isinstance(self.limit, bool) or not isinstance(self.limit, int) or self.limit < 1
        ):
            raise ConfigError(f"evaluation.judge.limit must be an integer >= 1 or unset, got {self.limit!r}")


@dataclass
class QASettings:
    """General QA through lm-evaluation-harness (Table 11)."""

    tasks: list[str] = field(
        default_factory=lambda: ["hotpotqa", "drop"], metadata={"help": "hotpotqa and/or drop"}
    )
    local_files: dict[str, str] = field(
        default_factory=dict,
        metadata={"help": "task -> local JSON(L) file in the task's format (offline); else the hub"},
    )
    limit: int | None = field(default=None, metadata={"help": "examples per task (lm-eval --limit)"})
    max_gen_toks: int = field(default=64, metadata={"help": "longest generated answer"})
    batch_size: int = field(default=8, metadata={"help": "lm-eval batch size"})

    def __post_init__(self) -> None:
        from percontrast.experiments.qa import QA_TASKS

        bad = [task for task in self.tasks if task not in QA_TASKS]
        if bad:
            raise ConfigError(f"qa.tasks: unknown {bad}; allowed: {sorted(QA_TASKS)}")


@dataclass
class EvaluationSettings:
    """What each trained cell is evaluated on."""

    metrics: list[str] = field(
        default_factory=lambda: ["rouge", "meteor"], metadata={"help": "lexical metrics"}
    )
    cross_task: bool = field(default=True, metadata={"help": "also test on every other task (Table 3)"})
    judge: JudgeSettings | None = field(default=None, metadata={"help": "LLM judge (Table 10); null: off"})
    aloe: AloeConfig | None = field(
        default=None,
        metadata={
            "help": "ALOE (Tables 4, 9): the fields of `percontrast aloe` (AloeConfig, ALOE's defaults); "
            "its simulator and judge run on the judge section's model, asked as simulator: and judge: say "
            "(temperature, max_tokens; the judge's mode and samples); null: off"
        },
    )
    qa: QASettings | None = field(default=None, metadata={"help": "general QA (Table 11); null: off"})
    token_groups: bool = field(
        default=False,
        metadata={
            "help": "also score each cell's test references by token group (PIR > group_threshold under the "
            "untrained base model, the rest, all; annotated words where the data has them)"
        },
    )
    group_threshold: float = field(
        default=1.0, metadata={"help": "reference PIR above which a token is in the personal group"}
    )

    def __post_init__(self) -> None:
        bad = [m for m in self.metrics if m not in ("rouge", "rouge1", "rougeL", "meteor")]
        if bad:
            raise ConfigError(f"evaluation.metrics: unknown {bad}; allowed: rouge, rouge1, rougeL, meteor")
        if self.aloe is not None and not (self.aloe.profiles and self.aloe.personalities):
            raise ConfigError("evaluation.aloe needs profiles and personalities (ALOE's *_eval.jsonl files)")
        if self.aloe is not None:
            self.aloe = aloe_on_the_judge_model(self.aloe, self.judge or JudgeSettings())


def aloe_on_the_judge_model(aloe: AloeConfig, judge: JudgeSettings) -> AloeConfig:
    """``aloe`` with its simulator and judge on the judge section's model (the experiment loads it once and
    runs both roles on it), so the config says which model they ran on. An ``aloe:`` section that names
    another model for them is refused rather than ignored."""
    roles = {}
    on_judge = judge.backend_settings()
    for role, default in (("simulator", aloe_simulator()), ("judge", aloe_judge())):
        given = getattr(aloe, role).backend_settings()
        # ALOE's default, or already the judge's (a section checked before: the check is idempotent).
        changed = [
            name for name, value in given.items() if value not in (getattr(default, name), on_judge[name])
        ]
        if changed:
            raise ConfigError(
                f"evaluation.aloe.{role}.{changed[0]}: the experiment runs ALOE's simulator and judge on "
                f"the judge section's model; set {changed[0]} under evaluation.judge"
            )
        try:
            roles[role] = dataclasses.replace(getattr(aloe, role), **on_judge)
        except ConfigError as exc:
            raise ConfigError(f"evaluation.aloe.{role} on the judge section's model: {exc}") from None
    return dataclasses.replace(aloe, **roles)


@dataclass
class LaunchSettings:
    """How a cell's training runs: in this process, or N processes under torchrun / accelerate."""

    mode: str = field(default="single", metadata={"help": f"one of {LAUNCH_MODES}"})
    nproc: int = field(default=1, metadata={"help": "processes (GPUs) per cell"})
    config_file: str | None = field(
        default=None, metadata={"help": "accelerate config file (DeepSpeed / FSDP) for mode accelerate"}
    )
    extra_args: list[str] = field(default_factory=list, metadata={"help": "more launcher arguments"})

    def __post_init__(self) -> None:
        if self.mode not in LAUNCH_MODES:
            raise ConfigError(f"launch.mode must be one of {LAUNCH_MODES}, got {self.mode!r}")
        if self.nproc < 1:
            raise ConfigError(f"launch.nproc must be >= 1, got {self.nproc}")
        if self.mode == "single" and self.nproc != 1:
            raise ConfigError("launch.mode single runs one process: set nproc 1, or mode torchrun/accelerate")
        if self.config_file and self.mode != "accelerate":
            raise ConfigError("launch.config_file is read by accelerate: set mode accelerate")


@dataclass
class ExperimentConfig:
    """A whole experiment: the grid, the tasks, and the settings every cell shares."""

    name: str = field(metadata={"help": "experiment name (reports' title)"})
    output_dir: str = field(metadata={"help": "where data, cells and results.jsonl go"})
    grid: GridConfig = field(metadata={"help": "the axes"})
    tasks: dict[str, TaskConfig] = field(metadata={"help": "task name -> its data"})
    training: dict[str, Any] = field(
        default_factory=dict, metadata={"help": "PerCEConfig fields shared by every cell"}
    )
    save_steps: int = field(default=50, metadata={"help": "checkpoint every N steps (resume point)"})
    generation: GenerationSettings = field(default_factory=GenerationSettings, metadata={"help": "decoding"})
    evaluation: EvaluationSettings = field(default_factory=EvaluationSettings, metadata={"help": "evals"})
    launch: LaunchSettings = field(default_factory=LaunchSettings, metadata={"help": "how a cell runs"})

    def __post_init__(self) -> None:
        missing = [task for task in self.grid.tasks if task not in self.tasks]
        if missing:
            raise ConfigError(f"grid.tasks {missing} are not defined under `tasks` ({sorted(self.tasks)})")
        self.training = dict(self.training)
        taken = sorted(set(self.training) & set(CELL_FIELDS))
        if taken:
            raise ConfigError(f"training: {taken} are set per cell by the grid; remove them from training")
        from percontrast.training.config import config_field_names

        unknown = sorted(set(self.training) - config_field_names())
        if unknown:
            raise ConfigError(
                f"training: unknown PerCEConfig fields {unknown} (see `percontrast train --help`)"
            )
        if self.save_steps < 1:
            raise ConfigError(f"save_steps must be >= 1, got {self.save_steps}")
        check_training_values(self.training)
        ids = [cell.id for cell in expand(self)]
        repeated = sorted({cell for cell in ids if ids.count(cell) > 1})
        if repeated:
            raise ConfigError(
                f"grid: cells {repeated} would share an id (values that print alike, e.g. learning rates "
                "equal to 6 significant digits); make them differ"
            )

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def task_label(self, name: str) -> str:
        return self.tasks[name].label or name


def check_training_values(training: dict[str, Any]) -> None:
    """Check the shared ``training`` values as `percontrast train` would, at load time (not in each cell).

    Types first (each value converted with its flag's type), then `PerCEConfig`'s own checks on the
    values (without transformers' set-up, which would look for the run's devices here).
    """
    from transformers import HfArgumentParser

    from percontrast.training.config import PerCEConfig, check_value_types

    check_value_types(HfArgumentParser(PerCEConfig), training, "training")
    values = training_defaults() | {key: value for key, value in training.items() if value is not None}
    probe = PerCEConfig.__new__(PerCEConfig)
    probe.__dict__.update(values)
    try:
        probe.check_values()
    except ConfigError as exc:
        raise ConfigError(f"training: {exc}") from None


# -------------------------------------------------------------------------------------------- cells
# A cell is one training run: (model, loss, source task, learning rate, clip, seed). The clip only changes
# PerCE (online or frozen PIR), so the other losses get one cell per (model, task, lr, seed) whatever
# ``grid.clips`` holds (their clip is recorded as None). The order is stable: the same config always lists
# the same cells in the same order, so ``--cell-index`` (one Slurm array task per cell) is well defined.


# The losses whose weights are clipped PIR: each gets one cell per ``grid.clips`` entry.
CLIPPED_LOSSES = ("perce", "perce_frozen")


@dataclass(frozen=True)
class Cell:
    """One training run of the grid and everything evaluated on its model."""

    model: str
    loss: str
    task: str
    learning_rate: float
    clip_min: float | None
    clip_max: float | None
    seed: int

    @property
    def id(self) -> str:
        """A file-name-safe, unique name, e.g. ``tiny__spc__perce__lr5e-05__m0.8_M5__s0``."""
        model = re.sub(r"[^A-Za-z0-9._-]+", "-", self.model).strip("-")
        clip = "" if self.clip_min is None else f"__m{self.clip_min:g}_M{self.clip_max:g}"
        return f"{model}__{self.task}__{self.loss}__lr{self.learning_rate:g}{clip}__s{self.seed}"

    def to_dict(self) -> dict:
        return asdict(self) | {"cell": self.id}


def expand(config: ExperimentConfig) -> list[Cell]:
    """Every cell of the grid, in a stable order (model, task, loss, lr, clip, seed)."""
    grid = config.grid
    cells: list[Cell] = []
    for model, task, loss in itertools.product(grid.models, grid.tasks, grid.losses):
        clips = grid.clips if loss in CLIPPED_LOSSES else [[None, None]]
        for lr in learning_rates(config, task, loss):
            for (clip_min, clip_max), seed in itertools.product(clips, grid.seeds):
                cells.append(Cell(model, loss, task, lr, clip_min, clip_max, int(seed)))
    return cells


def learning_rates(config: ExperimentConfig, task: str, loss: str | None = None) -> list[float]:
    """The learning rates of a cell: the loss's own (``grid.learning_rates_by_loss``, an ablation's single
    rate), else the source task's (``tasks.<task>.learning_rates``, Table 12), else the grid's."""
    by_loss = config.grid.learning_rates_by_loss.get(loss) if loss is not None else None
    return by_loss or config.tasks[task].learning_rates or config.grid.learning_rates


def training_defaults() -> dict[str, Any]:
    """Every `PerCEConfig` field with its default: what a ``training`` section leaves unset."""
    from percontrast.training.config import PerCEConfig

    values = {}
    for item in dataclasses.fields(PerCEConfig):
        if item.default is not dataclasses.MISSING:
            values[item.name] = item.default
        elif item.default_factory is not dataclasses.MISSING:
            values[item.name] = item.default_factory()
    return values


# ------------------------------------------------------------------------------------------ loading


def _build(cls: type, values: Any, where: str, base: Any = None) -> Any:
    """Build dataclass ``cls`` from a mapping, recursively; unknown keys name ``where``. A role (a nested
    chat model, ``aloe.judge``) starts from its field's defaults (``base``: ALOE's 300 tokens)."""
    if not isinstance(values, dict):
        raise ConfigError(f"{where}: expected a mapping, got {type(values).__name__}")
    if cls is AloeConfig:
        try:
            values = nest_flat_keys(values)  # simulator_max_new_tokens: the flat spelling, still read
        except ConfigError as exc:
            raise ConfigError(f"{where}: {exc}") from None
    known = {item.name: item for item in dataclasses.fields(cls) if item.init}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ConfigError(f"{where}: unknown keys {unknown}; allowed: {sorted(known)}")
    hints = typing.get_type_hints(cls)
    kwargs = {item.name: getattr(base, item.name) for item in dataclasses.fields(base)} if base else {}
    for key, value in values.items():
        nested = _dataclass_of(hints[key])
        if nested is not None and value is not None:
            role = known[key]
            default = role.default_factory() if "prefix" in role.metadata else None
            value = _build(nested, value, f"{where}.{key}", default)
        elif cls is ExperimentConfig and key == "tasks":
            if not isinstance(value, dict) or not value:
                raise ConfigError(f"{where}.tasks: expected a non-empty mapping of name -> task")
            value = {name: _build(TaskConfig, task, f"{where}.tasks.{name}") for name, task in value.items()}
        kwargs[key] = value
    try:
        return cls(**kwargs)
    except TypeError as exc:  # a required key missing
        raise ConfigError(f"{where}: {exc}") from None
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def _dataclass_of(hint: Any) -> type | None:
    """The dataclass a field's type names (``JudgeSettings | None`` -> JudgeSettings), or None."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        hint = args[0] if len(args) == 1 else None
    return hint if isinstance(hint, type) and dataclasses.is_dataclass(hint) else None


def load_experiment_config(path: str | Path, overrides: dict[str, Any] | None = None) -> ExperimentConfig:
    """Read and validate an experiment YAML; relative data paths are kept as written (cwd-relative).

    Args:
        path: the YAML file.
        overrides: top-level values that replace the file's (e.g. ``{"output_dir": ...}``).
    """
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"experiment config {path} does not exist")
    try:
        values = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if values is not None and not isinstance(values, dict):
        raise ConfigError(f"{path}: expected a mapping of section: value, got a {type(values).__name__}")
    values = dict(values or {})
    values.update(overrides or {})
    return _build(ExperimentConfig, values, str(path))
