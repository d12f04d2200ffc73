"""The paper's tables, computed from an experiment's results table alone (``results.jsonl``).

`ResultSet` (`experiments.results`) reads the records: metric rows of cells whose latest end record is
``ok`` (the latest row wins per cell, eval, target and metric), and the task labels and sources from
the run records' resolved configs. Each ``table_*`` function returns `Table` objects (header, rows,
notes) that `experiments.report` renders as markdown and HTML.

Conventions, as the paper computes them:

- Gain rows (Tables 1, 3, 5, 10): relative change of PerCE over CE, ``(perce - ce) / ce`` in percent;
  Table 4's Gain is the absolute difference of the 1-5 ALOE scores.
- Table 2: Mean and Variance over the learning rates; the variance is the population variance
  (ddof 0) scaled by 1e4 (the paper's PerCE PAG column: values 0.3247..0.3585 -> 1.800).
- With several seeds a value is ``mean ± sd`` (sample sd over seeds), and a Gain whose difference
  is within the spread (``|a - b| <= sd_a + sd_b``) is marked ``~``.
- Tables 1, 3, 4, 5, 10 and 11 use, per (model, loss, source task), the learning rate with the best
  mean in-domain ROUGE-L (the paper grid-searches the learning rate) and, for PerCE, the clip
  (0.8, 5) when the grid has it (else the first clip); the chosen values are listed in the notes.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from typing import Any

from percontrast.analysis.bootstrap import GROUPS, mean_and_interval
from percontrast.evaluation.judge_prompts import QUALITY_DIMENSIONS
from percontrast.experiments.config import CLIPPED_LOSSES
from percontrast.experiments.results import LOSS_NAMES, METRIC_NAMES, ResultSet, Stat, Table, gain

SPREAD_NOTE = "`~`: the difference is inside the spread over seeds (|a - b| <= sd_a + sd_b)."


def _cell(stat: Stat | None, digits: int = 4) -> str:
    return "-" if stat is None else stat.text(digits)


def _choice_note(results: ResultSet, model: str, tasks: list[str]) -> str:
    parts = []
    for task in tasks:
        for loss in results.losses:
            choice = results.chosen(model, loss, task)
            if choice:
                clip = (
                    f", clip ({choice['clip_min']:g}, {choice['clip_max']:g})" if "clip_min" in choice else ""
                )
                parts.append(
                    f"{LOSS_NAMES[loss]}/{results.label(task)}: lr {choice['learning_rate']:g}{clip}"
                )
    return f"{model}: " + "; ".join(parts)


def table_methods(results: ResultSet, key: str, title: str, sources: tuple[str, ...]) -> list[Table]:
    """Tables 1 and 5: methods x in-domain tasks x (ROUGE-L, METEOR), Average, Gain against CE."""
    tasks = results.tasks(sources)
    if not tasks:
        return []
    header = ["Model", "Method"] + [
        f"{results.label(t)} {METRIC_NAMES[m]}" for t in tasks for m in ("rougeL", "meteor")
    ]
    header += ["Average ROUGE-L", "Average METEOR"]
    table = Table(key, title, header, notes=[SPREAD_NOTE, "Gain: (PerCE - CE) / CE."])
    for model in results.models:
        stats: dict[str, list[Stat | None]] = {}
        for loss in results.losses:
            row = []
            for task in tasks:
                choice = results.chosen(model, loss, task)
                for metric in ("rougeL", "meteor"):
                    row.append(
                        None
                        if choice is None
                        else results.stat(**choice, eval="lexical", target=task, metric=metric)
                    )
            for offset in (0, 1):
                column = row[offset::2][: len(tasks)]
                row.append(_average(column))
            stats[loss] = row
            table.rows.append([model, LOSS_NAMES[loss]] + [_cell(s) for s in row])
        if "ce" in stats and "perce" in stats:
            table.rows.append(
                [model, "Gain"] + [gain(p, c) for p, c in zip(stats["perce"], stats["ce"], strict=True)]
            )
        table.notes.append(
            "Chosen cells (best in-domain ROUGE-L over learning rates): "
            + _choice_note(results, model, tasks)
        )
    return [table]


def _average(stats: list[Stat | None]) -> Stat | None:
    """Mean over tasks, seed by seed (so the spread of the average is over seeds too)."""
    if not stats or any(s is None for s in stats):
        return None
    n = min(len(s.values) for s in stats)
    return Stat([statistics.fmean(s.values[i] for s in stats) for i in range(n)])


def table_lr_sweep(results: ResultSet) -> list[Table]:
    """Table 2: in-domain ROUGE-L per learning rate, with Mean and Variance x 1e4 over the rates."""
    tables = []
    tasks = results.tasks()
    for model in results.models:
        for loss in results.losses:
            rates = results.learning_rates(model=model, loss=loss)
            if not rates:
                continue
            table = Table(
                "table2",
                f"Table 2 ({model}, {LOSS_NAMES[loss]}): ROUGE-L across learning rates",
                ["LR"] + [results.label(t) for t in tasks],
                notes=[
                    "Mean and Variance over the learning rates of the per-rate means; variance is the "
                    "population variance x 1e4, as the paper."
                ],
            )
            means: dict[str, list[float]] = defaultdict(list)
            plot = {}
            for lr in rates:
                row = [f"{lr:g}"]
                for task in tasks:
                    where = {"model": model, "loss": loss, "task": task, "learning_rate": lr}
                    if loss in CLIPPED_LOSSES:
                        choice = results.chosen(model, loss, task)
                        where |= (
                            {"clip_min": choice["clip_min"], "clip_max": choice["clip_max"]} if choice else {}
                        )
                    stat = results.stat(**where, eval="lexical", target=task, metric="rougeL")
                    row.append(_cell(stat))
                    if stat is not None:
                        means[task].append(stat.mean)
                        plot.setdefault(results.label(task), []).append((lr, stat.mean, stat.sd))
                table.rows.append(row)
            table.rows.append(
                ["Mean"] + [f"{statistics.fmean(means[t]):.4f}" if means[t] else "-" for t in tasks]
            )
            table.rows.append(
                ["Variance"]
                + [f"{1e4 * statistics.pvariance(means[t]):.3f}" if means[t] else "-" for t in tasks]
            )
            table.plot = {"kind": "lr", "series": plot, "title": f"{model} {LOSS_NAMES[loss]}"}
            tables.append(table)
    return tables


def table_cross_task(results: ResultSet) -> list[Table]:
    """Table 3: source task x method rows, target task columns (ROUGE-L), Gain rows."""
    tables = []
    for model in results.models:
        sources = results.tasks()
        targets = sorted(
            {r["target"] for r in results.rows if r["eval"] == "lexical" and r["model"] == model},
            key=lambda t: list(results.labels).index(t) if t in results.labels else 99,
        )
        if len(targets) < 2:
            continue
        table = Table(
            "table3",
            f"Table 3 ({model}): cross-task ROUGE-L (rows: source, columns: target)",
            ["Source", "Method"] + [results.label(t) for t in targets],
            notes=[SPREAD_NOTE],
        )
        for source in sources:
            stats = {}
            for loss in results.losses:
                choice = results.chosen(model, loss, source)
                stats[loss] = [
                    None
                    if choice is None
                    else results.stat(**choice, eval="lexical", target=t, metric="rougeL")
                    for t in targets
                ]
                table.rows.append([results.label(source), LOSS_NAMES[loss]] + [_cell(s) for s in stats[loss]])
            if "ce" in stats and "perce" in stats:
                table.rows.append(
                    [results.label(source), "Gain"]
                    + [gain(p, c) for p, c in zip(stats["perce"], stats["ce"], strict=True)]
                )
        tables.append(table)
    return tables


def table_aloe(results: ResultSet) -> list[Table]:
    """Table 4: ALOE AL(k), k = 6..10, and their average, per source task and method."""
    keys = [f"AL{k}" for k in range(6, 11)]
    if not any(r["eval"] == "aloe" for r in results.rows):
        return []
    tables = []
    for model in results.models:
        table = Table(
            "table4",
            f"Table 4 ({model}): ALOE alignment level AL(k)",
            ["Source", "Method"] + [f"k={k}" for k in range(6, 11)] + ["Average"],
            notes=[SPREAD_NOTE, "Gain: PerCE - CE (absolute, 1-5 scale)."],
        )
        for source in results.tasks():
            stats = {}
            for loss in results.losses:
                choice = results.chosen(model, loss, source)
                stats[loss] = [
                    None if choice is None else results.stat(**choice, eval="aloe", metric=key)
                    for key in keys + ["AL_avg"]
                ]
                table.rows.append(
                    [results.label(source), LOSS_NAMES[loss]] + [_cell(s, 2) for s in stats[loss]]
                )
            if "ce" in stats and "perce" in stats:
                table.rows.append(
                    [results.label(source), "Gain"]
                    + [gain(p, c, relative=False) for p, c in zip(stats["perce"], stats["ce"], strict=True)]
                )
        tables.append(table)
    return tables


def table_prompt_lengths(results: ResultSet) -> list[Table]:
    """Table 6: mean prompt tokens of the test examples with and without the persona."""
    tables = []
    for model in results.models:
        tasks = sorted(
            {r["task"] for r in results.rows if r["eval"] == "data" and r["model"] == model},
            key=lambda t: list(results.labels).index(t) if t in results.labels else 99,
        )
        if not tasks:
            continue
        table = Table(
            "table6",
            f"Table 6 ({model} tokenizer): prompt length with and without the persona",
            ["Setting"] + [results.label(t) for t in tasks] + ["Average"],
        )
        for name, metric in (
            ("w. Persona", "prompt_tokens_with_persona"),
            ("w.o. Persona", "prompt_tokens_without_persona"),
        ):
            values = [results.stat(model=model, eval="data", task=t, metric=metric) for t in tasks]
            means = [v.mean for v in values if v is not None]
            table.rows.append(
                [name]
                + [f"{v.mean:.1f}" if v else "-" for v in values]
                + [f"{statistics.fmean(means):.1f}" if means else "-"]
            )
        tables.append(table)
    return tables


def table_judge(results: ResultSet) -> list[Table]:
    """Table 10: the judge's personalization and quality scores (quality: mean of the four dimensions).

    The judge also records a per-item ``quality`` (mean of an item's four scores, None where one did
    not parse); it is left out here, since averaging it with the four would count them twice.
    """
    if not any(r["eval"] == "judge" for r in results.rows):
        return []
    tables = []
    tasks = results.tasks()
    for model in results.models:
        table = Table(
            "table10",
            f"Table 10 ({model}): LLM-judge personalization and quality (1-5)",
            ["Method"]
            + [f"{results.label(t)} {c}" for t in tasks for c in ("Personalization", "Quality")]
            + ["Average Personalization", "Average Quality"],
            notes=[
                SPREAD_NOTE,
                f"Quality: the mean of the judge's four dimensions ({', '.join(QUALITY_DIMENSIONS)}).",
            ],
        )
        stats = {}
        for loss in results.losses:
            row = []
            for task in tasks:
                choice = results.chosen(model, loss, task)
                rows = (
                    []
                    if choice is None
                    else [
                        r
                        for r in results.rows
                        if r["eval"] == "judge"
                        and r["target"] == task
                        and all(r.get(k) == v for k, v in choice.items())
                    ]
                )
                row.append(_by_seed([r for r in rows if r["metric"] == "personalization"]))
                row.append(_by_seed([r for r in rows if r["metric"] in QUALITY_DIMENSIONS]))
            row += [_average(row[0::2][: len(tasks)]), _average(row[1::2][: len(tasks)])]
            stats[loss] = row
            table.rows.append([LOSS_NAMES[loss]] + [_cell(s, 3) for s in row])
        if "ce" in stats and "perce" in stats:
            table.rows.append(
                ["Gain"] + [gain(p, c) for p, c in zip(stats["perce"], stats["ce"], strict=True)]
            )
        table.notes += _judged_subsets(results, model)
        tables.append(table)
    return tables


def _judged_subsets(results: ResultSet, model: str) -> list[str]:
    """A note per task whose predictions were judged in part (``evaluation.judge.limit``)."""
    n_test = {
        (r["cell"], r["target"]): r["value"]
        for r in results.rows
        if r["eval"] == "data" and r["metric"] == "n_test" and r["model"] == model
    }
    subsets: dict[str, set[tuple[int, int]]] = defaultdict(set)
    for r in results.rows:
        if r["eval"] != "judge" or r["model"] != model or r.get("n") is None:
            continue
        total = n_test.get((r["cell"], r["target"]))
        if total and r["n"] < total:
            subsets[r["target"]].add((r["n"], int(total)))
    return [
        f"{results.label(task)}: judged on the first {' / '.join(f'{n} of {total}' for n, total in sorted(pairs))} "
        "test predictions (evaluation.judge.limit), not the whole test set."
        for task, pairs in sorted(subsets.items())
    ]


def _by_seed(rows: list[dict]) -> Stat | None:
    """Mean over the rows of each seed, then a `Stat` over seeds."""
    per_seed: dict[int, list[float]] = defaultdict(list)
    for row in rows:
        per_seed[row["seed"]].append(row["value"])
    return Stat([statistics.fmean(v) for _, v in sorted(per_seed.items())]) if per_seed else None


def table_qa(results: ResultSet) -> list[Table]:
    """Table 11: general QA (lm-evaluation-harness) per model and method, x 100."""
    qa_rows = [r for r in results.rows if r["eval"] == "qa" and r["metric"] != "n"]  # n: a count
    if not qa_rows:
        return []
    columns = sorted({(r["target"], r["metric"]) for r in qa_rows})
    table = Table(
        "table11",
        "Table 11: general QA (lm-evaluation-harness), scores x 100",
        ["Model", "Source", "Method"] + [f"{t} {m}" for t, m in columns],
        notes=[SPREAD_NOTE],
    )
    for model in results.models:
        for source in results.tasks():
            for loss in results.losses:
                choice = results.chosen(model, loss, source)
                if choice is None:
                    continue
                cells = []
                for target, metric in columns:
                    stat = results.stat(**choice, eval="qa", target=target, metric=metric)
                    cells.append(_cell(None if stat is None else Stat([100 * v for v in stat.values]), 1))
                table.rows.append([model, results.label(source), LOSS_NAMES[loss]] + cells)
    return [table]


def table_clip(results: ResultSet) -> list[Table]:
    """Table 12: PerCE in-domain ROUGE-L over the clip grid (rows m, columns M), per task."""
    tables = []
    for model in results.models:
        for task in results.tasks():
            clips = results.clips(model, task)
            choice = results.chosen(model, "perce", task)
            if not clips or choice is None:  # no ROUGE-L to choose the learning rate by (all NaN, say)
                continue
            mins, maxs = sorted({c[0] for c in clips}), sorted({c[1] for c in clips})
            table = Table(
                "table12",
                f"Table 12 ({model}, {results.label(task)}): PerCE ROUGE-L, rows m, columns M",
                ["m \\ M"] + [f"{v:g}" for v in maxs],
                notes=[f"learning rate {choice['learning_rate']:g} (the one Table 1 uses)"],
            )
            for low in mins:
                row = [f"{low:g}"]
                for high in maxs:
                    stat = results.stat(
                        model=model,
                        loss="perce",
                        task=task,
                        learning_rate=choice["learning_rate"],
                        clip_min=low,
                        clip_max=high,
                        eval="lexical",
                        target=task,
                        metric="rougeL",
                    )
                    row.append(_cell(stat))
                table.rows.append(row)
            tables.append(table)
    return tables


def table_token_groups(results: ResultSet) -> list[Table]:
    """NLL per token by token group (issue 21), per model and task: each loss at its chosen learning rate
    (the rate Table 1 uses), then every learning rate; each with its paired differences from CE. The
    ``personal - rest`` column is the gap NLL(reference_personal) - NLL(reference_rest), which PerCE should
    narrow."""
    group_rows = [r for r in results.rows if r["eval"] == "groups"]
    if not group_rows:
        return []
    tables = []
    for model in results.models:
        for task in results.tasks():
            present = {
                r["metric"][4:] for r in group_rows if r["task"] == task and r["metric"].startswith("nll_")
            }
            groups = [g for g in GROUPS if g in present]
            if not groups:
                continue
            counts = {
                g: next(r["n"] for r in group_rows if r["task"] == task and r["metric"] == f"nll_{g}")
                for g in groups
            }
            chosen = {loss: results.chosen(model, loss, task) for loss in results.losses}
            chosen = {loss: where for loss, where in chosen.items() if where is not None}
            table = Table(
                "token_groups",
                f"NLL per token by token group ({model}, {results.label(task)})",
                ["Method"] + [f"{g} ({counts[g]} tok)" for g in groups] + ["personal - rest"],
                notes=[
                    "Groups are fixed by the untrained base model (PIR above evaluation.group_threshold), the same "
                    "tokens for every cell; `all` is the whole-response NLL. Mean ± sd over seeds, each loss at the "
                    "learning rate the other tables use. Per-example sums for a paired bootstrap: "
                    "cells/<id>/token_groups.json.",
                    SPREAD_NOTE,
                ],
            )
            table.rows = [
                [LOSS_NAMES[loss]] + _group_cells(results, where, task, groups)
                for loss, where in chosen.items()
            ]
            tables.append(table)
            paired = _paired_nll(results, task, chosen)
            if paired is not None:
                method, differences = paired
                table = Table(
                    "token_groups_paired",
                    f"NLL per token by token group, minus CE ({model}, {results.label(task)})",
                    ["Method"] + groups,
                    notes=[method],
                )
                table.rows = [
                    [LOSS_NAMES[loss]] + [_interval_text(*differences[loss][g]) for g in groups]
                    for loss in differences
                ]
                tables.append(table)
            tables += _token_groups_by_rate(results, model, task, groups)
    return tables


def _token_groups_by_rate(results: ResultSet, model: str, task: str, groups: list[str]) -> list[Table]:
    """The group table and the paired differences from CE at every learning rate of the grid, with a plot
    of each loss's difference per group against the rate."""
    label = results.label(task)
    by_rate = _settings_by_rate(results, model, task, "groups")
    if len(by_rate) < 2:  # one rate: the tables above already show it
        return []
    table = Table(
        "token_groups_lr",
        f"NLL per token by token group and learning rate ({model}, {label})",
        ["Method", "lr"] + groups + ["personal - rest"],
        notes=["Mean ± sd over seeds, on the same tokens as above.", SPREAD_NOTE],
    )
    for loss in results.losses:
        for lr in sorted(by_rate):
            if loss in by_rate[lr]:
                table.rows.append(
                    [LOSS_NAMES[loss], f"{lr:g}"] + _group_cells(results, by_rate[lr][loss], task, groups)
                )
    tables = [table]
    paired = Table(
        "token_groups_paired_lr",
        f"NLL per token by token group and learning rate, minus CE ({model}, {label})",
        ["Method", "lr"] + groups,
    )
    plot: dict[str, list[tuple[float, float, float, float]]] = {}
    for lr in sorted(by_rate):
        if "ce" not in by_rate[lr] or len(by_rate[lr]) < 2:
            continue
        found = _paired_nll(results, task, by_rate[lr])
        if found is None:
            continue
        method, differences = found
        _add_paired(paired, plot, lr, differences, {group: group for group in groups})
        paired.notes = [method]
    if paired.rows:
        paired.plot = {
            "kind": "lr_interval",
            "series": plot,
            "title": f"{model} {label}: NLL minus CE, 95% intervals",
            "ylabel": "NLL per token, minus CE (nats)",
        }
        tables.append(paired)
    return tables


