"""Markdown and HTML reports (with plots) of the paper's tables, from a results table alone.

    percontrast report runs/experiments/x/results.jsonl --out runs/experiments/x/report

Writes ``report.md``, ``report.html`` (self-contained: plots embedded as PNG) and the plots as
``*.png`` beside them. Tables the results cannot fill say which config option produces them.
"""

from __future__ import annotations

import html
import logging
from pathlib import Path

from percontrast.experiments.results import ResultSet, Table
from percontrast.experiments.tables import all_tables
from percontrast.utils.plots import png_data_uri
from percontrast.utils.tables import markdown_table as render_table

logger = logging.getLogger(__name__)

# What produces each table, shown when the results have nothing for it.
HOW_TO_FILL = {
    "Table 1": "in-domain results on LongLaMP or persona_chat tasks",
    "Table 2": "a grid over learning rates",
    "Replies, paired": "CE and another loss with per-example reply scores (cells/<id>/scores/; "
    "`percontrast report --score-replies` writes them from the predictions)",
    "Table 3": "evaluation.cross_task: true with two or more tasks",
    "Table 4": "evaluation.aloe",
    "Table 5": "tasks with source: lamp",
    "Table 6": "any finished cell",
    "Table 10": "evaluation.judge",
    "Table 11": "evaluation.qa (lm-evaluation-harness)",
    "Table 12": "several grid.clips with loss perce",
    "Token groups": "evaluation.token_groups: true",
    "Training time": "cells trained by this version (train_seconds)",
}


def markdown_table(table: Table) -> str:
    lines = [f"### {table.title}", "", render_table(table.header, table.rows), ""] + [
        f"- {note}" for note in table.notes
    ]
    return "\n".join(lines) + "\n"


def html_table(table: Table) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in table.header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in table.rows
    )
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in table.notes)
    return f"<h3>{html.escape(table.title)}</h3><table><tr>{head}</tr>{body}</table><ul>{notes}</ul>"


def plot_table(table: Table, path: Path) -> Path | None:
    """Draw a table's plot against the learning rate: kind ``lr`` (Table 2: ROUGE-L, error bars of one sd
    over seeds) or ``lr_interval`` (differences from CE with 95% intervals, a line at 0: token groups, reply scores)."""
    if not table.plot:
        return None
    from percontrast.utils.plots import pyplot

    plt = pyplot()

    intervals = table.plot["kind"] == "lr_interval"
    figure, axis = plt.subplots(figsize=(8, 4) if intervals else (5, 3.2))
    series = table.plot["series"]
    # lr_interval labels are "<method>: <group>": one colour per group, one marker and line style per method.
    groups = list(dict.fromkeys(label.rpartition(": ")[2] for label in series))
    methods = list(dict.fromkeys(label.rpartition(": ")[0] for label in series))
    for index, (label, points) in enumerate(series.items()):
        if intervals:
            method, _, group = label.rpartition(": ")
            rates, means, lows, highs = zip(*points, strict=True)
            shift = 1 + 0.05 * (index - (len(series) - 1) / 2)  # side by side at each rate (log axis)
            errors = [
                [m - lo for m, lo in zip(means, lows, strict=True)],
                [hi - m for m, hi in zip(means, highs, strict=True)],
            ]
            axis.errorbar(
                [r * shift for r in rates],
                means,
                yerr=errors,
                capsize=3,
                label=label,
                color=f"C{groups.index(group)}",
                marker="osD^v"[methods.index(method) % 5],
                linestyle=("-", "--", ":", "-.")[methods.index(method) % 4],
            )
        else:
            rates, means, sds = zip(*points, strict=True)
            axis.errorbar(rates, means, yerr=sds, marker="o", capsize=3, label=label)
    if intervals:
        axis.axhline(0, color="grey", linewidth=0.8)
    axis.set_xscale("log")
    axis.set_xlabel("learning rate")
    axis.set_ylabel(table.plot.get("ylabel", "ROUGE-L"))
    axis.set_title(table.plot["title"])
    if intervals:
        axis.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.02, 1))
    else:
        axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def run_summary(results: ResultSet) -> list[str]:
    """Provenance lines: runs, commits, versions, failed cells."""
    lines = []
    for run in results.runs:
        versions = ", ".join(f"{k} {v}" for k, v in sorted((run.get("versions") or {}).items()))
        lines.append(
            f"run {run['run']} on {run.get('host', '?')} at {run.get('time', '?')}: "
            f"commit {run.get('git_commit')}; {versions}"
        )
    if results.cell_seconds:
        total = sum(results.cell_seconds.values())
        lines.append(
            f"{len(results.cell_seconds)} finished cells, {total:.0f} s of cell time ({total / 60:.1f} min)"
        )
    if results.failed:
        lines.append(f"failed cells (not in the tables): {', '.join(results.failed)}")
    return lines


def write_reports(results_path: str | Path, out: str | Path) -> list[Path]:
    """Write report.md, report.html and the plots of every table into ``out``; return the paths."""
    results = ResultSet(results_path)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    name = results.runs[-1]["config"]["name"] if results.runs else Path(results_path).parent.name
    markdown = [f"# Experiment {name}", "", f"From `{results_path}` ({len(results.rows)} metric rows).", ""]
    markdown += [f"- {line}" for line in run_summary(results)] + [""]
    body = [f"<h1>Experiment {html.escape(name)}</h1>", "<ul>"]
    body += [f"<li>{html.escape(line)}</li>" for line in run_summary(results)] + ["</ul>"]
    written = []
    for key, tables in all_tables(results):
        markdown.append(f"## {key}\n")
        body.append(f"<h2>{key}</h2>")
        if not tables:
            text = f"No results for {key}: it needs {HOW_TO_FILL[key]}."
            markdown.append(text + "\n")
            body.append(f"<p>{html.escape(text)}</p>")
        for index, table in enumerate(tables):
            markdown.append(markdown_table(table))
            body.append(html_table(table))
            png = plot_table(table, out / f"{table.key}_{index}.png")
            if png is not None:
                written.append(png)
                markdown.append(f"![{table.title}]({png.name})\n")
                body.append(f'<img alt="{html.escape(table.title)}" src="{png_data_uri(png)}">')
    style = "table{border-collapse:collapse}td,th{border:1px solid #999;padding:2px 6px;text-align:right}"
    page = f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(name)}</title><style>{style}</style></head><body>{''.join(body)}</body></html>\n"
    (out / "report.md").write_text("\n".join(markdown), encoding="utf-8")
    (out / "report.html").write_text(page, encoding="utf-8")
    written = [out / "report.md", out / "report.html", *written]
    logger.info("wrote %s", ", ".join(str(p) for p in written))
    return written
