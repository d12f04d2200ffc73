"""The generated replies' scores per example, and the losses' paired differences in ROUGE-L and METEOR.

Each cell writes, beside its predictions, the per-example scores of each target it generated for
(``cells/<id>/scores/<target>.json``: ``{"ids": [...], "rougeL": [...], "meteor": [...], ...}``, the pairs
its empty-text rule scored). The report compares losses on them with the two-level paired bootstrap of
`percontrast.analysis.bootstrap` (test examples and seeds), as it does the token groups.

A grid run before the cells wrote them (or copied without them) gets them from its committed predictions
with ``percontrast report --score-replies`` (`experiments.steps.score_missing_replies`): the same scoring,
no model needed (METEOR reads WordNet).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from percontrast.utils.files import atomic_write_json

SCORES_DIR = "scores"
REPLY_METRICS = ("rougeL", "meteor")


def scores_path(cell_dir: Path, target: str) -> Path:
    return cell_dir / SCORES_DIR / f"{target}.json"


def write_example_scores(cell_dir: Path, target: str, per_example: dict[str, list]) -> Path:
    """Save one target's per-example scores (`evaluate_predictions`'s ``per_example``) in the cell."""
    return atomic_write_json(scores_path(cell_dir, target), per_example)


def _read_scores(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def paired_replies(
    out_dir: Path, target: str, cells: dict[str, list[str]], baseline: str = "ce", n_bootstrap: int = 1000
) -> tuple[str, dict[str, dict[str, tuple]], int] | None:
    """Each loss minus ``baseline`` in ROUGE-L and METEOR on ``target``'s replies, with 95% paired bootstrap
    intervals over the generated examples and the seeds; ``cells``: loss -> its cell ids (one per seed).

    The examples are those every cell scored (an empty-text rule may drop a pair in one cell only).
    Returns the method line (with that count), loss -> metric -> ``(mean, low, high)`` and the count of
    examples, or None when the baseline or a cell's scores file is missing."""
    from percontrast.analysis.bootstrap import Evaluation, mean_and_interval, summarize

    if baseline not in cells or not all(cells.values()) or len(cells) < 2:
        return None
    paths = {
        loss: [scores_path(out_dir / "cells" / cell, target) for cell in ids] for loss, ids in cells.items()
    }
    if not all(path.exists() for group in paths.values() for path in group):
        return None
    saved = {loss: [_read_scores(path) for path in group] for loss, group in paths.items()}
    every = [set(item["ids"]) for group in saved.values() for item in group]
    common = sorted(set.intersection(*every))
    metrics = [m for m in REPLY_METRICS if all(m in item for group in saved.values() for item in group)]
    if not common or "rougeL" not in metrics:  # the bootstrap counts the generated examples by ROUGE-L's
        return None
    empty = np.zeros(0)

    def evaluation(item: dict) -> Evaluation:
        position = {example_id: i for i, example_id in enumerate(item["ids"])}
        rows = [position[example_id] for example_id in common]
        values = {m: np.asarray(item[m], dtype=float)[rows] for m in metrics}
        return Evaluation(empty, empty, empty, values.get("rougeL", empty), values.get("meteor"), [])

    summary = summarize(
        {loss: [evaluation(item) for item in group] for loss, group in saved.items()},
        n_bootstrap=n_bootstrap,
        baseline=baseline,
        metrics=metrics,
    )
    differences = {
        loss: {metric: mean_and_interval(figure) for metric, figure in by_metric.items()}
        for loss, by_metric in summary["differences"].items()
    }
    dropped = max(len(ids) for ids in every) - len(common)
    method = (
        summary["method"]
        + f"; {len(common)} generated examples"
        + (f" ({dropped} scored by some cells only, left out)" if dropped else "")
    )
    return method, differences, len(common)
