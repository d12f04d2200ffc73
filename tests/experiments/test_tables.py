"""The paper's tables from a results table: Gain and Variance checked against the paper's own numbers
(Tables 1 and 2, Qwen3-4B) and an independent numpy computation; seeds' spread marking; rendering."""

from __future__ import annotations

import json

import numpy as np
import pytest

from percontrast.experiments.report import write_reports
from percontrast.experiments.results import ResultSet
from percontrast.experiments.tables import table_lr_sweep, table_methods, table_token_groups

TASKS = {"pag": "PAG", "prw": "PRW", "ptw": "PTW"}
# Paper Table 1, Qwen3-4B: (ROUGE-L, METEOR) per task.
TABLE1 = {
    "ce": {"pag": (0.3727, 0.3225), "prw": (0.1898, 0.1583), "ptw": (0.1665, 0.1379)},
    "perce": {"pag": (0.3619, 0.3342), "prw": (0.2668, 0.2660), "ptw": (0.2102, 0.2018)},
}
TABLE1_GAINS = ["-2.90%", "+3.63%", "+40.57%", "+68.04%", "+26.25%", "+46.34%"]
# Paper Table 2 (a) PerCE and (b) CE, PAG column, learning rate -> ROUGE-L; variances 1.800 and 44.65.
TABLE2_PAG = {
    "perce": {2e-6: 0.3247, 5e-6: 0.3469, 8e-6: 0.3561, 2e-5: 0.3619, 5e-5: 0.3585},
    "ce": {2e-6: 0.3560, 5e-6: 0.3728, 8e-6: 0.3687, 2e-5: 0.2339, 5e-5: 0.2261},
}


def _run_record():
    tasks = {name: {"source": "longlamp", "label": label} for name, label in TASKS.items()}
    return {
        "kind": "run",
        "run": "r",
        "config": {"name": "synthetic", "tasks": tasks},
        "task_order": list(TASKS),
        "versions": {},
        "git_commit": None,
        "host": "h",
        "time": "t",
    }


def _metric(loss, task, lr, metric, value, seed=0):
    clip = (0.8, 5.0) if loss == "perce" else (None, None)
    cell = f"m__{task}__{loss}__lr{lr:g}__s{seed}"
    return {
        "kind": "metric",
        "run": "r",
        "cell": cell,
        "model": "Qwen3-4B",
        "loss": loss,
        "task": task,
        "learning_rate": lr,
        "clip_min": clip[0],
        "clip_max": clip[1],
        "seed": seed,
        "eval": "lexical",
        "target": task,
        "metric": metric,
        "value": value,
        "n": 500,
    }


def _write(path, metrics):
    cells = {r["cell"] for r in metrics}
    lines = [_run_record(), *metrics] + [{"kind": "cell", "cell": c, "status": "ok"} for c in cells]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def test_table1_gain_row_matches_the_paper(tmp_path):
    rows = []
    for loss, tasks in TABLE1.items():
        for task, (rouge_l, meteor) in tasks.items():
            rows += [
                _metric(loss, task, 2e-5, "rougeL", rouge_l),
                _metric(loss, task, 2e-5, "meteor", meteor),
            ]
    (table,) = table_methods(ResultSet(_write(tmp_path / "r.jsonl", rows)), "table1", "T1", ("longlamp",))
    gain = next(row for row in table.rows if row[1] == "Gain")
    assert gain[2:8] == TABLE1_GAINS
    # Average columns against an independent computation from the per-task values.
    ce = np.array([TABLE1["ce"][t] for t in TASKS]).mean(axis=0)
    perce = np.array([TABLE1["perce"][t] for t in TASKS]).mean(axis=0)
    assert gain[8:] == [f"{100 * (p - c) / c:+.2f}%" for p, c in zip(perce, ce, strict=True)]
    ce_row = next(row for row in table.rows if row[1] == "CE")
    assert ce_row[8] == f"{ce[0]:.4f}" == "0.2430"  # the paper's CE Average ROUGE-L


