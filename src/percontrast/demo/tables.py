"""Plain-text tables the demo prints: the top personal tokens and the CE-versus-PerCE comparison."""

from __future__ import annotations

from collections.abc import Sequence

from percontrast.analysis.bootstrap import METRICS
from percontrast.data.schema import Example
from percontrast.demo.comparison import LABELS
from percontrast.scoring.pir import TokenScores

METRIC_LABELS = {
    "nll": "ref. NLL/token (lower better)",
    "pir": "ref. mean PIR",
    "rougeL": "ROUGE-L",
    "meteor": "METEOR",
}
# ROUGE-L and METEOR are printed as percentages.
PERCENT = {"rougeL", "meteor"}


def format_value(metric: str, value: float | None, signed: bool = False) -> str:
    if value is None:
        return "n/a"
    scale = 100.0 if metric in PERCENT else 1.0
    digits = 1 if metric in PERCENT else 3
    return f"{scale * value:+.{digits}f}" if signed else f"{scale * value:.{digits}f}"


def format_cell(metric: str, cell: dict, signed: bool = False) -> str:
    text = format_value(metric, cell.get("mean"), signed)
    ci = cell.get("ci")
    if ci is not None and cell.get("mean") is not None:
        text += f" [{format_value(metric, ci[0], signed)}, {format_value(metric, ci[1], signed)}]"
    return text


def comparison_table(summary: dict) -> str:
    """The comparison as an aligned text table, then the differences from CE."""
    header = ["model"] + [METRIC_LABELS[m] for m in METRICS]
    rows = [
        [LABELS.get(name, name)] + [format_cell(m, values[m]) for m in METRICS]
        for name, values in summary["models"].items()
    ]
    lines = _align([header] + rows)
    lines.insert(
        0,
        f"held-out next replies: {summary['n_scored']} scored by likelihood, {summary['n_generated']} "
        f"generated (greedy); {summary['n_seeds']} seed(s); ROUGE-L and METEOR in %; 95% intervals in brackets",
    )
    if summary["differences"]:
        lines.append("")
        lines.append("difference from CE (same examples, same seeds):")
        diff_rows = [
            [LABELS.get(name, name)] + [format_cell(m, values[m], signed=True) for m in METRICS]
            for name, values in summary["differences"].items()
        ]
        lines.extend(_align([header] + diff_rows))
    return "\n".join(lines)


def _align(rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) for row in rows]


def top_tokens_lines(examples: Sequence[Example], scores: Sequence[TokenScores], k: int = 3) -> list[str]:
    """Each answer with its ``k`` most personal tokens, and how often the top one is an annotated span."""
    lines = []
    hits = total = 0
    for example, item in zip(examples, scores, strict=True):
        top = item.top_tokens(k)
        spans = example.meta.get("personal_spans", [])
        lines.append(f"  [{example.id}] {example.response}")
        lines.append(
            "      most personal: "
            + ", ".join(f"{token.strip()!r} {value:+.2f}" for token, value in top)
            + (f"   (annotated: {spans})" if spans else "")
        )
        if spans:
            total += 1
            top_token = top[0][0].strip()
            hits += bool(top_token) and any(top_token in span for span in spans)
    if total:
        lines.append(
            f"  the top-PIR token falls inside an annotated personal span in {hits} of {total} answers"
        )
    return lines
