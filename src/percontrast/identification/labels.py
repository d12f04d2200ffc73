"""Which response tokens are ground-truth personal tokens, and which tokens a method identified.

The unit of Appendix A's precision and recall is the response *token* (the model's tokenizer). The
annotation marks *spans* of words, and the paper's rule is that an identified token is correct when it
lies within a ground-truth personal word. With character offsets this reads:

- a **word** of the response is a maximal run of letters, digits, apostrophes and hyphens joining
  them (``WORD_PATTERN``: "Indian-American", "don't", "Saturdays"); punctuation is not part of words;
- a **personal word** is a word lying entirely inside an occurrence of a ``personal_spans`` string in
  the response (every occurrence counts; spans are exact, word-aligned substrings);
- a token's **core** is its ``[start, end)`` offsets with leading and trailing whitespace removed
  (BPE tokens carry their leading space: " camera" -> "camera");
- a token is **personal** (ground truth) when its core is non-empty and lies inside one personal word.
  So " S", "atur", "days" of "Saturdays" are all personal if "Saturdays" is, and the "." after
  "Pepsi" is not; a token that runs across a word boundary (rare with BPE) is never personal.

Word matching and the LLM judge identify *character ranges* of the response (matched words or
keywords); a token is identified by them when its core overlaps one of those ranges.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from percontrast.utils.errors import DataError

WORD_PATTERN = re.compile(r"[^\W_]+(?:['’\-][^\W_]+)*")

CharRange = tuple[int, int]


def words(text: str) -> list[CharRange]:
    """``[start, end)`` of every word of ``text`` (see ``WORD_PATTERN``)."""
    return [match.span() for match in WORD_PATTERN.finditer(text)]


def occurrences(
    text: str, phrase: str, *, ignore_case: bool = False, whole_words: bool = False
) -> list[CharRange]:
    """Every (non-overlapping) ``[start, end)`` of ``phrase`` in ``text``.

    ``whole_words``: only occurrences that neither start nor end inside a word.
    """
    if not phrase:
        return []
    flags = re.IGNORECASE if ignore_case else 0
    pattern = re.escape(phrase)
    if whole_words:
        pattern = r"(?<![^\W_])" + pattern + r"(?![^\W_])"
    return [match.span() for match in re.finditer(pattern, text, flags)]


def personal_words(response: str, spans: Sequence[str], *, record_id: str | None = None) -> list[CharRange]:
    """The words of ``response`` inside an occurrence of a personal span.

    Raises:
        DataError: a span does not occur in the response.
    """
    covered: list[CharRange] = []
    for span in spans:
        found = occurrences(response, span)
        if not found:
            raise DataError(f"personal span {span!r} is not in the response", record_id=record_id)
        covered.extend(found)
    return [w for w in words(response) if any(s <= w[0] and w[1] <= e for s, e in covered)]


def token_core(response: str, offset: Sequence[int]) -> CharRange:
    """The token's ``[start, end)`` without leading/trailing whitespace (empty: ``start == end``)."""
    start, end = int(offset[0]), int(offset[1])
    while start < end and response[start].isspace():
        start += 1
    while end > start and response[end - 1].isspace():
        end -= 1
    return start, end


def token_labels(
    response: str, offsets: Sequence[Sequence[int]], personal: Sequence[CharRange]
) -> list[bool]:
    """Ground truth per token: its non-empty core lies inside one personal word."""
    labels = []
    for offset in offsets:
        start, end = token_core(response, offset)
        labels.append(start < end and any(ws <= start and end <= we for ws, we in personal))
    return labels


def tokens_overlapping(
    response: str, offsets: Sequence[Sequence[int]], ranges: Sequence[CharRange]
) -> list[bool]:
    """Per token: its non-empty core overlaps one of ``ranges`` (what a word-level method identifies)."""
    flags = []
    for offset in offsets:
        start, end = token_core(response, offset)
        flags.append(start < end and any(start < re_ and rs < end for rs, re_ in ranges))
    return flags


def word_level_pir(response: str, offsets: Sequence[Sequence[int]], pir: Sequence[float]) -> list[float]:
    """Each token gets the PIR of its whole word: the sum of the PIRs of the tokens in that word.

    The sum of token log-ratios is the log-ratio of the word's probability, log P(word | persona, ...) -
    log P(word | ...), so every piece of "Saturdays" (" S", "atur", "days") gets the persona's effect on
    the word, not only the first piece (the later pieces are predictable from the first either way).
    A token is put in the first word its core overlaps; tokens outside words (punctuation) keep their PIR.
    """
    spans = words(response)
    word_of: list[int | None] = []
    for offset in offsets:
        start, end = token_core(response, offset)
        word_of.append(next((k for k, (ws, we) in enumerate(spans) if start < we and ws < end), None))
    totals: dict[int, float] = {}
    for k, value in zip(word_of, pir, strict=True):
        if k is not None:
            totals[k] = totals.get(k, 0.0) + value
    return [value if k is None else totals[k] for k, value in zip(word_of, pir, strict=True)]


def word_level_pir_max(
    response: str, offsets: Sequence[Sequence[int]], candidates: Sequence[Sequence[float]]
) -> list[float]:
    """Per token, the largest `word_level_pir` over several PIR rows of the same answer (one per persona fact,
    say): each row's log-ratio of the whole word first, then the maximum over rows."""
    rows = [word_level_pir(response, offsets, row) for row in candidates]
    return [max(column) for column in zip(*rows, strict=True)]
