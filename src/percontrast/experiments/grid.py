"""The cells of an experiment grid and the steps each one runs.

A cell is one training run: (model, loss, source task, learning rate, clip, seed). The clip only
changes PerCE (online or frozen PIR), so the other losses get one cell per (model, task, lr, seed)
whatever ``grid.clips`` holds (their clip is recorded as None). The order is stable: the same config always lists the same
cells in the same order, so ``--cell-index`` (one Slurm array task per cell) is well defined.

    from percontrast.experiments.grid import expand
    for cell in expand(config): print(cell.id)
"""

from __future__ import annotations

import itertools
import re
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # a type only: config.py calls expand() to check cell ids
    from percontrast.experiments.config import ExperimentConfig


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


def target_tasks(config: ExperimentConfig, cell: Cell) -> list[str]:
    """The tasks a cell's model is tested on: its own first, then the others if cross_task."""
    others = [name for name in config.tasks if name != cell.task] if config.evaluation.cross_task else []
    return [cell.task, *others]


def plan(config: ExperimentConfig, cell: Cell) -> list[str]:
    """Human-readable steps of a cell, for ``--dry-run``."""
    launch = config.launch
    how = "in-process" if launch.mode == "single" else f"{launch.mode} x{launch.nproc}"
    steps = [f"data: {config.task_label(cell.task)} train/test (shared, built once)"]
    steps.append(f"train: {cell.loss} lr={cell.learning_rate:g} seed={cell.seed} ({how})")
    for target in target_tasks(config, cell):
        kind = "in-domain" if target == cell.task else "cross-task"
        steps.append(
            f"generate + evaluate {config.evaluation.metrics} on {config.task_label(target)} ({kind})"
        )
    if config.evaluation.token_groups:
        steps.append(
            f"token groups: NLL / PIR of the {config.task_label(cell.task)} test references by group"
        )
    if config.evaluation.judge and config.evaluation.judge.predictions:
        steps.append(f"judge: personalization and quality on {config.task_label(cell.task)}")
    if config.evaluation.aloe:
        steps.append(f"aloe: {config.evaluation.aloe.n_turns} turns")
    if config.evaluation.qa:
        steps.append(f"qa (lm-eval): {', '.join(config.evaluation.qa.tasks)}")
    return steps