def test_table2_mean_and_variance_match_the_paper(tmp_path):
    rows = [
        _metric(loss, "pag", lr, "rougeL", v) for loss, rates in TABLE2_PAG.items() for lr, v in rates.items()
    ]
    tables = table_lr_sweep(ResultSet(_write(tmp_path / "r.jsonl", rows)))
    by_loss = {t.title.split(", ")[1].split(")")[0]: t for t in tables}
    for loss, name, paper_mean, paper_variance in (
        ("perce", "PerCE", 0.3496, 1.800),
        ("ce", "CE", 0.3115, 44.65),
    ):
        table = by_loss[name]
        mean_row, variance_row = table.rows[-2], table.rows[-1]
        values = np.array(list(TABLE2_PAG[loss].values()))
        assert float(mean_row[1]) == pytest.approx(values.mean(), abs=5e-5)
        assert float(mean_row[1]) == pytest.approx(paper_mean, abs=1e-4)
        assert float(variance_row[1]) == pytest.approx(1e4 * values.var(ddof=0), abs=1e-3)
        assert float(variance_row[1]) == pytest.approx(paper_variance, rel=2e-3)
        assert table.plot and len(table.plot["series"]["PAG"]) == 5


def test_seeds_show_spread_and_mark_gains_inside_it(tmp_path):
    rows = []
    for seed, (ce, perce_close, perce_far) in enumerate([(0.30, 0.31, 0.40), (0.32, 0.30, 0.42)]):
        rows += [
            _metric("ce", "pag", 1e-5, "rougeL", ce, seed),
            _metric("ce", "pag", 1e-5, "meteor", ce, seed),
        ]
        rows += [_metric("perce", "pag", 1e-5, "rougeL", perce_close, seed)]
        rows += [_metric("perce", "pag", 1e-5, "meteor", perce_far, seed)]
    (table,) = table_methods(ResultSet(_write(tmp_path / "r.jsonl", rows)), "table1", "T1", ("longlamp",))
    ce_row = next(row for row in table.rows if row[1] == "CE")
    assert ce_row[2] == f"0.3100 ± {np.std([0.30, 0.32], ddof=1):.4f}"
    gain = next(row for row in table.rows if row[1] == "Gain")
    assert gain[2].endswith(" ~")  # ROUGE-L: 0.305 vs 0.31, inside the spread
    assert not gain[3].endswith("~")  # METEOR: 0.41 vs 0.31, outside


def test_failed_cells_stay_out_and_reports_render(tmp_path):
    rows = [_metric("ce", "pag", 1e-5, "rougeL", 0.3), _metric("ce", "pag", 1e-5, "meteor", 0.2)]
    path = _write(tmp_path / "r.jsonl", rows)
    bad = _metric("perce", "pag", 1e-5, "rougeL", 0.9)
    with path.open("a") as handle:
        handle.write(
            json.dumps(bad)
            + "\n"
            + json.dumps({"kind": "cell", "cell": bad["cell"], "status": "failed"})
            + "\n"
        )
    results = ResultSet(path)
    assert results.losses == ["ce"] and results.failed == [bad["cell"]]
    paths = write_reports(path, tmp_path / "report")
    text = (tmp_path / "report" / "report.md").read_text()
    assert "failed cells (not in the tables)" in text and "No results for Table 4" in text
    assert (tmp_path / "report" / "report.html").read_text().startswith("<!doctype html>")
    assert any(p.suffix == ".png" for p in paths)


def test_table10_quality_is_the_mean_of_the_four_dimensions_only(tmp_path):
    from percontrast.experiments.tables import table_judge

    rows = [_metric(loss, "pag", 2e-5, "rougeL", 0.3) for loss in ("ce", "perce")]
    judged = {"personalization": 3.0, "coherence": 4.0, "consistency": 4.0, "fluency": 2.0, "relevance": 2.0}
    # the per-item quality mean differs from the mean of the four when an item's reply did not parse
    judged["quality"] = 5.0
    for loss in ("ce", "perce"):
        rows += [
            _metric(loss, "pag", 2e-5, name, value) | {"eval": "judge"} for name, value in judged.items()
        ]
    (table,) = table_judge(ResultSet(_write(tmp_path / "r.jsonl", rows)))
    assert table.rows[0][table.header.index("PAG Quality")] == "3.000"  # (4 + 4 + 2 + 2) / 4, not 3.4