def _settings_by_rate(
    results: ResultSet, model: str, task: str, kind: str, **where: Any
) -> dict[float, dict]:
    """lr -> loss -> the loss's cell settings at that rate (`ResultSet.settings` plus the learning rate), for
    the rates that have rows of eval ``kind`` (and ``where``)."""
    by_rate: dict[float, dict[str, dict]] = defaultdict(dict)
    for loss in results.losses:
        settings = results.settings(model, loss, task)
        if settings is None:
            continue
        for lr in results.learning_rates(**settings, eval=kind, **where):
            by_rate[lr][loss] = settings | {"learning_rate": lr}
    return by_rate


def _add_paired(
    table: Table,
    plot: dict[str, list[tuple[float, float, float, float]]],
    lr: float,
    differences: dict[str, dict[str, tuple]],
    columns: dict[str, str],
    digits: int = 3,
) -> None:
    """One row per loss of its differences from CE at ``lr`` (``columns``: key -> name in the plot's series),
    and each difference with an interval as a point of the plot's series ``"<loss>: <name>"``."""
    for loss, by_key in differences.items():
        triples = {key: by_key.get(key, (None, None, None)) for key in columns}
        table.rows.append(
            [LOSS_NAMES[loss], f"{lr:g}"]
            + [_interval_text(*triple, digits=digits) for triple in triples.values()]
        )
        for key, (mean, low, high) in triples.items():
            if mean is not None and low is not None:
                plot.setdefault(f"{LOSS_NAMES[loss]}: {columns[key]}", []).append((lr, mean, low, high))


