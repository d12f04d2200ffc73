"""Figure 5 as a PNG: per PIR range, the share of tokens PerContrast classifies right and wrong.

Bars are stacked shares (correct on the bottom, wrong on top, summing to 1 in each range), with the
number of tokens in the range printed above the bar; the threshold's bin edge is marked. matplotlib
runs on the Agg backend (no display needed).
"""

from __future__ import annotations

from pathlib import Path

from percontrast.identification.metrics import PirBin


def plot_pir_breakdown(result, path: str | Path, *, title: str | None = None) -> Path:
    """Write Figure 5 of ``result`` (an `IdentificationResult`) to ``path`` (PNG) and return the path."""
    from percontrast.utils.plots import pyplot

    plt = pyplot()

    bins: list[PirBin] = result.pir_bins
    labels = [item.label for item in bins]
    correct = [item.n_correct / item.n_tokens if item.n_tokens else 0.0 for item in bins]
    wrong = [item.n_wrong / item.n_tokens if item.n_tokens else 0.0 for item in bins]
    positions = list(range(len(bins)))
    fig, ax = plt.subplots(figsize=(8, 4.6), dpi=120)
    ax.bar(positions, correct, color="#4c9f70", label="classified correctly")
    ax.bar(positions, wrong, bottom=correct, color="#d1495b", label="classified wrongly")
    for x, item in zip(positions, bins, strict=True):
        ax.text(x, 1.02, f"n={item.n_tokens}", ha="center", va="bottom", fontsize=8)
    # The threshold separates the bins whose upper edge is <= threshold from the rest.
    split = sum(1 for item in bins if item.high <= result.threshold)
    ax.axvline(split - 0.5, color="black", linestyle="--", linewidth=1)
    ax.text(split - 0.45, 0.5, f"PIR = {result.threshold:g}", rotation=90, va="center", fontsize=8)
    ax.set_xticks(positions, labels, rotation=20, fontsize=8)
    ax.set_ylim(0, 1.12)
    ax.set_xlabel("PIR range (log form, Eq. 2)")
    ax.set_ylabel("share of tokens")
    ax.set_title(title or f"PIR vs personal tokens ({result.n_tokens} tokens, AUROC {result.auroc:.2f})")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.25), ncol=2, fontsize=8, frameon=False)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
