"""The demo report's figures as PNG bytes (matplotlib, Agg backend: no display needed).

- `training_curves_png`: per optimizer step, the unweighted training NLL of the response tokens (the
  trainer's ``nll_mean``, comparable across losses) and the optimised loss, one line per variant and seed;
- `comparison_png`: one panel per metric, a bar per model with its 95% interval.

`png_data_uri` turns PNG bytes (or a PNG file) into a ``data:`` URI for a self-contained HTML page.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping, Sequence
from pathlib import Path

COLOURS = {"untrained": "#9e9e9e", "ce": "#1f77b4", "perce_tokens": "#d62728", "perce_weights": "#ff7f0e"}


def pyplot():
    """matplotlib.pyplot on the non-interactive Agg backend (the library only writes files)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _to_png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    pyplot().close(fig)
    return buffer.getvalue()


def png_data_uri(png: bytes | str | Path) -> str:
    """A ``data:image/png;base64,...`` URI of PNG bytes or of a PNG file."""
    data = png if isinstance(png, bytes) else Path(png).read_bytes()
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def training_curves_png(runs: Sequence[Mapping], labels: Mapping[str, str]) -> bytes:
    """Training NLL and loss per step.

    Args:
        runs: ``{"variant", "seed", "log_history"}`` per training run (log_history: the Trainer's).
        labels: display name per variant.
    """
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), dpi=110)
    for run in runs:
        steps = [entry["step"] for entry in run["log_history"] if "nll_mean" in entry]
        nll = [entry["nll_mean"] for entry in run["log_history"] if "nll_mean" in entry]
        loss_steps = [entry["step"] for entry in run["log_history"] if "loss" in entry]
        loss = [entry["loss"] for entry in run["log_history"] if "loss" in entry]
        colour = COLOURS.get(run["variant"], None)
        label = f"{labels.get(run['variant'], run['variant'])}, seed {run['seed']}"
        style = ["-", "--", ":", "-."][run["seed"] % 4]
        axes[0].plot(steps, nll, style, color=colour, label=label, linewidth=1.3)
        axes[1].plot(loss_steps, loss, style, color=colour, label=label, linewidth=1.3)
    axes[0].set_title("training NLL per response token (unweighted)", fontsize=10)
    axes[1].set_title("optimised loss (CE or weighted CE)", fontsize=10)
    for ax in axes:
        ax.set_xlabel("optimizer step")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("nats / token")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    return _to_png(fig)


def comparison_png(
    summary: Mapping, labels: Mapping[str, str], metric_labels: Mapping[str, str], percent: set[str]
) -> bytes:
    """One panel per metric: each model's value with its 95% interval as an error bar."""
    plt = pyplot()
    metrics = [m for m in metric_labels if any(v[m]["mean"] is not None for v in summary["models"].values())]
    fig, axes = plt.subplots(1, len(metrics), figsize=(3.2 * len(metrics), 3.4), dpi=110)
    axes = [axes] if len(metrics) == 1 else list(axes)
    names = list(summary["models"])
    for ax, metric in zip(axes, metrics, strict=True):
        scale = 100.0 if metric in percent else 1.0
        means, lows, highs = [], [], []
        for name in names:
            cell = summary["models"][name][metric]
            mean = (cell["mean"] or 0.0) * scale
            ci = cell["ci"] or [cell["mean"] or 0.0] * 2
            means.append(mean)
            lows.append(max(mean - ci[0] * scale, 0.0))
            highs.append(max(ci[1] * scale - mean, 0.0))
        positions = range(len(names))
        ax.bar(positions, means, yerr=[lows, highs], capsize=3, color=[COLOURS.get(n, "#555") for n in names])
        ax.set_xticks(list(positions), [labels.get(n, n) for n in names], rotation=30, ha="right", fontsize=7)
        ax.set_title(metric_labels[metric], fontsize=9)
        ax.grid(axis="y", alpha=0.3)
        if metric in ("nll",):
            low = min(m - lo for m, lo in zip(means, lows, strict=True))
            ax.set_ylim(bottom=max(0.0, low - 0.2 * abs(low)))
    fig.tight_layout()
    return _to_png(fig)