def _cells_of(results: ResultSet, where: dict, kind: str = "groups") -> list[str]:
    """The ids of the cells (one per seed) with rows of eval ``kind`` under the settings ``where``."""
    return sorted(
        {
            r["cell"]
            for r in results.rows
            if r["eval"] == kind and all(r.get(k) == v for k, v in where.items())
        }
    )


def table_replies_paired(results: ResultSet) -> list[Table]:
    """Each loss minus CE in ROUGE-L and METEOR of the in-domain replies, at every learning rate CE has,
    with 95% paired bootstrap intervals over the generated examples and the seeds (from the cells'
    per-example scores, `experiments.replies`); a plot of the differences against the rate."""
    from percontrast.experiments.replies import paired_replies

    tables = []
    for model in results.models:
        for task in results.tasks():
            by_rate = _settings_by_rate(results, model, task, "lexical", target=task)
            label = results.label(task)
            table = Table(
                "replies_paired",
                f"ROUGE-L and METEOR minus CE, paired ({model}, {label})",
                ["Method", "lr", "ROUGE-L", "METEOR"],
            )
            plot: dict[str, list[tuple[float, float, float, float]]] = {}
            for lr in sorted(by_rate):
                if "ce" not in by_rate[lr]:
                    continue
                cells = {
                    loss: _cells_of(results, where | {"target": task}, "lexical")
                    for loss, where in by_rate[lr].items()
                }
                found = paired_replies(results.path.parent, task, cells)
                if found is None:
                    continue
                method, differences, _ = found
                table.notes = [method]
                names = {metric: METRIC_NAMES[metric] for metric in ("rougeL", "meteor")}
                _add_paired(table, plot, lr, differences, names, digits=4)
            if table.rows:
                table.plot = {
                    "kind": "lr_interval",
                    "series": plot,
                    "title": f"{model} {label}: reply scores minus CE, 95% intervals",
                    "ylabel": "score minus CE",
                }
                tables.append(table)
    return tables


