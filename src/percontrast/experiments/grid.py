"""The steps each cell of an experiment grid runs, and the tasks it is tested on.

The cells themselves (`Cell`, `expand`) are defined with the config (`experiments.config`), which checks
their ids at load time; they are re-exported here.

    from percontrast.experiments.grid import expand
    for cell in expand(config): print(cell.id)
"""

from __future__ import annotations

from percontrast.experiments.config import (  # noqa: F401 (Cell, expand, learning_rates: re-exported)
    CLIPPED_LOSSES,
    Cell,
    ExperimentConfig,
    expand,
    learning_rates,
)


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