def _group_cell(out, cell, loss, lr, seed, nll, tokens):
    """One cell's token-group rows and per-example sums: ``nll`` and ``tokens`` map group -> per example."""
    sums = {
        "reference": "base",
        "threshold": 1.0,
        "ids": ["a", "b", "c"],
        "nll_sum": nll,
        "pir_sum": {g: [0.0] * 3 for g in nll},
        "n_tokens": tokens,
    }
    (out / "cells" / cell).mkdir(parents=True)
    (out / "cells" / cell / "token_groups.json").write_text(json.dumps(sums))
    clip = (0.8, 5.0) if loss == "perce" else (None, None)
    common = {"kind": "metric", "run": "r", "cell": cell, "model": "m", "loss": loss, "task": "pag"}
    common |= {"learning_rate": lr, "clip_min": clip[0], "clip_max": clip[1], "seed": seed}
    rows = [common | {"eval": "lexical", "target": "pag", "metric": "rougeL", "value": 0.3, "n": 3}]
    for group in nll:
        value = sum(nll[group]) / sum(tokens[group])
        rows.append(
            common | {"eval": "groups", "target": "pag", "metric": f"nll_{group}", "value": value, "n": 9}
        )
    return rows


def test_token_groups_by_learning_rate(tmp_path):
    """Every learning rate gets its group row and its paired difference from CE (issue 26), checked
    against numpy on the cells' per-example sums; the report draws the differences against the rate."""
    out = tmp_path / "grid"
    masks = {
        g: [[True, False], [False, True], [True, True]]
        for g in ("reference_personal", "reference_rest", "all")
    }
    groups_file = out / "data" / "m" / "pag" / "token_groups.json"
    groups_file.parent.mkdir(parents=True)
    groups_file.write_text(
        json.dumps({"ids": ["a", "b", "c"], "token_ids": [[1, 2], [3, 4], [5, 6]], "masks": masks,
                    "reference": "base", "threshold": 1.0})
    )  # fmt: skip
    rng = np.random.default_rng(0)
    tokens = {"reference_personal": [1, 1, 1], "reference_rest": [2, 3, 4], "all": [3, 4, 5]}
    rows, pooled = [], {}
    for loss in ("ce", "perce"):
        for lr in (1e-5, 1e-4):
            for seed in (0, 1):
                nll = {g: (rng.uniform(1, 3, 3) * np.array(tokens[g])).tolist() for g in tokens}
                cell = f"m__pag__{loss}__lr{lr:g}__s{seed}"
                rows += _group_cell(out, cell, loss, lr, seed, nll, tokens)
                for g in tokens:
                    pooled.setdefault((loss, lr, g), []).append(sum(nll[g]) / sum(tokens[g]))
    path = _write(out / "results.jsonl", rows)
    tables = {t.title: t for t in table_token_groups(ResultSet(path))}
    by_rate = tables["NLL per token by token group and learning rate (m, PAG)"]
    assert [row[:2] for row in by_rate.rows] == [
        ["CE", "1e-05"],
        ["CE", "0.0001"],
        ["PerCE", "1e-05"],
        ["PerCE", "0.0001"],
    ]
    for row in by_rate.rows:
        loss, lr = {"CE": "ce", "PerCE": "perce"}[row[0]], float(row[1])
        assert float(row[2].split(" ± ")[0]) == pytest.approx(
            np.mean(pooled[(loss, lr, "reference_personal")]), abs=5e-4
        )
    paired = tables["NLL per token by token group and learning rate, minus CE (m, PAG)"]
    assert [row[:2] for row in paired.rows] == [["PerCE", "1e-05"], ["PerCE", "0.0001"]]
    for row in paired.rows:
        lr = float(row[1])
        for column, group in enumerate(("reference_personal", "reference_rest", "all"), start=2):
            expected = np.mean(pooled[("perce", lr, group)]) - np.mean(pooled[("ce", lr, group)])
            mean, interval = row[column].split(" [")
            assert float(mean) == pytest.approx(expected, abs=5e-4)
            low, high = (float(v) for v in interval.rstrip("]").split(", "))
            assert low <= float(mean) <= high
    assert set(paired.plot["series"]) == {f"PerCE: {g}" for g in tokens}
    assert [point[0] for point in paired.plot["series"]["PerCE: all"]] == [1e-5, 1e-4]
    written = write_reports(path, tmp_path / "report")
    assert any(p.name.startswith("token_groups_paired_lr") and p.stat().st_size > 0 for p in written)