def _group_cells(results: ResultSet, where: dict, task: str, groups: list[str]) -> list[str]:
    """One loss's NLL per group (mean ± sd over seeds) and its personal - rest gap, as table cells."""
    stats = [results.stat(**where, eval="groups", target=task, metric=f"nll_{g}") for g in groups]
    gap = None
    if "reference_personal" in groups:
        high = results.stat(**where, eval="groups", target=task, metric="nll_reference_personal")
        rest = results.stat(**where, eval="groups", target=task, metric="nll_reference_rest")
        if high and rest and len(high.values) == len(rest.values):
            gap = Stat([a - b for a, b in zip(high.values, rest.values, strict=True)])
    return [_cell(s, 3) for s in stats] + [_cell(gap, 3)]


def _paired_nll(
    results: ResultSet, task: str, settings: dict[str, dict]
) -> tuple[str, dict[str, dict[str, tuple]]] | None:
    """Each loss minus CE, NLL per group, with 95% paired bootstrap intervals over test examples and seeds
    (from the cells' per-example sums); ``settings``: loss -> its cell settings (CE among them).

    Returns the bootstrap's method line and loss -> group -> ``(mean, low, high)`` (None where absent), or
    None when a cell's sums are missing or no loss but CE has cells."""
    from percontrast.experiments.groups import paired_differences

    cells = {loss: _cells_of(results, where) for loss, where in settings.items()}
    summary = paired_differences(results.path.parent, task, cells)
    if summary is None or not summary["groups"]["all"]["differences"]:
        return None
    differences = {
        loss: {
            group: mean_and_interval(entry["differences"][loss]["nll"])
            for group, entry in summary["groups"].items()
        }
        for loss in summary["groups"]["all"]["differences"]
    }
    return summary["method"], differences


