"""`ResultSet`: the usable rows of an experiment's results table, and the values tables are built from.

Reads the records (`experiments.store`): metric rows of cells whose latest end record is ``ok`` (the
latest row wins per cell, eval, target and metric), and the task labels and sources from the run
records' resolved configs. `Stat` is a value over seeds; `gain` is a table's Gain cell.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from percontrast.experiments.config import CLIPPED_LOSSES
from percontrast.experiments.store import read_results

LOSS_ORDER = ("ce", "lossce", "entce", "perce", "perce_frozen")
LOSS_NAMES = {
    "ce": "CE",
    "lossce": "LossCE",
    "entce": "EntCE",
    "perce": "PerCE",
    "perce_frozen": "PerCE (frozen PIR)",
}
DEFAULT_CLIP = (0.8, 5.0)
METRIC_NAMES = {"rougeL": "ROUGE-L", "meteor": "METEOR", "rouge1": "ROUGE-1"}


@dataclass
class Stat:
    """A value over seeds."""

    values: list[float]

    @property
    def mean(self) -> float:
        return statistics.fmean(self.values)

    @property
    def sd(self) -> float:
        return statistics.stdev(self.values) if len(self.values) > 1 else 0.0

    def text(self, digits: int = 4) -> str:
        if len(self.values) > 1:
            return f"{self.mean:.{digits}f} ± {self.sd:.{digits}f}"
        return f"{self.mean:.{digits}f}"


@dataclass
class Table:
    """One rendered table: a title, column names, rows of strings, and notes."""

    key: str
    title: str
    header: list[str]
    rows: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    plot: dict[str, Any] | None = None  # data for `report` to draw


class ResultSet:
    """The usable metric rows of a results file and the tasks' labels and sources."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)  # results.jsonl, in the experiment's output_dir
        records = read_results(path)
        status, latest, seconds = {}, {}, {}
        self.labels: dict[str, str] = {}
        self.sources: dict[str, str] = {}
        self.runs = [r for r in records if r["kind"] == "run"]
        for record in records:
            if record["kind"] == "cell":
                status[record["cell"]] = record["status"]
                seconds[record["cell"]] = record.get("seconds")
            elif record["kind"] == "metric":
                latest[(record["cell"], record["eval"], record["target"], record["metric"])] = record
        for run in self.runs:
            tasks = run["config"]["tasks"]
            for name in run.get("task_order") or tasks:
                task = tasks[name]
                self.labels[name] = task.get("label") or name
                self.sources[name] = task["source"]
        # A NaN or infinite value (a metric that failed: no reference words, ...) is no result.
        self.rows = [
            r
            for r in latest.values()
            if status.get(r["cell"]) == "ok" and r["value"] is not None and math.isfinite(r["value"])
        ]
        self.failed = sorted(cell for cell, value in status.items() if value == "failed")
        # Seconds of the last (ok) execution of each finished cell; a resumed cell counts its last part only.
        self.cell_seconds = {c: s for c, s in seconds.items() if status[c] == "ok" and s is not None}
        self.models = sorted({r["model"] for r in self.rows})
        self._chosen: dict[tuple[str, str, str], dict[str, Any] | None] = {}
        self.losses = [loss for loss in LOSS_ORDER if any(r["loss"] == loss for r in self.rows)]

    def label(self, task: str) -> str:
        return self.labels.get(task, task)

    def stat(self, **where: Any) -> Stat | None:
        """The values over seeds of the rows matching ``where`` (None if there are none)."""
        values = [r["value"] for r in self.rows if all(r.get(k) == v for k, v in where.items())]
        return Stat(values) if values else None

    def tasks(self, sources: tuple[str, ...] | None = None) -> list[str]:
        """Source tasks that have in-domain results, in config order, optionally by data source."""
        seen = {r["task"] for r in self.rows if r["eval"] == "lexical"}
        ordered = [t for t in self.labels if t in seen] + sorted(seen - set(self.labels))
        return [t for t in ordered if sources is None or self.sources.get(t) in sources]

    def learning_rates(self, **where: Any) -> list[float]:
        return sorted({r["learning_rate"] for r in self.rows if all(r.get(k) == v for k, v in where.items())})

    def clips(self, model: str, task: str, loss: str = "perce") -> list[tuple[float, float]]:
        """The (m, M) clips the rows hold for a clipped loss (PerCE, online or frozen) of (model, task)."""
        return sorted(
            {
                (r["clip_min"], r["clip_max"])
                for r in self.rows
                if r["loss"] == loss and r["model"] == model and r["task"] == task
            }
        )

    def chosen(self, model: str, loss: str, task: str) -> dict[str, Any] | None:
        """The cell settings (lr, clip) a summary table uses for (model, loss, source task).

        Every table asks for it, some once per learning rate; the rows never change after ``__init__``,
        so each answer is computed once (callers must not modify the returned dict).
        """
        key = (model, loss, task)
        if key not in self._chosen:
            self._chosen[key] = self._choose(model, loss, task)
        return self._chosen[key]

    def settings(self, model: str, loss: str, task: str) -> dict[str, Any] | None:
        """The cell settings but the learning rate: model, loss, task and, for a clipped loss, its clip
        ((0.8, 5) when the grid has it, else the first); None when a clipped loss has no rows."""
        where: dict[str, Any] = {"model": model, "loss": loss, "task": task}
        if loss in CLIPPED_LOSSES:
            clips = self.clips(model, task, loss)
            if not clips:
                return None
            clip = DEFAULT_CLIP if DEFAULT_CLIP in clips else clips[0]
            where |= {"clip_min": clip[0], "clip_max": clip[1]}
        return where

    def _choose(self, model: str, loss: str, task: str) -> dict[str, Any] | None:
        where = self.settings(model, loss, task)
        if where is None:
            return None
        best, best_value = None, -math.inf
        for lr in self.learning_rates(**where):
            stat = self.stat(**where, learning_rate=lr, eval="lexical", target=task, metric="rougeL")
            if stat is not None and stat.mean > best_value:
                best, best_value = lr, stat.mean
        return None if best is None else where | {"learning_rate": best}


def gain(new: Stat | None, base: Stat | None, relative: bool = True) -> str:
    """The Gain cell: relative (percent) or absolute, marked ``~`` when inside the seeds' spread."""
    if new is None or base is None:
        return "-"
    diff = new.mean - base.mean
    if relative:
        text = "n/a" if base.mean == 0 else f"{100 * diff / base.mean:+.2f}%"
    else:
        text = f"{diff:+.2f}"
    inside = (len(new.values) > 1 or len(base.values) > 1) and abs(diff) <= new.sd + base.sd
    return text + (" ~" if inside else "")
