"""Resumable execution of an experiment grid: ``percontrast experiment CONFIG.yaml``.

For every cell (`experiments.grid.expand`): build the task data once (shared by every cell of the
same model and task, under a lock), train (in-process, or under torchrun / accelerate), generate on
the source task and, with ``cross_task``, on every other task, score ROUGE/METEOR, and optionally the
judge (Table 10), ALOE (Table 4) and general QA (Table 11). The cell's metric rows and its ``ok``
record go into ``results.jsonl`` in one locked append (`experiments.store`).

Resuming: a cell with an ``ok`` record is skipped, once it is checked to have run with this config's
settings (`check_finished_cells`: the data of its tasks, training, decoding, evaluations); a finished cell
under other settings is refused, as task data built with other settings is (`_Context.data_dir`). Inside an unfinished cell every step resumes
from what is on disk: data built, training finished (``model/training_done.json``) or from its last
``checkpoint-N``, predictions already written. A failing cell gets a ``failed`` record with its
error, and the grid goes on; the next invocation retries it.

Slurm: ``--cell-index $SLURM_ARRAY_TASK_ID`` runs one cell, all tasks append to the same table.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import platform
import shutil
import time
import traceback
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from percontrast.experiments import steps as pipeline
from percontrast.experiments.config import ExperimentConfig, task_data_settings
from percontrast.experiments.grid import Cell, expand, plan, target_tasks
from percontrast.experiments.protocol import protocol_table
from percontrast.experiments.replies import write_example_scores
from percontrast.experiments.store import ResultsStore, finished_runs, locked
from percontrast.utils.errors import ConfigError
from percontrast.utils.files import atomic_write_json, settings_differences

logger = logging.getLogger(__name__)

RESULTS_NAME = "results.jsonl"

# Settings that do not change a cell's results, by section: a rerun may change them. (The launch, the name,
# output_dir, save_steps and the grid are not compared at all: a cell's axes are in its id.)
_NOT_RESULTS = {
    "generation": ("batch_size", "seed"),  # batch_size: left out of `generate`'s record too; seed: the cell's
    "judge": ("url", "key_env"),  # where the judge runs, not which model it is
    # conversations run at a time; the runner uses the cell's seed; the judge section's url and key_env
    "aloe": ("chunk_size", "seed", "simulator.url", "simulator.key_env", "judge.url", "judge.key_env"),
    "qa": ("batch_size",),
}


@dataclass
class RunSummary:
    """What one invocation did."""

    total: int = 0
    skipped: int = 0
    ok: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0


def select_cells(config: ExperimentConfig, indices: list[int] | None) -> list[Cell]:
    """The grid's cells, or those at ``indices`` (0-based, as Slurm array task ids)."""
    from percontrast.utils.errors import ConfigError

    cells = expand(config)
    if indices is None:
        return cells
    bad = [i for i in indices if not 0 <= i < len(cells)]
    if bad:
        raise ConfigError(
            f"--cell-index {bad} out of range: the grid has {len(cells)} cells (0..{len(cells) - 1})"
        )
    return [cells[i] for i in indices]


def dry_run(config: ExperimentConfig, indices: list[int] | None = None) -> str:
    """The cells and the steps each would run, marking the ones already finished, then the resolved
    protocol per paper table (`experiments.protocol`)."""
    store = ResultsStore(Path(config.output_dir) / RESULTS_NAME)
    cells = select_cells(config, indices)
    finished = check_finished_cells(config, store.read(), cells)
    lines = [f"{len(cells)} cells ({sum(c.id in finished for c in cells)} finished) -> {store.path}"]
    for index, cell in enumerate(cells):
        lines.append(f"[{index}] {cell.id}" + ("  (finished: skipped)" if cell.id in finished else ""))
        lines.extend(f"      {step}" for step in plan(config, cell))
    lines += ["", "Protocol, per paper table (docs/experiments.md, Protocol):", protocol_table(config)]
    return "\n".join(lines)


