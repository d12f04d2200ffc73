"""Point estimates and bootstrap intervals over examples and seeds: the demo's comparison, the token groups.

A model's figure for a metric is the mean over seeds of its per-seed figure; per seed, NLL and PIR are
pooled over the reference tokens (sum over examples / token count) and ROUGE-L and METEOR are means over
the generated examples.

Intervals are 95% percentile bootstrap intervals. Each resample draws the held-out examples with
replacement (one draw shared by every model, so comparisons are paired) and, when there are several
seeds, the seeds with replacement too (one draw shared by every variant): a two-level bootstrap that
carries both the example-sampling and the training-seed variance. With one seed only the examples vary,
so the interval says nothing about seed-to-seed variation. Differences (a variant minus CE) are
bootstrapped the same way, from the same resamples. A model with one entry (the untrained one) is the same
in every resample; a model with another number of seeds than the most (a grid read before all its cells
finished: 2 seeds beside 3) has its own seeds drawn with replacement, independently of the others', so
its differences are paired over examples but not over seeds.

`TokenGroups` (which tokens are in which group) and `GroupSums` (one model's per-example sums over them)
are defined here, beside the bootstrap that resamples them; `analysis.token_groups` computes them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

# The token groups, in the order every table lists them (`analysis.token_groups` builds them).
GROUPS = ("annotated", "not_annotated", "reference_personal", "reference_rest", "all")


@dataclass
class TokenGroups:
    """Which reference tokens belong to which group, fixed once for every compared model.

    Attributes:
        ids: example ids, in order.
        token_ids: each example's response token ids (every scored model must agree).
        masks: group -> one bool list per example (a group absent from the data is not a key).
        reference: what defined the ``reference_*`` groups (a model name or path).
        threshold: a token is ``reference_personal`` when its reference PIR is > threshold.
    """

    ids: list[str]
    token_ids: list[list[int]]
    masks: dict[str, list[list[bool]]]
    reference: str
    threshold: float

    @property
    def names(self) -> list[str]:
        return [group for group in GROUPS if group in self.masks]

    def counts(self) -> dict[str, int]:
        """Token count of every group."""
        return {group: sum(map(sum, self.masks[group])) for group in self.names}


@dataclass
class GroupSums:
    """One model's (one seed's) per-example sums over each group's tokens.

    Attributes:
        nll_sum, pir_sum, n_tokens: group -> (n_examples,) sums of NLL (with persona) and PIR, and counts.
    """

    nll_sum: dict[str, np.ndarray]
    pir_sum: dict[str, np.ndarray]
    n_tokens: dict[str, np.ndarray]

    def pooled(self, group: str) -> dict[str, float]:
        """NLL per token and mean PIR over all of a group's tokens, and their count."""
        count = float(self.n_tokens[group].sum())
        nan = float("nan")
        return {
            "nll": float(self.nll_sum[group].sum()) / count if count else nan,
            "pir": float(self.pir_sum[group].sum()) / count if count else nan,
            "n_tokens": int(count),
        }


METRICS = ("nll", "pir", "rougeL", "meteor")


@dataclass
class Evaluation:
    """Per-example results of one model on the held-out examples.

    Attributes:
        nll_sum, pir_sum, n_tokens: per scored example, sums over the reference reply's tokens, (n_eval,).
        rougeL, meteor: per generated example, (n_generate,); ``meteor`` is None without WordNet.
        predictions: the generated replies.
        n_empty: generated replies that were empty (scored 0).
    """

    nll_sum: np.ndarray
    pir_sum: np.ndarray
    n_tokens: np.ndarray
    rougeL: np.ndarray
    meteor: np.ndarray | None
    predictions: list[str]
    n_empty: int = 0
    groups: TokenGroups | None = None  # the token groups (defined by the untrained model's scores)
    group_sums: GroupSums | None = None  # this model's sums over them

    def summary(self) -> dict[str, float | None]:
        tokens = float(self.n_tokens.sum())
        return {
            "nll": float(self.nll_sum.sum()) / tokens,
            "pir": float(self.pir_sum.sum()) / tokens,
            "rougeL": float(self.rougeL.mean()) if self.rougeL.size else None,
            "meteor": float(self.meteor.mean()) if self.meteor is not None and self.meteor.size else None,
        }


def _metric(
    evaluations: Sequence[Evaluation], metric: str, seeds: np.ndarray, rows: np.ndarray | None
) -> float:
    """The metric averaged over ``seeds`` (indices into evaluations), on example ``rows`` (None: all)."""
    values = []
    for seed in seeds:
        item = evaluations[seed]
        if metric in ("nll", "pir"):
            total = item.nll_sum if metric == "nll" else item.pir_sum
            tokens = item.n_tokens if rows is None else item.n_tokens[rows]
            total = total if rows is None else total[rows]
            values.append(float(total.sum() / tokens.sum()))
        else:
            series = item.rougeL if metric == "rougeL" else item.meteor
            if series is None or not series.size:
                return float("nan")
            values.append(float((series if rows is None else series[rows]).mean()))
    return float(np.mean(values))


