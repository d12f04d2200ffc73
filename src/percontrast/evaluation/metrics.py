"""ROUGE and METEOR with the official settings, per example, averaged, and optionally bootstrapped.

The paper reports ROUGE-L and METEOR on LongLaMP (ROUGE-1 is here because LongLaMP reports it).
Both benchmarks' evaluation strips every text and calls the ``evaluate`` package, which wraps:

- ROUGE: ``rouge_score.rouge_scorer.RougeScorer(["rouge1", "rougeL"], use_stemmer=False)``, the
  F1 (``fmeasure``) of each pair. ``evaluate`` reports by default the ``mid`` of a
  ``rouge_score.scoring.BootstrapAggregator`` (1000 resamples, unseeded); here the default is the
  plain mean of per-example scores, and ``bootstrap=True`` gives the aggregator's ``mid`` with a fixed
  seed instead.
- METEOR: ``nltk.translate.meteor_score.meteor_score([word_tokenize(ref)], word_tokenize(pred),
  alpha=0.9, beta=3, gamma=0.5)`` per pair and the plain mean (``evaluate`` never bootstraps METEOR,
  so neither do we). WordNet and Punkt are read offline (`percontrast.evaluation.wordnet`).

Empty texts follow the benchmark the examples come from (`EMPTY_RULES`), because the two official
evaluations differ and dropping failures scores a model on an easier subset:

- ``lamp``: no pair is ever dropped. LaMP's ``eval/evaluation.py`` (LaMP-Benchmark/LaMP @ 38c9d4d,
  lines 131-150) asserts that the prediction ids equal the gold ids (line 138), strips every text
  (``postprocess_text_generation``, lines 13-17) and scores all of them; an empty prediction scores 0.
- ``longlamp``: LongLaMP's ``evaluate_data`` (LongLaMP-benchmark/LongLaMP-Benchmark @ 41412fe,
  ``longLaMP/metrics/generation_metrics.py`` lines 41-47) keeps a pair only ``if d["generated_text"]
  and d["output"]``, i.e. it drops pairs whose prediction or reference is missing or the empty
  string BEFORE stripping (``postprocess_text``, lines 4-8, runs after); a whitespace-only
  prediction is kept, stripped to "" and scores 0.

Both rules report what they did: ``n_skipped`` (dropped pairs by reason, LongLaMP only) and
``n_scored_empty`` (pairs scored although a side is empty after stripping: they score 0).
rouge-score and NLTK return 0 for an empty side (tested).

Scores are fractions in [0, 1]; reports multiply by 100 only when printing.

rouge-score's default tokenizer lowercases and keeps only ``[a-z0-9]`` runs: Hebrew, Chinese or
accented words vanish, and such pairs score ROUGE 0. That is the official setting and stays the
default; `lexical_metrics` warns when most letters of the references fall outside it, and
``rouge_tokenizer="multilingual"`` (`MultilingualTokenizer`: Unicode words, one token per CJK
character) is offered for other data. Reports record which tokenizer was used.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from percontrast.utils.errors import ConfigError

logger = logging.getLogger(__name__)

LEXICAL_METRICS = ("rouge1", "rougeL", "meteor")
ROUGE_TOKENIZERS = ("default", "multilingual")
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_MULTILINGUAL_TOKEN = re.compile(rf"[{_CJK}]|[^\W_{_CJK}]+")


class MultilingualTokenizer:
    """A rouge-score tokenizer for any script: lowercased Unicode word runs, each CJK character a token."""

    def tokenize(self, text: str) -> list[str]:
        return _MULTILINGUAL_TOKEN.findall(text.lower())


def _rouge_scorer(tokenizer: str):
    from rouge_score import rouge_scorer

    if tokenizer not in ROUGE_TOKENIZERS:
        raise ConfigError(f"rouge tokenizer must be one of {ROUGE_TOKENIZERS}, got {tokenizer!r}")
    custom = MultilingualTokenizer() if tokenizer == "multilingual" else None
    return rouge_scorer.RougeScorer(["rouge1", "rougeL"], use_stemmer=False, tokenizer=custom)


def share_outside_default_rouge(texts: Sequence[str]) -> float:
    """The share of letters and digits that rouge-score's default tokenizer drops (not ``[a-z0-9]``)."""
    total = dropped = 0
    for text in texts:
        for char in text.lower():
            if char.isalnum():
                total += 1
                dropped += not ("a" <= char <= "z" or "0" <= char <= "9")
    return dropped / total if total else 0.0


METEOR_PARAMS = {"alpha": 0.9, "beta": 3.0, "gamma": 0.5}