def run_experiment(
    config: ExperimentConfig,
    *,
    indices: list[int] | None = None,
    callbacks: list | None = None,
    progress: bool = True,
) -> RunSummary:
    """Run every unfinished cell; see the module docstring.

    Args:
        config: the experiment.
        indices: run only these cells (0-based grid positions).
        callbacks: extra `transformers.TrainerCallback` for in-process training.
        progress: show a progress bar over cells.
    """
    from tqdm.auto import tqdm

    started = time.perf_counter()
    out = Path(config.output_dir)
    store = ResultsStore(out / RESULTS_NAME)
    cells = select_cells(config, indices)
    finished = check_finished_cells(config, store.read(), cells)  # before anything is written
    run_id = f"{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}"
    store.append([_run_record(config, run_id)])
    summary = RunSummary(total=len(cells))
    context = _Context(config, run_id)
    bar = tqdm(cells, desc="cells", unit="cell", disable=not progress)
    for cell in bar:
        if cell.id in finished:
            summary.skipped += 1
            continue
        done = summary.skipped + len(summary.ok) + len(summary.failed)
        logger.info(
            "cell %d/%d %s (done %d, running 1, left %d)",
            done + 1,
            len(cells),
            cell.id,
            done,
            len(cells) - done - 1,
        )
        bar.set_postfix(done=done, failed=len(summary.failed), left=len(cells) - done)
        cell_started = time.perf_counter()
        try:
            rows = run_cell(context, cell, callbacks=callbacks)
        except Exception as exc:  # recorded, and the grid goes on
            logger.error("cell %s failed: %s", cell.id, exc)
            error = f"{type(exc).__name__}: {exc}"
            store.append(
                [
                    _end_record(run_id, cell, "failed", time.perf_counter() - cell_started)
                    | {"error": error, "traceback": traceback.format_exc()[-4000:]}
                ]
            )
            summary.failed[cell.id] = error
            continue
        store.append(rows + [_end_record(run_id, cell, "ok", time.perf_counter() - cell_started)])
        summary.ok.append(cell.id)
    bar.close()
    summary.seconds = time.perf_counter() - started
    logger.info(
        "experiment %s: %d cells, %d run ok, %d failed, %d already finished, %.0f s",
        config.name,
        summary.total,
        len(summary.ok),
        len(summary.failed),
        summary.skipped,
        summary.seconds,
    )
    return summary


