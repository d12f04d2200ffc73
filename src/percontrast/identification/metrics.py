"""Token-level identification metrics of Appendix A: precision, recall, F1, AUROC, and Figure 5's table.

All functions take flat per-token lists over the whole data set (the paper pools tokens, it does not
average per example). ``auroc`` is the Mann-Whitney statistic with ties counted one half, which is the
area under the ROC curve; tests check it against a brute-force count over all (positive, negative) pairs
and against scikit-learn. ``bootstrap_prf`` gives 95% intervals by resampling answers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np

# Figure 5 bins PIR (log form) into ranges; these edges put the paper's threshold 1 on a boundary.
DEFAULT_PIR_BINS = (-math.inf, -1.0, 0.0, 0.5, 1.0, 1.5, 2.0, 3.0, math.inf)


@dataclass
class PRF:
    """Precision, recall and F1 of one method, with the counts they come from."""

    precision: float
    recall: float
    f1: float
    n_identified: int
    n_correct: int
    n_personal: int

    def to_dict(self) -> dict:
        return asdict(self)


def precision_recall_f1(identified: Sequence[bool], personal: Sequence[bool]) -> PRF:
    """Pooled over tokens: precision = correct / identified, recall = correct / personal.

    A quantity whose denominator is zero is 0.0 (nothing identified: precision 0).
    """
    if len(identified) != len(personal):
        raise ValueError(f"{len(identified)} predictions for {len(personal)} labels")
    n_identified = sum(map(bool, identified))
    n_personal = sum(map(bool, personal))
    n_correct = sum(1 for i, p in zip(identified, personal, strict=True) if i and p)
    precision = n_correct / n_identified if n_identified else 0.0
    recall = n_correct / n_personal if n_personal else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return PRF(precision, recall, f1, n_identified, n_correct, n_personal)


def auroc(scores: Sequence[float], labels: Sequence[bool]) -> float:
    """Area under the ROC curve of ``scores`` for ``labels`` (ties count 1/2); NaN without both classes."""
    if len(scores) != len(labels):
        raise ValueError(f"{len(scores)} scores for {len(labels)} labels")
    n_pos = sum(map(bool, labels))
    n_neg = len(labels) - n_pos
    if n_pos == 0 or n_neg == 0:
        return math.nan
    # Average ranks (1-based) over ties, then the Mann-Whitney U of the positives.
    order = sorted(range(len(scores)), key=lambda i: scores[i])
    ranks = [0.0] * len(scores)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and scores[order[j + 1]] == scores[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    rank_sum = sum(r for r, label in zip(ranks, labels, strict=True) if label)
    return (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


@dataclass
class PirBin:
    """One PIR range of Figure 5: how many tokens fall in it and how many are classified right."""

    low: float
    high: float
    n_tokens: int
    n_personal: int
    n_correct: int
    n_wrong: int

    @property
    def label(self) -> str:
        low = "-inf" if self.low == -math.inf else f"{self.low:g}"
        high = "inf" if self.high == math.inf else f"{self.high:g}"
        return f"({low}, {high}]"

    def to_dict(self) -> dict:
        shares = {
            "share_correct": self.n_correct / self.n_tokens if self.n_tokens else 0.0,
            "share_wrong": self.n_wrong / self.n_tokens if self.n_tokens else 0.0,
        }
        return {"range": self.label} | asdict(self) | shares


def pir_breakdown(
    pir: Sequence[float],
    personal: Sequence[bool],
    threshold: float = 1.0,
    edges: Sequence[float] = DEFAULT_PIR_BINS,
) -> list[PirBin]:
    """Tokens binned by PIR into ``(edges[k], edges[k+1]]``; in each bin, classified right and wrong.

    A token is classified personal when ``pir > threshold``; it is right when that agrees with its label.
    """
    bins = [PirBin(low, high, 0, 0, 0, 0) for low, high in zip(edges[:-1], edges[1:], strict=True)]
    for value, label in zip(pir, personal, strict=True):
        for item in bins:
            if item.low < value <= item.high:
                item.n_tokens += 1
                item.n_personal += int(label)
                if (value > threshold) == bool(label):
                    item.n_correct += 1
                else:
                    item.n_wrong += 1
                break
    return bins


def bootstrap_prf(
    identified: Mapping[str, Sequence[Sequence[bool]]],
    personal: Sequence[Sequence[bool]],
    *,
    n_bootstrap: int = 1000,
    seed: int = 0,
    baseline: str | None = "percontrast",
) -> dict:
    """95% percentile bootstrap intervals of pooled P / R / F1, resampling answers (not tokens).

    Tokens of one answer are not independent, so the unit drawn with replacement is the answer. Every
    method is scored on the same resamples, so the difference of a method's F1 from ``baseline``'s is a
    paired interval.

    Args:
        identified: method name -> per answer, per token, identified or not.
        personal: per answer, per token, the ground-truth label.
        n_bootstrap: resamples (0: no intervals, an empty dict).
        seed: the resampling's random seed.
        baseline: the method F1 differences are taken from (None or absent: no differences).

    Returns:
        ``{method: {"precision": [lo, hi], "recall": [lo, hi], "f1": [lo, hi], "f1_minus_<baseline>": [lo, hi]}}``
        plus ``"n_bootstrap"`` and ``"unit": "answer"``.
    """
    if n_bootstrap <= 0:
        return {}
    n = len(personal)
    positives = np.array([sum(map(bool, row)) for row in personal], dtype=np.float64)
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, n, size=(n_bootstrap, n))
    # Per answer counts, then each resample's pooled counts as counts[draws].sum(axis=1).
    counts = np.zeros((n_bootstrap, n), dtype=np.float64)
    np.add.at(counts, (np.arange(n_bootstrap)[:, None], draws), 1.0)
    pooled_positives = counts @ positives
    f1s, out = {}, {"n_bootstrap": n_bootstrap, "unit": "answer"}
    for name, rows in identified.items():
        if len(rows) != n:
            raise ValueError(f"{name}: {len(rows)} answers for {n} labelled ones")
        flagged = np.array([sum(map(bool, row)) for row in rows], dtype=np.float64)
        correct = np.array(
            [
                sum(1 for i, p in zip(row, labels, strict=True) if i and p)
                for row, labels in zip(rows, personal, strict=True)
            ],
            dtype=np.float64,
        )
        tp, flagged_total = counts @ correct, counts @ flagged
        with np.errstate(invalid="ignore", divide="ignore"):
            precision = np.where(flagged_total > 0, tp / flagged_total, 0.0)
            recall = np.where(pooled_positives > 0, tp / pooled_positives, 0.0)
            f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
        f1s[name] = f1
        out[name] = {
            key: _interval(values)
            for key, values in (("precision", precision), ("recall", recall), ("f1", f1))
        }
    if baseline in f1s:
        for name, f1 in f1s.items():
            if name != baseline:
                out[name][f"f1_minus_{baseline}"] = _interval(f1 - f1s[baseline])
    return out


def _interval(values: np.ndarray) -> list[float]:
    low, high = np.percentile(values, [2.5, 97.5])
    return [float(low), float(high)]