EMPTY_RULES = {
    "lamp": "no pair dropped; empty predictions score 0 (LaMP eval/evaluation.py)",
    "longlamp": "pairs with a missing or '' prediction or reference dropped before stripping; "
    "whitespace-only predictions score 0 (LongLaMP longLaMP/metrics/generation_metrics.py)",
}


def empty_rule_of_task(task: str | None) -> str | None:
    """The benchmark whose empty-text rule applies to an example's task: ``LaMP_4`` -> ``lamp``,
    ``LongLaMP_product_review`` -> ``longlamp``; None for any other task (or no task)."""
    if task is None:
        return None
    if task.startswith(("LongLaMP_", "LongLaMP-")):
        return "longlamp"
    if task.startswith(("LaMP_", "LaMP-")):
        return "lamp"
    return None


@dataclass
class PairFilter:
    """The pairs scored after applying a benchmark's empty-text rule, with counts.

    Attributes:
        rule: the `EMPTY_RULES` key applied.
        kept: indices into the input lists of the pairs that are scored.
        predictions: the stripped predictions of the kept pairs.
        references: the stripped references of the kept pairs.
        skipped: reason -> count of dropped pairs (``longlamp`` only: ``empty_prediction`` when the
            prediction is missing or "", else ``empty_reference``).
        scored_empty: reason -> count of kept pairs with a side empty after stripping
            (``empty_prediction``, ``empty_reference``); they score 0.
    """

    rule: str
    kept: list[int]
    predictions: list[str]
    references: list[str]
    skipped: dict[str, int] = field(default_factory=dict)
    scored_empty: dict[str, int] = field(default_factory=dict)


def filter_pairs(
    predictions: Sequence[str | None], references: Sequence[str | None], rule: str
) -> PairFilter:
    """Apply a benchmark's empty-text rule (`EMPTY_RULES`) and strip every kept text.

    Args:
        predictions: the generated texts; None counts as missing.
        references: the reference texts; None counts as missing.
        rule: ``lamp`` (keep every pair) or ``longlamp`` (drop pairs with a falsy side, unstripped).
    """
    if rule not in EMPTY_RULES:
        raise ConfigError(f"unknown empty-text rule {rule!r}; choose from {list(EMPTY_RULES)}")
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions but {len(references)} references")
    kept, kept_predictions, kept_references = [], [], []
    skipped, scored_empty = Counter(), Counter()
    for index, (prediction, reference) in enumerate(zip(predictions, references, strict=True)):
        if rule == "longlamp" and not (prediction and reference):
            # generation_metrics.py line 44: `if d["generated_text"] and d["output"]`, unstripped.
            skipped["empty_prediction" if not prediction else "empty_reference"] += 1
            continue
        # LaMP would fail on None (`pred.strip()`); we score a missing text as the empty string.
        prediction, reference = (prediction or "").strip(), (reference or "").strip()
        if not prediction:
            scored_empty["empty_prediction"] += 1
        elif not reference:
            scored_empty["empty_reference"] += 1
        kept.append(index)
        kept_predictions.append(prediction)
        kept_references.append(reference)
    return PairFilter(rule, kept, kept_predictions, kept_references, dict(skipped), dict(scored_empty))


def rouge_scores(
    predictions: Sequence[str], references: Sequence[str], tokenizer: str = "default"
) -> dict[str, list[float]]:
    """Per-pair ROUGE-1 and ROUGE-L F1 (rouge-score, no stemmer, its default tokenizer unless
    ``tokenizer="multilingual"``).

    The texts are scored as given: call `filter_pairs` first to apply the empty-text rule and strip.
    An empty side scores 0.
    """
    scorer = _rouge_scorer(tokenizer)
    scores: dict[str, list[float]] = {"rouge1": [], "rougeL": []}
    for prediction, reference in zip(predictions, references, strict=True):
        result = scorer.score(reference, prediction)  # score(target, prediction)
        scores["rouge1"].append(float(result["rouge1"].fmeasure))
        scores["rougeL"].append(float(result["rougeL"].fmeasure))
    return scores


def meteor_scores(
    predictions: Sequence[str],
    references: Sequence[str],
    alpha: float = 0.9,
    beta: float = 3.0,
    gamma: float = 0.5,
) -> list[float]:
    """Per-pair METEOR from NLTK on ``word_tokenize`` tokens, as the ``evaluate`` package computes it."""
    from nltk.tokenize import word_tokenize
    from nltk.translate.meteor_score import meteor_score

    from percontrast.evaluation.wordnet import ensure_nltk_data

    ensure_nltk_data()
    return [
        float(
            meteor_score(
                [word_tokenize(reference)], word_tokenize(prediction), alpha=alpha, beta=beta, gamma=gamma
            )
        )
        for prediction, reference in zip(predictions, references, strict=True)
    ]


