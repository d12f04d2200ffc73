"""LLM-as-a-judge: 1-5 scores from a chat backend, probability-weighted or sampled.

A judge prompt asks for one score (Table 10's personalization prompt, ALOE's judge) or for several in
one reply (Table 10's quality prompt: "Coherence / Consistency / Fluency / Relevance"). A `ScoreFormat`
says which: the names of the scores, how a reply is parsed, and what separates the scores in a reply.

Two ways to turn a judge model into scores (G-Eval, Liu et al. 2023):

- ``probability`` (local backend): each score is ``sum_i i * p(i)``, p the next-token distribution over
  the digits "1".."5" at that score's place in the reply, renormalised over the five. For a reply of
  several scores the places after the first are reached by teacher forcing: the reply is written up to
  that place with the most probable digit at each earlier place and the format's separator between
  them (what greedy decoding would write, e.g. ``"4 / 5 / "`` before the fluency digit). One forward
  per score. The share of probability on the five digits is kept (``mass``): a low mass says the model
  did not want to answer with a digit there.
- ``sample`` (any backend, the only way over HTTP): ``n`` sampled replies are parsed by the format's
  rule; each score is the mean over the replies that parse. Replies that do not parse are counted and
  reported; an item none of whose replies parse has score None, never 0.

    judge = judge_from_config(JudgeConfig(model="smollm2-135m-instruct"))  # Judge(backend, config): yours
    judge_predictions(judge, queries, predictions, references)  # Table 10, on a 1-5 scale
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from percontrast.evaluation import judge_prompts as prompt_texts
from percontrast.evaluation.judge_config import JudgeConfig
from percontrast.modeling.chat import ChatBackend, Messages, TransformersChat, chat_backend, holds_reasoning
from percontrast.utils.errors import ConfigError

logger = logging.getLogger(__name__)

JUDGE_CRITERIA = ("personalization", "quality")  # the two prompts of Table 10

# A reply parses if it starts with the score ("4", "4.", "4/5", "Score: 4") or says "score ... is N".
_LEADING = re.compile(
    r"^\W*(?:score|rating)?\s*[:=]?\s*([1-5])(?![\d.]\d)(?:\s*(?:/\s*5|out of 5))?(?!\d)", re.IGNORECASE
)
_STATED = re.compile(
    r"\b(?:score|rating)\b[^0-9]{0,20}?\b([1-5])(?:\s*(?:/\s*5|out of 5))?(?![\d.]\d)\b", re.IGNORECASE
)
# Four scores "c / c / f / r", each optionally labelled ("Coherence: 4 / Consistency: 5 / ...").
_SLOT = r"(?:[A-Za-z]+\s*[:=]?\s*)?([1-5])(?![\d.]\d)"
_FOUR = re.compile(r"(?<![\d.])" + r"\s*/\s*".join([_SLOT] * 4) + r"(?![\d.]?\d)")


def parse_score(text: str) -> int | None:
    """The 1-5 score in a judge reply, or None when it cannot be read unambiguously."""
    match = _LEADING.match(text) or _STATED.search(text)
    return int(match.group(1)) if match else None


def parse_quality(text: str) -> tuple[int, int, int, int] | None:
    """The four scores of a quality reply ``"4 / 5 / 4 / 3"`` (labels allowed), or None."""
    match = _FOUR.search(text)
    return tuple(int(g) for g in match.groups()) if match else None  # type: ignore[return-value]


def parse_int_score(text: str) -> int | None:
    """ALOE's rule (eval_own.py lines 120 and 147: ``score = int(eval_result)``), kept to 1-5.

    Python's ``int`` accepts surrounding whitespace and nothing else; where ALOE's script would stop
    with a ValueError, the reply is counted as unparsed here. A value outside 1-5 (which ``int`` would
    accept) is counted as unparsed too.
    """
    try:
        value = int(text)
    except ValueError:
        return None
    return value if 1 <= value <= 5 else None


@dataclass(frozen=True)
class ScoreFormat:
    """What a judge reply holds.

    Attributes:
        names: the scores, in reply order.
        parse: reply -> one int per name, or None.
        separator: the text between two scores in a reply (teacher forcing in probability mode).
    """

    names: tuple[str, ...]
    parse: Callable[[str], tuple[int, ...] | None]
    separator: str = ""


def _one_score(parse_one: Callable[[str], int | None]) -> Callable[[str], tuple[int, ...] | None]:
    def parse(text: str) -> tuple[int, ...] | None:
        value = parse_one(text)
        return None if value is None else (value,)

    return parse


SINGLE = ScoreFormat(("score",), _one_score(parse_score))  # Table 10 personalization
QUALITY = ScoreFormat(prompt_texts.QUALITY_DIMENSIONS, parse_quality, separator=" / ")  # Table 10 quality
ALOE = ScoreFormat(("score",), _one_score(parse_int_score))  # ALOE's judge


@dataclass
class Judgement:
    """One judged item.

    Attributes:
        scores: name -> probability-weighted or mean sampled score; None if no reply parsed.
        replies: the raw sampled replies (sample mode).
        parsed: the scores read from each reply that parsed.
        n_failed: replies that could not be parsed (those holding a reasoning block included).
        n_reasoning: replies that still held a reasoning block (``<think>``): not parsed, since the
            digits in a model's reasoning are not its answer.
        probabilities: name -> p("1") .. p("5") renormalised (probability mode).
        mass: name -> probability of the five digit tokens before renormalising (probability mode).
    """

    scores: dict[str, float | None]
    replies: list[str] = field(default_factory=list)
    parsed: list[tuple[int, ...]] = field(default_factory=list)
    n_failed: int = 0
    n_reasoning: int = 0
    probabilities: dict[str, list[float]] | None = None
    mass: dict[str, float] | None = None

    @property
    def score(self) -> float | None:
        """The score of a single-score format."""
        if len(self.scores) != 1:
            raise ConfigError(f"this judgement has several scores: {sorted(self.scores)}")
        return next(iter(self.scores.values()))


class Judge:
    """Scores chat prompts from 1 to 5.

    Args:
        backend: the judge model (the config's own backend fields are not read: `judge_from_config`
            builds the backend they name).
        config: how the judge is asked (`JudgeConfig`: ``mode``, ``samples``, ``temperature``,
            ``max_tokens``); default: `JudgeConfig`'s defaults. A ``mode`` of None is probability
            where the backend offers it (a local model), else sample; ``temperature`` 0 is one greedy
            reply.
        seed: sampling seed.
    """

    def __init__(self, backend: ChatBackend, config: JudgeConfig | None = None, *, seed: int = 0) -> None:
        config = config or JudgeConfig()
        can_probability = isinstance(backend, TransformersChat)
        mode = config.mode or ("probability" if can_probability else "sample")
        if mode == "probability" and not can_probability:
            raise ConfigError(
                "probability scores need the next-token distribution: use a local judge model, or mode='sample'"
            )
        self.backend, self.config, self.mode, self.seed = backend, config, mode, seed

    @property
    def n_samples(self) -> int:
        """Replies per judgement in sample mode."""
        return self.config.samples

    def score(self, conversations: list[Messages], fmt: ScoreFormat = SINGLE) -> list[Judgement]:
        """One `Judgement` per conversation (its last message asks for the score or scores)."""
        if not conversations:
            return []
        if self.mode == "probability":
            return self._probability(conversations, fmt)
        replies = self.backend.chat(
            conversations,
            max_new_tokens=self.config.max_tokens,
            temperature=self.config.temperature,
            n=self.n_samples,
            seed=self.seed,
        )
        judgements = []
        for samples in replies:
            answers = [reply for reply in samples if not holds_reasoning(reply)]
            parsed = [values for values in map(fmt.parse, answers) if values is not None]
            scores = {
                name: (sum(p[i] for p in parsed) / len(parsed) if parsed else None)
                for i, name in enumerate(fmt.names)
            }
            judgements.append(
                Judgement(
                    scores=scores,
                    replies=samples,
                    parsed=parsed,
                    n_failed=len(samples) - len(parsed),
                    n_reasoning=len(samples) - len(answers),
                )
            )
        failed = sum(j.n_failed for j in judgements)
        reasoning = sum(j.n_reasoning for j in judgements)
        if reasoning:
            logger.warning(
                "%d of %d judge replies hold a reasoning block (<think>) and were not parsed; a "
                "reasoning model needs thinking off (chat_template_kwargs: {enable_thinking: false})",
                reasoning,
                len(judgements) * self.n_samples,
            )
        if failed:
            logger.warning(
                "%d of %d judge replies could not be parsed", failed, len(judgements) * self.n_samples
            )
        return judgements

    def _probability(self, conversations: list[Messages], fmt: ScoreFormat) -> list[Judgement]:
        digits = torch.arange(1, 6, dtype=torch.float32)
        written: list[list[int]] = [[] for _ in conversations]  # the greedy digits so far
        judgements = [Judgement(scores={}, probabilities={}, mass={}) for _ in conversations]
        for name in fmt.names:
            prefixes = [fmt.separator.join(map(str, w)) + (fmt.separator if w else "") for w in written]
            probs, mass = self.backend.score_distribution(conversations, prefixes)  # (N, 5), (N,)
            for i, judgement in enumerate(judgements):
                judgement.scores[name] = float(probs[i].float() @ digits)
                judgement.probabilities[name] = [float(p) for p in probs[i]]  # type: ignore[index]
                judgement.mass[name] = float(mass[i])  # type: ignore[index]
                written[i].append(int(probs[i].argmax()) + 1)
        return judgements


def judge_prompt(criterion: str, query: str, prediction: str, reference: str) -> Messages:
    """The chat prompt of one Table 10 criterion (``personalization`` or ``quality``)."""
    if criterion == "personalization":
        return prompt_texts.personalization_messages(query, reference, prediction)
    if criterion == "quality":
        return prompt_texts.quality_messages(query, prediction)
    raise ConfigError(f"unknown judge criterion {criterion!r}; choose from {list(JUDGE_CRITERIA)}")


def _summary(scores: list[float | None], judgements: list[Judgement]) -> dict:
    scored = [s for s in scores if s is not None]
    return {
        "mean": sum(scored) / len(scored) if scored else None,
        "n": len(scored),
        "n_unparsed": len(scores) - len(scored),
        "n_failed_replies": sum(j.n_failed for j in judgements),
        "n_reasoning_replies": sum(j.n_reasoning for j in judgements),
        "per_example": scores,
    }


def judge_predictions(
    judge: Judge,
    queries: list[str],
    predictions: list[str],
    references: list[str],
    criteria: tuple[str, ...] = JUDGE_CRITERIA,
) -> dict:
    """Judge every prediction with Table 10's prompts, on the 1-5 scale of their rubrics.

    ``personalization`` is one call per item; ``quality`` is one call per item whose reply holds the
    four dimensions. Table 10 prints 0-100 numbers without saying how they map from 1-5, so no
    rescaling is done here.

    Returns:
        ``{name: {"mean": mean over scored items or None, "n": scored, "n_unparsed": items with no
        parsable reply, "n_failed_replies": unparsable replies, "per_example": [score or None]}}`` for
        ``personalization``, each of ``coherence``, ``consistency``, ``fluency``, ``relevance``, and
        ``quality`` (per item the mean of its four scores).
    """
    results = {}
    for criterion in criteria:
        conversations = [
            judge_prompt(criterion, q, p, r) for q, p, r in zip(queries, predictions, references, strict=True)
        ]
        fmt = QUALITY if criterion == "quality" else SINGLE
        judgements = judge.score(conversations, fmt)
        if criterion == "personalization":
            results[criterion] = _summary([j.score for j in judgements], judgements)
            continue
        for name in fmt.names:
            results[name] = _summary([j.scores[name] for j in judgements], judgements)
        per_item = [
            None if any(j.scores[n] is None for n in fmt.names) else sum(j.scores.values()) / len(fmt.names)
            for j in judgements
        ]
        results["quality"] = _summary(per_item, judgements)
    return results


def judge_from_config(config: JudgeConfig, backend: ChatBackend | None = None, *, seed: int = 0) -> Judge:
    """The `Judge` of a `JudgeConfig` (``--judge-*`` flags, ``AloeConfig.judge``, an experiment's
    ``judge:`` section): the one place a judge is built from its settings.

    Args:
        config: the judge's settings.
        backend: the model that judges, where the caller holds it already (the experiment's judge,
            loaded once; ALOE's, built beside its simulator); None: the backend ``config`` names
            (`modeling.chat.chat_backend`).
        seed: sampling seed.
    """
    if backend is None:
        backend = chat_backend(config, "judge")
        if backend is None:
            raise ConfigError("the judge needs a local model or a url (--judge-model or --judge-url)")
    return Judge(backend, config, seed=seed)