def summarize(
    evaluations: Mapping[str, Sequence[Evaluation]],
    n_bootstrap: int = 1000,
    seed: int = 0,
    baseline: str = "ce",
    metrics: Sequence[str] = METRICS,
) -> dict:
    """Point estimates, per-seed values, intervals and differences from ``baseline``.

    Args:
        evaluations: model name -> one `Evaluation` per seed (a model with a single entry, such as the
            untrained one, is the same for every seed).
        n_bootstrap: resamples (0: no intervals).
        seed: the bootstrap's random seed.
        baseline: the model differences are taken from.
        metrics: the figures to compute (of `METRICS`); ``("rougeL", "meteor")`` needs no scored examples.

    Returns:
        ``{"models": {name: {metric: {"mean", "ci": [lo, hi] | None, "per_seed": [...]}}},
        "differences": {name: {metric: {"mean", "ci"}}}, "method": str, "n_bootstrap": int}``.
    """
    n_seeds = max(len(items) for items in evaluations.values())
    first = next(iter(evaluations.values()))[0]
    n_scored, n_generated = len(first.n_tokens), len(first.rougeL)
    other_counts = sorted({len(items) for items in evaluations.values()} - {1, n_seeds})
    draws = _draws(n_bootstrap, seed, n_seeds, n_scored, n_generated, other_counts)
    boot = _Bootstrap(evaluations, n_seeds, draws, tuple(metrics))
    models = {name: boot.figures(name) for name in evaluations}
    differences: dict = {}
    if baseline in evaluations:
        differences = {name: boot.differences(name, baseline) for name in evaluations if name != baseline}
    method = (
        f"95% percentile bootstrap, {n_bootstrap} resamples of the held-out examples"
        + (
            f" and of the {n_seeds} seeds (two-level)"
            if n_seeds > 1
            else " (one seed: example variance only)"
        )
        + f", paired across models; differences are against {baseline}"
        + (
            f"; models with {', '.join(map(str, other_counts))} seed(s) have theirs resampled on their own"
            " (paired over examples only)"
            if other_counts
            else ""
        )
    )
    return {
        "models": models,
        "differences": differences,
        "method": method,
        "n_bootstrap": n_bootstrap,
        "n_seeds": n_seeds,
        "n_scored": n_scored,
        "n_generated": n_generated,
    }


def _draws(
    n_bootstrap: int,
    seed: int,
    n_seeds: int,
    n_scored: int,
    n_generated: int,
    other_counts: Sequence[int] = (),
) -> list[tuple]:
    """``n_bootstrap`` resamples ``(seeds, scored rows, generated rows, other seeds)``, each shared by every
    model; ``other seeds`` maps each count in ``other_counts`` to a draw of that many seeds (from a stream
    of its own, so the main draws are the same with or without them)."""
    rng = np.random.default_rng(seed)
    others = {count: np.random.default_rng([seed, count]) for count in other_counts}
    draws = []
    for _ in range(n_bootstrap):
        seeds = rng.integers(0, n_seeds, n_seeds) if n_seeds > 1 else np.zeros(1, dtype=int)
        draws.append(
            (
                seeds,
                rng.integers(0, max(n_scored, 1), n_scored),
                rng.integers(0, max(n_generated, 1), n_generated),
                {count: other.integers(0, count, count) for count, other in others.items()},
            )
        )
    return draws


def mean_and_interval(figure: Mapping) -> tuple[float | None, float | None, float | None]:
    """A `summarize` figure (``{"mean", "ci"}``) as ``(mean, low, high)``; the bounds are None without a mean
    or an interval."""
    low, high = figure["ci"] if figure["mean"] is not None and figure["ci"] else (None, None)
    return figure["mean"], low, high


def _interval(samples: list[float]) -> list[float] | None:
    """The 95% percentile interval of the finite samples (None if there are none)."""
    finite = [s for s in samples if np.isfinite(s)]
    if not finite:
        return None
    low, high = np.percentile(finite, [2.5, 97.5])
    return [float(low), float(high)]


def _finite(value: float) -> float | None:
    return None if not np.isfinite(value) else value


@dataclass
class _Bootstrap:
    """The models' evaluations and the resamples that every model shares (paired comparisons)."""

    evaluations: Mapping[str, Sequence[Evaluation]]
    n_seeds: int
    draws: list[tuple]
    metrics: tuple[str, ...] = METRICS

    def _seeds_for(self, items: Sequence[Evaluation], draw: tuple | None) -> np.ndarray:
        """Which of a model's seeds a resample uses: all of them on the data itself; the shared seed draw
        for a model with every seed; its one entry for a single one; its own draw for another count."""
        if draw is None:
            return np.arange(len(items))
        seeds, _, _, others = draw
        if len(items) == self.n_seeds:
            return seeds
        if len(items) == 1:
            return np.zeros(len(seeds), dtype=int)
        return others[len(items)]

    def value(self, name: str, metric: str, draw: tuple | None) -> float:
        """A model's metric on all the data (``draw`` None) or on one resample."""
        items = self.evaluations[name]
        if draw is None:
            return _metric(items, metric, self._seeds_for(items, None), None)
        _, scored_rows, generated_rows, _ = draw
        rows = scored_rows if metric in ("nll", "pir") else generated_rows
        return _metric(items, metric, self._seeds_for(items, draw), rows)

    def figures(self, name: str) -> dict:
        """Per metric: the point estimate, its interval and the per-seed values."""
        items = self.evaluations[name]
        return {
            metric: {
                "mean": _finite(self.value(name, metric, None)),
                "ci": _interval([self.value(name, metric, draw) for draw in self.draws])
                if self.draws
                else None,
                "per_seed": [_finite(_metric(items, metric, np.array([i]), None)) for i in range(len(items))],
            }
            for metric in self.metrics
        }

    def differences(self, name: str, baseline: str) -> dict:
        """Per metric: ``name`` minus ``baseline``, with its interval from the same resamples."""
        figures = {}
        for metric in self.metrics:
            point = self.value(name, metric, None) - self.value(baseline, metric, None)
            samples = [self.value(name, metric, d) - self.value(baseline, metric, d) for d in self.draws]
            figures[metric] = {"mean": _finite(point), "ci": _interval(samples) if self.draws else None}
        return figures