def bootstrap_rouge(
    predictions: Sequence[str],
    references: Sequence[str],
    seed: int = 0,
    n_samples: int = 1000,
    tokenizer: str = "default",
) -> dict[str, float]:
    """The ``evaluate`` package's default ROUGE figure: the ``mid`` F1 of rouge-score's BootstrapAggregator.

    The aggregator draws from NumPy's global generator; it is seeded with ``seed`` here and its
    previous state restored afterwards, so the figure is reproducible.
    """
    from rouge_score import scoring

    scorer = _rouge_scorer(tokenizer)
    aggregator = scoring.BootstrapAggregator(n_samples=n_samples)
    for prediction, reference in zip(predictions, references, strict=True):
        aggregator.add_scores(scorer.score(reference, prediction))
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        result = aggregator.aggregate()
    finally:
        np.random.set_state(state)
    return {key: float(value.mid.fmeasure) for key, value in result.items()}


def lexical_metrics(
    predictions: Sequence[str | None],
    references: Sequence[str | None],
    metrics: Sequence[str] = LEXICAL_METRICS,
    *,
    rule: str,
    bootstrap: bool = False,
    seed: int = 0,
    rouge_tokenizer: str = "default",
) -> dict:
    """ROUGE-1, ROUGE-L and METEOR over a corpus, empty texts handled by ``rule`` (`EMPTY_RULES`)
    (``rouge_tokenizer``: see the module docstring).

    Returns:
        ``{"rouge1": mean, "rougeL": mean, "meteor": mean, "empty_rule": rule, "n_total": pairs given,
        "n": pairs scored, "n_skipped": {reason: dropped}, "n_scored_empty": {reason: scored 0},
        "per_example": {metric: [score per kept pair]}, "kept": [index]}``; with ``bootstrap`` also
        ``"bootstrap": {"rouge1": mid, "rougeL": mid, "seed": seed}``. Metrics not asked for are left out.
    """
    unknown = sorted(set(metrics) - set(LEXICAL_METRICS))
    if unknown:
        raise ConfigError(f"unknown metric(s) {unknown}; choose from {list(LEXICAL_METRICS)}")
    pairs = filter_pairs(predictions, references, rule)
    if pairs.skipped:
        logger.warning(
            "%s rule: dropped %d pair(s) with a missing or empty side: %s",
            rule,
            sum(pairs.skipped.values()),
            pairs.skipped,
        )
    if pairs.scored_empty:
        logger.warning(
            "%s rule: %d pair(s) with a side empty after stripping are scored 0: %s",
            rule,
            sum(pairs.scored_empty.values()),
            pairs.scored_empty,
        )
    per_example: dict[str, list[float]] = {}
    if {"rouge1", "rougeL"} & set(metrics):
        outside = share_outside_default_rouge(pairs.references)
        if rouge_tokenizer == "default" and outside > 0.5:
            logger.warning(
                "%.0f%% of the letters and digits of the references are outside [a-z0-9], which "
                "rouge-score's default tokenizer (the official LaMP/LongLaMP setting) drops: ROUGE is near 0 "
                "on such text. For data that is not English, use the multilingual ROUGE tokenizer "
                "(--rouge-tokenizer multilingual)",
                100 * outside,
            )
        for key, values in rouge_scores(pairs.predictions, pairs.references, rouge_tokenizer).items():
            if key in metrics:
                per_example[key] = values
    if "meteor" in metrics:
        per_example["meteor"] = meteor_scores(pairs.predictions, pairs.references, **METEOR_PARAMS)
    result: dict = {key: (float(np.mean(values)) if values else None) for key, values in per_example.items()}
    result.update(
        empty_rule=rule,
        n_total=len(predictions),
        n=len(pairs.kept),
        n_skipped=pairs.skipped,
        n_scored_empty=pairs.scored_empty,
        per_example=per_example,
        kept=pairs.kept,
    )
    if {"rouge1", "rougeL"} & set(metrics):
        result["rouge_tokenizer"] = rouge_tokenizer
    if bootstrap and {"rouge1", "rougeL"} & set(metrics) and pairs.kept:
        figures = bootstrap_rouge(pairs.predictions, pairs.references, seed=seed, tokenizer=rouge_tokenizer)
        result["bootstrap"] = {key: value for key, value in figures.items() if key in metrics} | {
            "seed": seed
        }
    return result
