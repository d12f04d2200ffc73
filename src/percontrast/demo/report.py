"""The demo's single-file HTML report: heatmap, identification, training curves, CE-vs-PerCE comparison.

Self-contained: the CSS is inline, the figures are PNGs inlined as base64 ``data:`` URIs, no scripts.
Each section has an id (``heatmap``, ``identification``, ``training``, ``comparison``, ``samples``) so
tests (and readers) can find it. `write_demo_report` is called by `percontrast.demo.run_demo`.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from pathlib import Path

from percontrast.scoring.heatmap import HEATMAP_CSS, heatmap_body
from percontrast.scoring.pir import TokenScores
from percontrast.utils.plots import comparison_png, png_data_uri, training_curves_png

_CSS = """
body { max-width: 70em; }
h2 { font-size: 1.15em; margin-top: 2em; border-bottom: 1px solid #ddd; padding-bottom: .2em; }
table.grid { border-collapse: collapse; font-size: .9em; margin: .6em 0; }
table.grid th, table.grid td { border: 1px solid #ccc; padding: .25em .6em; text-align: right; }
table.grid th:first-child, table.grid td:first-child { text-align: left; }
table.samples td { text-align: left; vertical-align: top; max-width: 22em; white-space: pre-wrap; }
img.figure { max-width: 100%; border: 1px solid #eee; }
.note { color: #555; font-size: .88em; } .missing { color: #a33; }
.timing td { text-align: right; }
"""


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], css: str = "grid") -> str:
    head = "".join(f"<th>{html.escape(cell)}</th>" for cell in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table class='{css}'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _img(png: bytes | str | Path, alt: str) -> str:
    return f"<img class='figure' alt='{html.escape(alt, quote=True)}' src='{png_data_uri(png)}'>"


def _identification_section(identification: Mapping | None, figure5_png: str | Path | None) -> str:
    parts = ["<h2 id='identification'>2. Which tokens are personal, and how well is that measured?</h2>"]
    if identification is None:
        parts.append(
            "<p class='missing'>identification not available: the <code>percontrast.identification</code> "
            "module is not installed in this version, or the step was skipped.</p>"
        )
        return "".join(parts)
    n = identification
    parts.append(
        f"<p class='note'>{n['n_examples']} hand-annotated persona answers, {n['n_tokens']} tokens of which "
        f"{n['n_personal']} are personal. Precision, recall and F1 are pooled over tokens; PerContrast calls a "
        f"token personal when its PIR exceeds {n['threshold']:g}.</p>"
    )
    intervals = n.get("intervals") or {}

    def ci(name: str) -> str:
        low_high = (intervals.get(name) or {}).get("f1")
        return f"[{low_high[0]:.3f}, {low_high[1]:.3f}]" if low_high else "-"

    rows = [
        [name, f"{m['precision']:.3f}", f"{m['recall']:.3f}", f"{m['f1']:.3f}", ci(name)]
        for name, m in n["methods"].items()
    ]
    parts.append(_table(["method", "precision", "recall", "F1", "F1 95% interval (answers resampled)"], rows))
    if n.get("auroc") is not None:
        parts.append(f"<p>AUROC of PIR against the annotation: <b>{n['auroc']:.3f}</b></p>")
    if figure5_png is not None and Path(figure5_png).exists():
        parts.append(_img(figure5_png, "Figure 5: share of tokens classified correctly per PIR range"))
    return "".join(parts)


def _comparison_section(results: Mapping) -> str:
    from percontrast.analysis.bootstrap import METRICS
    from percontrast.demo.comparison import LABELS
    from percontrast.demo.tables import METRIC_LABELS, PERCENT, format_cell

    summary = results["comparison"]
    config = results["config"]
    counts = results["task_counts"]
    parts = [
        "<h2 id='comparison'>3. CE vs PerCE on held-out personas</h2>",
        "<p class='note'>Task: given a Synthetic-Persona-Chat persona and the last "
        f"{config['history']} messages, write that user's next message. Each loss fine-tunes the full model "
        f"for {config['train_steps']} steps of {config['batch_size']} examples (lr {config['learning_rate']:g}), "
        f"same seeds, same data, same order; seeds {config['seeds']}. Evaluation on "
        f"{summary['n_scored']} replies of personas never trained on ({counts['test']} available): "
        f"likelihood of the reference reply (NLL per token, and its mean PIR under each model) and, for "
        f"{summary['n_generated']} of them, a greedy reply of at most {config['max_new_tokens']} tokens scored "
        "with ROUGE-L and METEOR (%, an empty reply scores 0). Intervals: "
        f"{html.escape(summary['method'])}.</p>",
    ]
    header = ["model"] + [METRIC_LABELS[m] for m in METRICS]
    rows = [
        [LABELS.get(name, name)] + [format_cell(m, cells[m]) for m in METRICS]
        for name, cells in summary["models"].items()
    ]
    parts.append(_table(header, rows))
    if summary["differences"]:
        parts.append("<p>Difference from CE (paired: same examples and seeds):</p>")
        rows = [
            [LABELS.get(name, name)] + [format_cell(m, cells[m], signed=True) for m in METRICS]
            for name, cells in summary["differences"].items()
        ]
        parts.append(_table(header, rows))
    if summary["n_seeds"] > 1:
        seed_rows = [
            [LABELS.get(name, name)]
            + [", ".join(format_cell(m, {"mean": v}) for v in cells[m]["per_seed"]) for m in METRICS]
            for name, cells in summary["models"].items()
        ]
        parts.append("<p>Per seed:</p>" + _table(header, seed_rows))
    labels = {key: value for key, value in LABELS.items()}
    parts.append(_img(comparison_png(summary, labels, METRIC_LABELS, PERCENT), "comparison of the models"))
    if results.get("meteor_note"):
        parts.append(f"<p class='missing'>{html.escape(results['meteor_note'])}</p>")
    parts.append(
        "<p class='note'>The demo measures; it does not promise a gain. On this small task PerCE and CE "
        "may well tie: read the intervals.</p>"
    )
    return "".join(parts)


def _groups_section(results: Mapping) -> str:
    """NLL and PIR by token group (`percontrast.analysis.token_groups`), when the results carry them."""
    from percontrast.demo.comparison import LABELS

    summary = results.get("token_groups")
    if not summary:
        return ""

    def cell(value: Mapping | None, signed: bool = False) -> str:
        if not value or value.get("mean") is None:
            return "n/a"
        spec = "+.3f" if signed else ".3f"
        text = format(value["mean"], spec)
        if value.get("ci"):
            text += f" [{format(value['ci'][0], spec)}, {format(value['ci'][1], spec)}]"
        return text

    rows = []
    for group, entry in summary["groups"].items():
        for name in summary["models"]:
            difference = entry["differences"].get(name, {}).get("nll")
            rows.append(
                [group, str(entry["n_tokens"]), LABELS.get(name, name), cell(entry["models"][name]["nll"])]
                + [
                    cell(entry["models"][name]["pir"], True),
                    "-" if difference is None else cell(difference, True),
                ]
            )
    header = ["tokens", "count", "model", "NLL / token", "mean PIR", f"NLL - {summary['baseline']}"]
    return (
        "<h3>By token group</h3><p class='note'>The same held-out reference tokens, split once: "
        f"<code>reference_personal</code> are those whose PIR under the {html.escape(str(summary['reference']))} "
        f"model exceeds {summary['threshold']:g}, <code>reference_rest</code> the others, <code>all</code> is "
        "the whole-response NLL above. PerCE's claim is that it learns the first group more than CE does.</p>"
        + _table(header, rows)
    )


def _training_section(results: Mapping) -> str:
    from percontrast.demo.comparison import LABELS

    runs = results["training"]
    parts = ["<h2 id='training'>Training curves</h2>"]
    if not runs:
        return "".join(parts) + "<p class='missing'>no training runs</p>"
    parts.append(_img(training_curves_png(runs, LABELS), "training curves"))
    rows = [
        [
            LABELS.get(run["variant"], run["variant"]),
            str(run["seed"]),
            f"{run['seconds']:.0f}",
            str(run["skipped"]),
            str(run["truncated"]),
        ]
        for run in runs
    ]
    parts.append(_table(["run", "seed", "seconds", "examples skipped", "personas truncated"], rows))
    return "".join(parts)


def _samples_section(results: Mapping) -> str:
    from percontrast.demo.comparison import LABELS

    samples = results.get("samples") or []
    parts = ["<h2 id='samples'>Generated replies (first seed)</h2>"]
    if not samples:
        return "".join(parts) + "<p class='note'>no replies were generated (n_generate = 0)</p>"
    names = [key for key in samples[0] if key not in ("id", "reference", "query")]
    header = ["id", "conversation so far", "reference"] + [LABELS.get(n, n) for n in names]
    rows = [
        [row["id"], row.get("query", ""), row["reference"]] + [row[n] or "(empty)" for n in names]
        for row in samples
    ]
    parts.append(_table(header, rows, css="grid samples"))
    return "".join(parts)


def render_demo_report(
    results: Mapping,
    scores: Sequence[TokenScores],
    personal_spans: Mapping[str, Sequence[str]] | None = None,
    figure5_png: str | Path | None = None,
    model_name: str = "",
) -> str:
    """The report as one HTML string."""
    seconds = results.get("seconds", {})
    wall = ", ".join(f"{key} {value:.0f} s" for key, value in seconds.items() if not key.endswith("_cpu"))
    cpu = ", ".join(f"{key[:-4]} {value:.0f} s" for key, value in seconds.items() if key.endswith("_cpu"))
    timing = f"{wall}. CPU time (all threads): {cpu}" if cpu else wall
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        f"<title>percontrast demo ({html.escape(model_name)})</title>",
        f"<style>{HEATMAP_CSS}{_CSS}</style></head><body>",
        f"<h1>percontrast demo: {html.escape(model_name)}</h1>",
        f"<p class='note'>Wall time: {html.escape(timing)}. On a shared machine wall time exceeds CPU time / "
        "threads.</p>",
        "<h2 id='heatmap'>1. PerContrast token scores</h2>",
        "<p class='note'>Each response token coloured by its Personal Influence Ratio: how much more likely "
        "the persona makes it.</p>",
        heatmap_body(scores, personal_spans=personal_spans),
        _identification_section(results.get("identification"), figure5_png),
        _training_section(results),
        _comparison_section(results),
        _groups_section(results),
        _samples_section(results),
        "<h2>Data</h2><p class='note'>Personas and conversations: Synthetic-Persona-Chat (Jandaghi et al., 2023, "
        "arXiv:2312.10007), CC BY 4.0; the persona-token annotations are this project's own.</p>",
        "</body></html>",
    ]
    return "".join(parts)


def write_demo_report(path: str | Path, **kwargs) -> Path:
    """Write `render_demo_report` to ``path`` and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_demo_report(**kwargs), encoding="utf-8")
    return path
