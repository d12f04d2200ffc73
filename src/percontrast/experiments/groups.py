"""The experiment's NLL by token group (issue 21): each cell's trained model on its task's test references.

The groups of a task's test examples are defined once per (base model, task) by the *untrained* base
model (`percontrast.analysis.token_groups.make_groups`: PIR > ``evaluation.group_threshold``, the annotated
groups where the data has ``personal_spans``) and cached next to the task's data as ``token_groups.json``,
so every cell, loss and seed is measured on the same tokens. Each cell then scores the references with
its trained model and writes one metric row per group and figure (``nll_<group>``, ``pir_<group>``, with
the group's token count as ``n``), and its per-example sums to ``cells/<id>/token_groups.json`` (for a
paired bootstrap over examples with `percontrast.analysis.token_groups.summarize_groups`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from percontrast.analysis.token_groups import (
    GroupSums,
    TokenGroups,
    group_sums,
    make_groups,
    summarize_groups,
)
from percontrast.data.schema import read_examples
from percontrast.utils.files import atomic_write_json

GROUPS_FILE = "token_groups.json"


def _score(model, tokenizer, examples):
    from percontrast.scoring.pir import score_examples

    model.eval()
    return score_examples(model, tokenizer, examples, progress=False)


def reference_groups(base_model: str, test_path: Path, threshold: float) -> TokenGroups:
    """The groups of ``test_path``'s examples under the untrained ``base_model``, cached beside the file."""
    cache = test_path.with_name(GROUPS_FILE)
    if cache.exists():
        saved = json.loads(cache.read_text(encoding="utf-8"))
        if saved["threshold"] == threshold:
            return TokenGroups(**saved)
    from percontrast.modeling.load import load_model

    examples = read_examples(test_path)
    model, tokenizer = load_model(base_model)
    scores = _score(model, tokenizer, examples)
    kept = {item.id for item in scores}
    groups = make_groups(
        [example for example in examples if example.id in kept],
        scores,
        reference=base_model,
        threshold=threshold,
    )
    atomic_write_json(cache, groups.__dict__)
    return groups


def load_group_sums(cell_file: Path) -> GroupSums:
    """One cell's per-example sums (``cells/<id>/token_groups.json``)."""
    saved = json.loads(cell_file.read_text(encoding="utf-8"))
    return GroupSums(
        **{key: {g: np.array(v) for g, v in saved[key].items()} for key in ("nll_sum", "pir_sum", "n_tokens")}
    )


def paired_differences(
    out_dir: Path, task: str, cells: dict[str, list[str]], baseline: str = "ce", n_bootstrap: int = 1000
) -> dict | None:
    """`summarize_groups` over cells: loss -> its cell ids (one per seed, all of one base model and task).

    Returns None when a cell's file or the task's groups are missing, or the baseline has no cells.
    """
    if baseline not in cells or not all(cells.values()):
        return None
    first = next(iter(cells.values()))[0]
    groups_file = out_dir / "data" / first.split("__")[0] / task / GROUPS_FILE
    files = {loss: [out_dir / "cells" / cell / GROUPS_FILE for cell in ids] for loss, ids in cells.items()}
    if not groups_file.exists() or not all(f.exists() for fs in files.values() for f in fs):
        return None
    groups = TokenGroups(**json.loads(groups_file.read_text(encoding="utf-8")))
    sums = {loss: [load_group_sums(f) for f in fs] for loss, fs in files.items()}
    return summarize_groups(groups, sums, baseline=baseline, n_bootstrap=n_bootstrap)


def cell_group_metrics(
    model, tokenizer, test_path: Path, groups: TokenGroups, out: Path
) -> list[dict[str, Any]]:
    """Score the trained model on the references; return ``{"metric", "value", "n"}`` per group and figure."""
    examples = {example.id: example for example in read_examples(test_path)}
    scores = _score(model, tokenizer, [examples[i] for i in groups.ids])
    sums = group_sums(groups, scores, model=str(out.parent.name))
    atomic_write_json(
        out,
        {
            "reference": groups.reference,
            "threshold": groups.threshold,
            "ids": groups.ids,
            "nll_sum": {g: v.tolist() for g, v in sums.nll_sum.items()},
            "pir_sum": {g: v.tolist() for g, v in sums.pir_sum.items()},
            "n_tokens": {g: v.tolist() for g, v in sums.n_tokens.items()},
        },
    )
    metrics = []
    for group in groups.names:
        pooled = sums.pooled(group)
        for figure in ("nll", "pir"):
            value = pooled[figure]
            metrics.append(
                {
                    "metric": f"{figure}_{group}",
                    "value": None if value != value else value,
                    "n": pooled["n_tokens"],
                }
            )
    return metrics
