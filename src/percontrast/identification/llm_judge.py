"""The LLM-as-a-judge baseline of Appendix A: the model lists the answer's persona keywords.

The prompt is the paper's Appendix D.2 "Prompt for the LLM-as-a-Judge method"
(``resources/prompts/identification_judge.txt``), with the QA pair framed as a conversation
(User 2 asks, User 1 answers). The reply is parsed into keywords (`parse_keywords`) and every keyword is
matched back to the answer (`match_keywords`): case-insensitive, whole words, every occurrence. A keyword
that does not occur in the answer cannot identify a token; it is counted (``n_unmatched``), as is a reply
from which no keyword could be read (``n_empty_replies``). Generation is greedy.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

from percontrast.data.schema import Example
from percontrast.identification.labels import CharRange, occurrences
from percontrast.modeling.config import ChatModelConfig
from percontrast.utils.bundled import load_published_prompt

logger = logging.getLogger(__name__)

JUDGE_PROMPT = "identification_judge"
_SPLIT = re.compile(r"[\n,;]|\s-\s")
# Removed from the start of each piece: "Keywords:", a speaker label echoed from the prompt ("User 1:"),
# bullets, numbering.
_LEAD = re.compile(r"^\s*(?:keywords?\s*:|user\s*\d\s*:|[-*•]+|\d+[.)]|\()\s*", re.IGNORECASE)
_STRIP = " \t\"'“”‘’`*_.:!?()[]"


def judge_messages(example: Example) -> list[dict[str, str]]:
    """The chat turn asking for the keywords of ``example``'s answer (persona sentences joined by spaces)."""
    prompt = load_published_prompt(JUDGE_PROMPT)
    text = prompt.fill(persona=" ".join(example.persona), question=example.query, answer=example.response)
    return [{"role": "user", "content": text}]


def parse_keywords(reply: str) -> list[str]:
    """Keywords from a reply: split on lines, commas and semicolons; bullets, numbering, a leading
    "Keywords:" or "User 1:", quotes and markdown emphasis removed; duplicates (case-insensitive) kept once."""
    keywords: list[str] = []
    seen: set[str] = set()
    for piece in _SPLIT.split(reply):
        text = piece
        while True:
            stripped = _LEAD.sub("", text, count=1)
            if stripped == text:
                break
            text = stripped
        text = text.strip(_STRIP)
        if text and text.lower() not in seen:
            seen.add(text.lower())
            keywords.append(text)
    return keywords


def match_keywords(answer: str, keywords: Sequence[str]) -> tuple[list[CharRange], list[str]]:
    """Ranges of the answer the keywords cover, and the keywords that do not occur in it."""
    ranges: list[CharRange] = []
    unmatched: list[str] = []
    for keyword in keywords:
        found = occurrences(answer, keyword, ignore_case=True, whole_words=True)
        if found:
            ranges.extend(found)
        else:
            unmatched.append(keyword)
    return ranges, unmatched


@dataclass
class JudgeStats:
    """What the judge said, and how much of it could be used."""

    backend: str
    n_replies: int = 0
    n_empty_replies: int = 0
    n_keywords: int = 0
    n_unmatched: int = 0
    unmatched_examples: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def judge_keywords(
    examples: Sequence[Example], backend, config: ChatModelConfig
) -> tuple[list[list[CharRange]], list[str], JudgeStats]:
    """Ask ``backend`` (a `ChatBackend`) for each answer's keywords and match them back.

    Args:
        examples: the answers.
        backend: the judge model.
        config: its reply length and temperature (``IdentifyConfig().judge``: 32 tokens, greedy).

    Returns:
        Per example the matched character ranges of its answer, the raw replies, and the counts.
    """
    conversations = [judge_messages(example) for example in examples]
    logger.info(
        "asking the judge for the keywords of %d answers (temperature %g, %d new tokens)",
        len(examples),
        config.temperature,
        config.max_tokens,
    )
    replies = backend.chat(conversations, max_new_tokens=config.max_tokens, temperature=config.temperature)
    replies = [r[0] for r in replies]
    stats = JudgeStats(backend=getattr(backend, "name", type(backend).__name__), n_replies=len(replies))
    ranges = []
    for example, reply in zip(examples, replies, strict=True):
        keywords = parse_keywords(reply)
        matched, unmatched = match_keywords(example.response, keywords)
        stats.n_keywords += len(keywords)
        stats.n_unmatched += len(unmatched)
        stats.n_empty_replies += int(not keywords)
        if unmatched and len(stats.unmatched_examples) < 20:
            stats.unmatched_examples.extend(f"{example.id}: {k}" for k in unmatched[:2])
        ranges.append(matched)
    logger.info(
        "judge %s: %d replies, %d without keywords, %d keywords, %d not in the answer",
        stats.backend,
        stats.n_replies,
        stats.n_empty_replies,
        stats.n_keywords,
        stats.n_unmatched,
    )
    return ranges, replies, stats