def _interval_text(mean: float | None, low: float | None, high: float | None, digits: int = 3) -> str:
    """``+0.123 [-0.010, +0.250]``, ``+0.123`` without an interval, ``-`` without a value."""
    if mean is None:
        return "-"
    return f"{mean:+.{digits}f}" + ("" if low is None else f" [{low:+.{digits}f}, {high:+.{digits}f}]")


def table_train_time(results: ResultSet) -> list[Table]:
    """Training wall time per cell by loss and learning rate, and its ratio to CE (the frozen-PIR ablation)."""
    time_rows = [r for r in results.rows if r["eval"] == "train" and r["metric"] == "train_seconds"]
    if not time_rows:
        return []
    table = Table(
        "train_time",
        "Training time per cell (s) and ratio to CE at the same learning rate",
        ["Model", "Task", "Method", "lr", "seconds", "ratio to CE"],
        notes=[
            "Wall time of each cell's training (a resumed cell counts its last part only); mean ± sd over seeds. "
            "A cell that shared its cores with other work took longer: compare cells run under the same load."
        ],
    )
    for model in results.models:
        for task in sorted({r["task"] for r in time_rows}):
            for loss in results.losses:
                for lr in results.learning_rates(model=model, loss=loss, task=task):
                    where = {
                        "model": model,
                        "task": task,
                        "learning_rate": lr,
                        "eval": "train",
                        "metric": "train_seconds",
                    }
                    stat = results.stat(**where, loss=loss)
                    if stat is None:
                        continue
                    ce = results.stat(**where, loss="ce")
                    ratio = f"{stat.mean / ce.mean:.2f}" if ce else "-"
                    table.rows.append(
                        [model, results.label(task), LOSS_NAMES[loss], f"{lr:g}", _cell(stat, 1), ratio]
                    )
    return [table]


def all_tables(results: ResultSet) -> list[tuple[str, list[Table]]]:
    """Every table of the paper the results can fill, keyed by its name (empty list: no data)."""
    return [
        (
            "Table 1",
            table_methods(
                results,
                "table1",
                "Table 1: in-domain ROUGE-L / METEOR by method",
                ("longlamp", "persona_chat"),
            ),
        ),
        ("Table 2", table_lr_sweep(results)),
        ("Replies, paired", table_replies_paired(results)),
        ("Table 3", table_cross_task(results)),
        ("Table 4", table_aloe(results)),
        (
            "Table 5",
            table_methods(results, "table5", "Table 5: LaMP tasks, ROUGE-L / METEOR by method", ("lamp",)),
        ),
        ("Table 6", table_prompt_lengths(results)),
        ("Table 10", table_judge(results)),
        ("Table 11", table_qa(results)),
        ("Table 12", table_clip(results)),
        ("Token groups", table_token_groups(results)),
        ("Training time", table_train_time(results)),
    ]