def _reply_cell(out, cell, loss, lr, seed, ids, scores):
    """One cell's lexical rows and per-example reply scores (``scores``: metric -> per id)."""
    folder = out / "cells" / cell / "scores"
    folder.mkdir(parents=True)
    (folder / "pag.json").write_text(json.dumps({"ids": ids, **scores}))
    clip = (0.8, 5.0) if loss == "perce" else (None, None)
    common = {"kind": "metric", "run": "r", "cell": cell, "model": "m", "loss": loss, "task": "pag"}
    common |= {"learning_rate": lr, "clip_min": clip[0], "clip_max": clip[1], "seed": seed}
    return [
        common | {"eval": "lexical", "target": "pag", "metric": m, "value": float(np.mean(v)), "n": len(ids)}
        for m, v in scores.items()
    ]


def test_reply_scores_minus_ce_with_paired_intervals(tmp_path):
    """PerCE minus CE in ROUGE-L and METEOR at each rate, from per-example scores, against numpy: the point
    is the difference of the seed-mean of example means, and the interval a two-level bootstrap (seeds, then
    examples, from numpy's default_rng(0), 1000 resamples) computed here independently. One cell scored an
    example fewer (an empty-text drop): that example is left out of every cell, and the note says so."""
    from percontrast.experiments.tables import table_replies_paired

    out = tmp_path / "grid"
    ids = [f"e{i}" for i in range(6)]
    rng = np.random.default_rng(1)
    rows, kept = [], {}
    for loss in ("ce", "perce"):
        for lr in (1e-5, 1e-4):
            for seed in (0, 1, 2):
                scores = {m: rng.uniform(0, 0.5, 6).tolist() for m in ("rougeL", "meteor")}
                cell_ids = ids
                if (loss, lr, seed) == ("perce", 1e-4, 1):  # e3 dropped in this cell only
                    cell_ids = [i for i in ids if i != "e3"]
                    scores = {
                        m: [v for i, v in zip(ids, values, strict=True) if i != "e3"]
                        for m, values in scores.items()
                    }
                rows += _reply_cell(
                    out, f"m__pag__{loss}__lr{lr:g}__s{seed}", loss, lr, seed, cell_ids, scores
                )
                kept[(loss, lr, seed)] = dict(
                    zip(cell_ids, zip(scores["rougeL"], scores["meteor"], strict=True), strict=True)
                )
    path = _write(out / "results.jsonl", rows)
    (table,) = table_replies_paired(ResultSet(path))
    assert [row[:2] for row in table.rows] == [["PerCE", "1e-05"], ["PerCE", "0.0001"]]

    def matrix(loss, lr, common, column):  # seeds x examples
        return np.array([[kept[(loss, lr, s)][i][column] for i in common] for s in (0, 1, 2)])

    for row in table.rows:
        lr = float(row[1])
        common = [i for i in ids if lr == 1e-5 or i != "e3"]
        for column, text in enumerate(row[2:]):
            perce, ce = matrix("perce", lr, common, column), matrix("ce", lr, common, column)
            generator = np.random.default_rng(0)
            samples = []
            for _ in range(1000):
                seeds = generator.integers(0, 3, 3)
                generator.integers(0, 1, 0)  # the draw of the (absent) scored examples
                examples = generator.integers(0, len(common), len(common))
                samples.append(
                    perce[seeds][:, examples].mean(axis=1).mean() - ce[seeds][:, examples].mean(axis=1).mean()
                )
            low, high = np.percentile(samples, [2.5, 97.5])
            expected = f"{perce.mean(axis=1).mean() - ce.mean(axis=1).mean():+.4f} [{low:+.4f}, {high:+.4f}]"
            assert text == expected
    assert "5 generated examples (1 scored by some cells only, left out)" in table.notes[0]
    assert set(table.plot["series"]) == {"PerCE: ROUGE-L", "PerCE: METEOR"}
    written = write_reports(path, tmp_path / "report")
    assert any(p.name.startswith("replies_paired") and p.stat().st_size > 0 for p in written)
