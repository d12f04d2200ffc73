"""LLM-as-a-judge: 1-5 scores from a chat backend, probability-weighted or sampled.

Two ways to turn a judge model into a score (G-Eval, Liu et al. 2023):

- ``probability`` (local backend): score = sum_i i * p(i) with p the next-token distribution over the
  tokens "1".."5" right after the prompt, renormalised over those five. Exact, one forward per
  judgement, nothing to parse. The share of probability on the five digits is kept (``mass``).
- ``sample`` (any backend, the only way over HTTP): ``n`` sampled replies are parsed; the score is the
  mean of those that parse. Replies that do not parse are counted per judgement and reported; a
  judgement none of whose samples parse has score None. Nothing is ever scored 0 for failing.

    judge = Judge(TransformersChat(*load_model("smollm2-135m-instruct")))
    judge.score([[{"role": "user", "content": "... Answer with a single digit from 1 to 5."}]])
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

from percontrast.errors import ConfigError
from percontrast.evaluation import prompts as prompt_texts
from percontrast.evaluation.backends import ChatBackend, Messages, TransformersChat

logger = logging.getLogger(__name__)

MODES = ("probability", "sample")
JUDGE_CRITERIA = ("personalization", "coherence", "consistency", "fluency", "relevance")

# A reply parses if it starts with the score ("4", "4.", "4/5", "Score: 4") or says "score ... is N".
_LEADING = re.compile(
    r"^\W*(?:score|rating)?\s*[:=]?\s*([1-5])(?![\d.]\d)(?:\s*(?:/\s*5|out of 5))?(?!\d)", re.IGNORECASE
)
_STATED = re.compile(
    r"\b(?:score|rating)\b[^0-9]{0,20}?\b([1-5])(?:\s*(?:/\s*5|out of 5))?(?![\d.]\d)\b", re.IGNORECASE
)


def parse_score(text: str) -> int | None:
    """The 1-5 score in a judge reply, or None when it cannot be read unambiguously."""
    match = _LEADING.match(text) or _STATED.search(text)
    return int(match.group(1)) if match else None


@dataclass
class Judgement:
    """One judged item.

    Attributes:
        score: the probability-weighted or mean sampled score; None if no sample parsed.
        replies: the raw sampled replies (sample mode).
        parsed: the scores read from them.
        n_failed: replies that could not be parsed.
        probabilities: p("1") .. p("5") renormalised (probability mode).
        mass: probability of the five digit tokens before renormalising (probability mode).
    """

    score: float | None
    replies: list[str] = field(default_factory=list)
    parsed: list[int] = field(default_factory=list)
    n_failed: int = 0
    probabilities: list[float] | None = None
    mass: float | None = None


class Judge:
    """Scores chat prompts from 1 to 5.

    Args:
        backend: the judge model.
        mode: ``probability`` (local backends only) or ``sample``; default: probability where the
            backend offers it, else sample.
        n_samples: samples per judgement in sample mode.
        temperature: sampling temperature in sample mode (0: one greedy reply).
        max_new_tokens: reply length in sample mode.
        seed: sampling seed.
    """

    def __init__(
        self,
        backend: ChatBackend,
        mode: str | None = None,
        n_samples: int = 1,
        temperature: float = 1.0,
        max_new_tokens: int = 8,
        seed: int = 0,
    ) -> None:
        can_probability = isinstance(backend, TransformersChat)
        mode = mode or ("probability" if can_probability else "sample")
        if mode not in MODES:
            raise ConfigError(f"judge mode must be one of {list(MODES)}, got {mode!r}")
        if mode == "probability" and not can_probability:
            raise ConfigError(
                "probability scores need the next-token distribution: use a local judge model, or mode='sample'"
            )
        if n_samples < 1:
            raise ConfigError(f"n_samples must be >= 1, got {n_samples}")
        self.backend, self.mode, self.n_samples = backend, mode, n_samples
        self.temperature, self.max_new_tokens, self.seed = temperature, max_new_tokens, seed

    def score(self, conversations: list[Messages]) -> list[Judgement]:
        """One `Judgement` per conversation (its last message asks for the score)."""
        if not conversations:
            return []
        if self.mode == "probability":
            probs, mass = self.backend.score_distribution(conversations)
            weights = probs @ __import__("torch").arange(1, 6, dtype=probs.dtype)  # (N,)
            return [
                Judgement(score=float(w), probabilities=[float(p) for p in row], mass=float(m))
                for w, row, m in zip(weights, probs, mass, strict=True)
            ]
        replies = self.backend.chat(
            conversations,
            max_new_tokens=self.max_new_tokens,
            temperature=self.temperature,
            n=self.n_samples,
            seed=self.seed,
        )
        judgements = []
        for samples in replies:
            parsed = [value for value in map(parse_score, samples) if value is not None]
            judgements.append(
                Judgement(
                    score=sum(parsed) / len(parsed) if parsed else None,
                    replies=samples,
                    parsed=parsed,
                    n_failed=len(samples) - len(parsed),
                )
            )
        failed = sum(j.n_failed for j in judgements)
        if failed:
            logger.warning(
                "%d of %d judge replies could not be parsed", failed, len(judgements) * self.n_samples
            )
        return judgements


def judge_prompt(criterion: str, query: str, prediction: str, reference: str) -> Messages:
    """The chat prompt of one criterion (``personalization`` or a quality criterion)."""
    if criterion == "personalization":
        text = prompt_texts.PERSONALIZATION.format(query=query, reference=reference, prediction=prediction)
    elif criterion in prompt_texts.QUALITY_CRITERIA:
        text = prompt_texts.QUALITY.format(
            criterion=prompt_texts.QUALITY_CRITERIA[criterion], query=query, prediction=prediction
        )
    else:
        raise ConfigError(f"unknown judge criterion {criterion!r}; choose from {list(JUDGE_CRITERIA)}")
    return [{"role": "user", "content": text}]


def judge_predictions(
    judge: Judge,
    queries: list[str],
    predictions: list[str],
    references: list[str],
    criteria: tuple[str, ...] = JUDGE_CRITERIA,
) -> dict:
    """Judge every prediction on every criterion.

    Returns:
        ``{criterion: {"mean": mean over scored items or None, "n": scored, "n_unparsed": items with
        no parsable reply, "n_failed_replies": unparsable replies, "per_example": [score or None]}}``.
    """
    results = {}
    for criterion in criteria:
        conversations = [
            judge_prompt(criterion, q, p, r) for q, p, r in zip(queries, predictions, references, strict=True)
        ]
        judgements = judge.score(conversations)
        scores = [j.score for j in judgements]
        scored = [s for s in scores if s is not None]
        results[criterion] = {
            "mean": sum(scored) / len(scored) if scored else None,
            "n": len(scored),
            "n_unparsed": len(scores) - len(scored),
            "n_failed_replies": sum(j.n_failed for j in judgements),
            "per_example": scores,
        }
    return results