def _run_record(config: ExperimentConfig, run_id: str) -> dict:
    """The results file's record of one invocation: its config, package versions, commit and host."""
    from percontrast.utils.run_info import git_commit, package_versions

    return {
        "kind": "run",
        "run": run_id,
        "config": config.to_dict(),
        "task_order": list(config.tasks),  # the JSON keys of `config` get sorted
        "versions": package_versions(extra=("lm_eval", "rouge-score", "nltk")),
        "git_commit": git_commit(),
        "host": platform.node(),
        "python": platform.python_version(),
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def check_finished_cells(config: ExperimentConfig, records: list[dict], cells: Sequence[Cell]) -> set[str]:
    """The ids of ``cells`` that ``records`` (results.jsonl's) hold as finished, each checked against the
    config of the run that finished it (its ``ok`` record's run): the settings that decide its results
    (`cell_settings`) must be this config's, else its rows and those of the cells run now would mix two
    protocols.

    Raises:
        ConfigError: one message listing, per group of cells, the settings that differ.
    """
    finished = finished_runs(records)
    configs = {record["run"]: record["config"] for record in records if record["kind"] == "run"}
    current = json.loads(json.dumps(config.to_dict(), default=str))
    mixed: dict[str, list[str]] = {}
    for cell in (cell for cell in cells if cell.id in finished):
        recorded = configs.get(finished[cell.id])
        if recorded is None:
            logger.warning("%s: no run record for %s's run %s: its settings are not checked", RESULTS_NAME,
                           cell.id, finished[cell.id])  # fmt: skip
            continue
        targets = target_tasks(config, cell)
        then, now = _paired_flat(
            cell_settings(recorded, cell, targets), cell_settings(current, cell, targets)
        )
        detail = settings_differences(then, now)
        if detail:
            mixed.setdefault(detail, []).append(cell.id)
    if mixed:
        groups = [
            f"cells {', '.join(ids[:3])}{f' and {len(ids) - 3} more' if len(ids) > 3 else ''}: {detail}"
            for detail, ids in mixed.items()
        ]
        raise ConfigError(
            f"{Path(config.output_dir) / RESULTS_NAME}: {sum(map(len, mixed.values()))} finished cells ran with "
            f"other settings than this config's ({' | '.join(groups)}); their results and those of the cells "
            "run now would mix two protocols. Use a new output_dir, or remove those cells (their records in "
            f"{RESULTS_NAME} and their folders under cells/) to run them again"
        )
    return {cell.id for cell in cells if cell.id in finished}


def cell_settings(config: Mapping[str, Any], cell: Cell, targets: Sequence[str]) -> dict[str, Any]:
    """What decides a cell's results in an experiment config (``ExperimentConfig.to_dict()``, as a ``run``
    record holds it): the data settings of the tasks it is trained and tested on (``targets``), the shared
    training values that decide what is trained (`training.config.RESUME_SETTINGS`, defaults filled in),
    decoding and the evaluations; without `_NOT_RESULTS`. JSON values."""
    from percontrast.evaluation.aloe_config import nest_flat_keys
    from percontrast.experiments.config import CELL_FIELDS, training_defaults
    from percontrast.training.config import RESUME_SETTINGS

    tasks = config.get("tasks") or {}
    training = training_defaults() | dict(config.get("training") or {})
    evaluation = dict(config.get("evaluation") or {})
    if isinstance(evaluation.get("aloe"), dict):  # recorded before the roles nested: the same settings
        evaluation["aloe"] = nest_flat_keys(evaluation["aloe"])
    for name in ("judge", "aloe", "qa"):
        if isinstance(evaluation.get(name), dict):
            evaluation[name] = _without(evaluation[name], _NOT_RESULTS[name])
    settings = {
        "tasks": {name: task_data_settings(tasks[name]) for name in targets if name in tasks},
        "training": {
            key: getattr(training[key], "value", training[key])
            for key in RESUME_SETTINGS
            if key not in CELL_FIELDS
        },
        "generation": _without(config.get("generation") or {}, _NOT_RESULTS["generation"]),
        "evaluation": evaluation,
    }
    if isinstance(training["max_steps"], int) and training["max_steps"] > 0:
        settings["training"]["num_train_epochs"] = None  # transformers reads it only without max_steps
    return json.loads(json.dumps(settings, default=str))


def _without(values: Mapping[str, Any], keys: Sequence[str]) -> dict[str, Any]:
    """``values`` without ``keys``; ``"judge.url"`` is the key ``url`` of the mapping under ``judge``."""
    inner: dict[str, list[str]] = {}
    for key in keys:
        if "." in key:
            outer, rest = key.split(".", 1)
            inner.setdefault(outer, []).append(rest)
    return {
        key: _without(value, inner[key]) if key in inner and isinstance(value, Mapping) else value
        for key, value in values.items()
        if key not in keys
    }


def _paired_flat(
    recorded: Mapping[str, Any], current: Mapping[str, Any], prefix: str = ""
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Both mappings with dotted keys, flattened wherever both sides hold a mapping (a changed field is
    named alone; a section set on one side only is shown whole). A key ``recorded`` lacks is left out of
    both: a field an older version did not record, or a task the finished cell was not tested on."""
    then: dict[str, Any] = {}
    now: dict[str, Any] = {}
    for key, value in recorded.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and isinstance(current.get(key), dict):
            nested_then, nested_now = _paired_flat(value, current[key], f"{name}.")
            then |= nested_then
            now |= nested_now
            continue
        then[name] = value
        if key in current:
            now[name] = current[key]
    return then, now


class _Context:
    """State shared by the cells of one invocation (the judge is loaded once)."""

    def __init__(self, config: ExperimentConfig, run_id: str) -> None:
        self.config, self.run_id = config, run_id
        self.out = Path(config.output_dir)
        self._backend = None
        settings = config.evaluation.judge
        if settings is None:
            from percontrast.experiments.config import JudgeSettings

            settings = JudgeSettings()  # ALOE without a judge section: the default local judge
        self.judge_settings = settings

    def judge_backend(self):
        """The judge section's chat backend, loaded once (Table 10's judge, ALOE's simulator and judge)."""
        if self._backend is None:
            self._backend = pipeline.judge_backend(self.judge_settings)
        return self._backend

    def judge(self):
        """Table 10's judge."""
        return pipeline.build_judge(self.judge_settings, self.judge_backend())

    def data_dir(self, model: str, task: str) -> Path:
        """Build (once, under a lock) and return the folder of a task's data for a model's tokenizer."""
        cell_like = Cell(model, "ce", task, 1.0, None, None, 0)
        directory = self.out / "data" / cell_like.id.split("__")[0] / task
        summary_path = directory / "summary.json"
        settings = json.loads(json.dumps(dataclasses.asdict(self.config.tasks[task]), default=str))
        compared = task_data_settings(settings)  # a new label or rates reuse the data
        with locked(directory.with_name(task + ".lock")):
            if not summary_path.exists():
                logger.info("building data of %s for %s", task, model)
                summary = pipeline.build_task_data(self.config.tasks[task], _tokenizer(model), directory)
                atomic_write_json(summary_path, summary | {"task_config": settings})
            recorded = pipeline.read_json(summary_path).get("task_config")
            detail = (
                settings_differences(task_data_settings(recorded), compared) if recorded is not None else ""
            )
            if detail:
                raise ConfigError(
                    f"{directory}: the data of task {task!r} was built with other settings ({detail}); its "
                    f"cells' results would mix two protocols. Use a new output_dir, or delete {directory} "
                    "and the cells trained on it"
                )
        return directory


def run_cell(context: _Context, cell: Cell, callbacks: list | None = None) -> list[dict[str, Any]]:
    """Run one cell's steps (each resuming from disk) and return its metric rows."""
    config = context.config
    cell_dir = context.out / "cells" / cell.id
    data = context.data_dir(cell.model, cell.task)
    rows = []
    summary = pipeline.read_json(data / "summary.json")
    for metric in ("prompt_tokens_with_persona", "prompt_tokens_without_persona", "n_train", "n_test"):
        rows.append(_row(context, cell, "data", cell.task, metric, summary.get(metric)))

    model_dir = cell_dir / "model"
    done_marker = model_dir / "training_done.json"
    if not done_marker.exists():
        _train(context, cell, data, model_dir, callbacks)
    # Training wall time of this cell's last (uninterrupted) training: the ablation's time ratio to CE.
    train_seconds = pipeline.read_json(done_marker).get("train_seconds")
    if train_seconds is not None:
        rows.append(_row(context, cell, "train", cell.task, "train_seconds", train_seconds))
    # The training loss stays in training_done.json, not in the table: after a resume the Trainer
    # averages it over the resumed steps only, so it would not be comparable between cells.

    model, tokenizer = pipeline.load_trained(model_dir)
    evaluation = config.evaluation
    for target in target_tasks(config, cell):
        target_data = context.data_dir(cell.model, target)
        predictions = cell_dir / "predictions" / f"{target}.jsonl"
        # generation.limit: the first N test examples (the same N for every cell: test.jsonl is shared).
        generated, _, _ = _limited(
            target_data / "test.jsonl", config.generation.limit, cell_dir / f"generated_{target}.jsonl"
        )
        pipeline.generate(model, tokenizer, generated, predictions, config, cell.seed)
        scores = pipeline.lexical_scores(predictions, generated, evaluation.metrics)
        # Per-example scores: the report's paired differences between losses (`experiments.replies`).
        write_example_scores(cell_dir, target, scores.pop("per_example"))
        for metric in ("rouge1", "rougeL", "meteor"):
            if metric in scores:
                rows.append(_row(context, cell, "lexical", target, metric, scores[metric], n=scores.get("n")))
        if target == cell.task and evaluation.judge is not None and evaluation.judge.predictions:
            judged, n_judged, n_predicted = _limited(
                predictions, evaluation.judge.limit, cell_dir / "judge_predictions.jsonl"
            )
            # A limit below the test set judges a subset: scored as partial, its rows carry n_judged.
            for criterion, value in pipeline.judge_scores(
                judged, generated, context.judge(), partial=n_judged < n_predicted
            ).items():
                rows.append(_row(context, cell, "judge", target, criterion, value, n=n_judged))
    if evaluation.token_groups:
        from percontrast.experiments.groups import cell_group_metrics, reference_groups

        test_path = data / "test.jsonl"
        groups = reference_groups(cell.model, test_path, evaluation.group_threshold)
        for item in cell_group_metrics(model, tokenizer, test_path, groups, cell_dir / "token_groups.json"):
            rows.append(_row(context, cell, "groups", cell.task, item["metric"], item["value"], n=item["n"]))
    if evaluation.aloe is not None:
        rows += aloe_rows(context, cell, model, tokenizer, cell_dir)
    if evaluation.qa is not None:
        from percontrast.experiments.qa import run_qa

        del model  # lm-eval loads the saved model itself
        for task, metrics in run_qa(model_dir, evaluation.qa, cell_dir / "qa", seed=cell.seed).items():
            n = metrics.pop("n", None)
            for metric, value in metrics.items():
                rows.append(_row(context, cell, "qa", task, metric, value, n=None if n is None else int(n)))
    return rows


def _train(context: _Context, cell: Cell, data: Path, model_dir: Path, callbacks: list | None) -> None:
    """Train a cell's model into ``model_dir`` (resuming from its last checkpoint), then drop the
    checkpoints and write ``training_done.json`` with the loss and the training seconds."""
    config = context.config
    done_marker = model_dir / "training_done.json"
    if model_dir.exists() and pipeline.last_checkpoint(model_dir) is None:
        shutil.rmtree(model_dir)  # killed before its first checkpoint: nothing to resume from
    values = pipeline.training_values(config, cell, data / "train.jsonl", model_dir)
    train_started = time.perf_counter()
    trained = pipeline.train_cell(values, config.launch, callbacks=callbacks)
    # The Trainer's time when trained here (the frozen ablation's one-off scoring is recorded apart,
    # not in its step time); the launcher's wall time otherwise.
    train_seconds = trained.get("train_seconds") or time.perf_counter() - train_started
    for checkpoint in model_dir.glob("checkpoint-*"):
        shutil.rmtree(checkpoint)  # resume points only; the final model is in model_dir
    atomic_write_json(
        done_marker,
        {
            "train_loss": trained.get("train_loss"),
            "run": context.run_id,
            "train_seconds": train_seconds,
            "frozen_pir_seconds": trained.get("frozen_pir_seconds"),
        },
    )


def aloe_rows(context: _Context, cell: Cell, model: Any, tokenizer: Any, cell_dir: Path) -> list[dict]:
    """A cell's ALOE step: `evaluation.aloe.evaluate_aloe` (as ``percontrast aloe``) into
    ``cell_dir/aloe.json``, resumable; one row per AL(k) and the average."""
    result = pipeline.aloe_scores(
        model,
        tokenizer,
        context.config.evaluation.aloe,
        context.judge_backend,
        context.judge_settings,
        cell.seed,
        cell_dir / "aloe.json",
        cell.id,
    )
    rows = [
        _row(context, cell, "aloe", "aloe", f"AL{k}", value, n=result["n"])
        for k, value in result["al"].items()
    ]
    rows.append(_row(context, cell, "aloe", "aloe", "AL_avg", result["al_avg"], n=result["n"]))
    return rows


def _limited(predictions: Path, limit: int | None, out: Path) -> tuple[Path, int, int]:
    """The first ``limit`` lines of a JSONL file (predictions for the costly judge, test examples for
    generation.limit): ``(file, n kept, n in the file)``.

    The file is ``predictions`` itself when the limit keeps them all, else ``out``.
    """
    if limit is not None and limit < 1:
        raise ConfigError(f"evaluation.judge.limit must be >= 1 or unset, got {limit}")
    lines = predictions.read_text(encoding="utf-8").splitlines(keepends=True)
    if limit is None or limit >= len(lines):
        return predictions, len(lines), len(lines)
    out.write_text("".join(lines[:limit]), encoding="utf-8")
    return out, limit, len(lines)


def _row(
    context: _Context, cell: Cell, kind: str, target: str, metric: str, value: Any, n: int | None = None
) -> dict:
    return {
        "kind": "metric",
        "run": context.run_id,
        **cell.to_dict(),
        "eval": kind,
        "target": target,
        "metric": metric,
        "value": value,
        "n": n,
    }


def _end_record(run_id: str, cell: Cell, status: str, seconds: float) -> dict:
    return {"kind": "cell", "run": run_id, **cell.to_dict(), "status": status, "seconds": round(seconds, 2)}


def _tokenizer(model: str):
    """The tokenizer of a model alias, directory or hub id (aliases load their model, they are small)."""
    from percontrast.modeling.load import ALIASES, load_model

    if model in ALIASES:
        return load_model(model)[1]
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer
