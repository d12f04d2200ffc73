"""Tokenizing an example into the paired sequences that PerContrast and PerCE compare.

ARCHITECTURE.md, data flow: the template renders the prompt twice (with and without persona), the
response is tokenized ONCE, and the same response ids are appended to both prompts (invariant 1).
`truncate_persona` implements invariant 6: the query and the response are never cut; persona items
are dropped lowest-ranked (last) first, then the last kept item is shortened, and every drop is
reported. `fit_example` and `fit_examples` (and `fit_prompt` for a prompt alone) are the one policy
that scoring, training, generation, the benchmark builder and the demo share: encode within ``max_length``; an example whose persona the truncation
removed entirely is skipped and counted (its two prompts would differ by an empty persona frame only,
so PIR would measure no persona). `pad_pairs` pads a list of encoded examples into the two batches
the model sees.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from transformers.tokenization_utils_base import PreTrainedTokenizerBase

from percontrast.data.schema import Example
from percontrast.prompts.registry import PromptTemplate, resolve_template
from percontrast.utils.errors import DataError

IGNORE_INDEX = -100  # the one ignore index of the package (labels on prompts and padding)


@dataclass
class TruncationReport:
    """What `truncate_persona` removed from one example's persona."""

    items_kept: int
    items_dropped: int
    last_item_tokens_cut: int = 0

    @property
    def truncated(self) -> bool:
        return self.items_dropped > 0 or self.last_item_tokens_cut > 0


@dataclass
class EncodedExample:
    """Token ids of one example, ready to be paired.

    Attributes:
        id: the example id.
        prompt_with_ids: the prompt with persona.
        prompt_without_ids: the prompt without persona.
        response_ids: the response, tokenized once; appended to both prompts.
        response_offsets: ``(start, end)`` character offsets of each response token in ``response``.
        prompt_with: the rendered prompt text with persona (for anyone to recompute).
        prompt_without: the rendered prompt text without persona.
        truncation: what was cut from the persona to fit ``max_length`` (None if nothing was asked).
        persona: the persona items ``prompt_with`` holds (after any truncation).
    """

    id: str
    prompt_with_ids: list[int]
    prompt_without_ids: list[int]
    response_ids: list[int]
    response_offsets: list[tuple[int, int]]
    prompt_with: str
    prompt_without: str
    truncation: TruncationReport | None = field(default=None)
    persona: list[str] = field(default_factory=list)

    @property
    def length_with(self) -> int:
        return len(self.prompt_with_ids) + len(self.response_ids)


def tokenize_prompt(tokenizer: PreTrainedTokenizerBase, text: str, template: PromptTemplate) -> list[int]:
    """Token ids of a rendered prompt.

    Chat prompts already contain their special tokens as text, so none are added. Text prompts get
    the tokenizer's BOS (if it adds one) but never a trailing EOS.
    """
    if template.kind == "chat":
        return tokenizer(text, add_special_tokens=False)["input_ids"]
    ids = tokenizer(text, add_special_tokens=True)["input_ids"]
    if (
        ids
        and tokenizer.eos_token_id is not None
        and ids[-1] == tokenizer.eos_token_id
        and tokenizer.eos_token_id != tokenizer.bos_token_id
    ):
        ids = ids[:-1]
    return ids


def tokenize_response(
    tokenizer: PreTrainedTokenizerBase, response: str, template: PromptTemplate, add_eos: bool
) -> tuple[list[int], list[tuple[int, int]]]:
    """Token ids and character offsets (into ``response``) of the response; EOS optional."""
    prefix = template.response_prefix
    encoded = tokenizer(prefix + response, add_special_tokens=False, return_offsets_mapping=True)
    ids = list(encoded["input_ids"])
    shift = len(prefix)
    offsets = [(max(start - shift, 0), max(end - shift, 0)) for start, end in encoded["offset_mapping"]]
    if add_eos:
        if tokenizer.eos_token_id is None:
            raise DataError("add_eos was asked but the tokenizer has no EOS token")
        ids.append(tokenizer.eos_token_id)
        offsets.append((len(response), len(response)))
    return ids, offsets


def truncate_persona(
    example: Example,
    tokenizer: PreTrainedTokenizerBase,
    template: PromptTemplate,
    budget: int,
) -> tuple[list[str], TruncationReport]:
    """Fit the prompt with persona into ``budget`` tokens by cutting the persona only (invariant 6).

    Items are dropped from the end (the lowest ranked), then the last kept item is shortened token by
    token. Raises `DataError` if even the prompt without any persona item does not fit.

    Returns:
        The persona items to use and a report of what was cut.
    """
    items = list(example.persona)

    def length(persona: list[str]) -> int:
        block = template.persona_block(persona) if persona else ""
        return len(
            tokenize_prompt(
                tokenizer,
                template.render_persona_block(block, example.query, tokenizer, history=example.history),
                template,
            )
        )

    if length(items) <= budget:
        return items, TruncationReport(items_kept=len(items), items_dropped=0)
    if length([]) > budget:
        raise DataError(
            f"the prompt without any persona item needs {length([])} tokens but only {budget} fit beside the "
            "response; the query and the response are never cut: raise max_length or drop the example",
            record_id=example.id,
            field="query",
        )
    # Largest k such that the first k items fit (length grows with k): binary search.
    low, high = 0, len(items)  # items[:low] fits, items[:high] does not
    while high - low > 1:
        middle = (low + high) // 2
        if length(items[:middle]) <= budget:
            low = middle
        else:
            high = middle
    kept = items[:low]
    # Shorten the next item (the last one kept, partially) by whole tokens, if any of it fits.
    partial_ids = tokenizer(items[low], add_special_tokens=False)["input_ids"]
    lo, hi = 0, len(partial_ids)  # prefix of lo tokens fits, hi does not
    while hi - lo > 1:
        middle = (lo + hi) // 2
        if length(kept + [tokenizer.decode(partial_ids[:middle]).strip()]) <= budget:
            lo = middle
        else:
            hi = middle
    if lo > 0:
        shortened = tokenizer.decode(partial_ids[:lo]).strip()
        return kept + [shortened], TruncationReport(
            items_kept=low + 1, items_dropped=len(items) - low - 1, last_item_tokens_cut=len(partial_ids) - lo
        )
    return kept, TruncationReport(items_kept=low, items_dropped=len(items) - low)


def encode_example(
    example: Example,
    tokenizer: PreTrainedTokenizerBase,
    template: PromptTemplate | str | None = None,
    *,
    max_length: int | None = None,
    add_eos: bool = False,
) -> EncodedExample:
    """Render and tokenize one example with and without persona, sharing the response ids.

    Args:
        example: the example.
        tokenizer: the model's tokenizer.
        template: a `PromptTemplate` or its registered name; None (the default) renders the example
            with its own ``template`` (`prompts.registry.resolve_template`).
        max_length: if set, the longest allowed sequence (prompt with persona plus response); the
            persona is truncated to fit (invariant 6). A response that cannot fit is an error.
        add_eos: append the EOS token to the response (for training, so the model learns to stop).
    """
    template = resolve_template(example, template)
    response_ids, offsets = tokenize_response(tokenizer, example.response, template, add_eos)
    if not response_ids:
        raise DataError("response tokenizes to no tokens", record_id=example.id, field="response")
    persona, report = example.persona, None
    if max_length is not None:
        budget = max_length - len(response_ids)
        if budget <= 0:
            raise DataError(
                f"the response has {len(response_ids)} tokens, more than max_length={max_length}; responses are never "
                "truncated silently: raise max_length or shorten the response",
                record_id=example.id,
                field="response",
            )
        persona, report = truncate_persona(example, tokenizer, template, budget)
    prompt_with = template.render_persona_block(
        template.persona_block(persona) if persona else "", example.query, tokenizer, history=example.history
    )
    prompt_without = template.render(example, with_persona=False, tokenizer=tokenizer)
    return EncodedExample(
        id=example.id,
        prompt_with_ids=tokenize_prompt(tokenizer, prompt_with, template),
        prompt_without_ids=tokenize_prompt(tokenizer, prompt_without, template),
        response_ids=response_ids,
        response_offsets=offsets,
        prompt_with=prompt_with,
        prompt_without=prompt_without,
        truncation=report,
        persona=list(persona),
    )


class PersonaLostError(DataError):
    """The persona truncation left no persona item: the example cannot measure or teach the persona."""


def persona_lost_reason(max_length: int | None) -> str:
    """Why an example whose persona was truncated away is skipped, and what to do about it."""
    return (
        f"no persona item fits max_length={max_length} beside the query and the response: the two prompts "
        "would differ by the empty persona frame only (no persona text); raise max_length or shorten the query"
    )


def fit_example(
    example: Example,
    tokenizer: PreTrainedTokenizerBase,
    template: PromptTemplate | str | None = None,
    *,
    max_length: int | None,
    add_eos: bool = False,
) -> EncodedExample:
    """`encode_example` within ``max_length``, refusing an example whose persona was truncated away.

    Raises:
        DataError: the query and the response do not fit ``max_length`` (they are never cut).
        PersonaLostError: (a `DataError`) they fit, but with no persona item beside them.
    """
    encoded = encode_example(example, tokenizer, template, max_length=max_length, add_eos=add_eos)
    if encoded.truncation is not None and encoded.truncation.items_kept == 0:
        raise PersonaLostError(persona_lost_reason(max_length), record_id=example.id, field="persona")
    return encoded


def fit_prompt(
    example: Example,
    tokenizer: PreTrainedTokenizerBase,
    template: PromptTemplate | str | None = None,
    *,
    with_persona: bool = True,
    max_prompt_tokens: int | None = None,
) -> tuple[list[int], TruncationReport | None]:
    """The prompt of one example alone (generation: no response yet), within ``max_prompt_tokens`` by the
    same policy as `fit_example`: the persona is truncated (invariant 6), the query never.

    Returns:
        The prompt's token ids and what was cut (None when nothing had to be).

    Raises:
        DataError: the prompt without any persona item (or, ``with_persona=False``, the persona-free
            prompt) does not fit.
        PersonaLostError: with persona, no persona item fits beside the query; the prompt would carry an
            empty persona frame, so a "with persona" generation would be a persona-free one.
    """
    template = resolve_template(example, template)
    ids = tokenize_prompt(tokenizer, template.render(example, with_persona, tokenizer=tokenizer), template)
    if max_prompt_tokens is None or len(ids) <= max_prompt_tokens:
        return ids, None
    if not with_persona:  # nothing to cut: the query is never truncated
        raise DataError(
            f"the prompt without persona needs {len(ids)} tokens but only {max_prompt_tokens} fit beside "
            "max_new_tokens within the model's context; the query is never cut: lower max_new_tokens or "
            "shorten the query",
            record_id=example.id,
            field="query",
        )
    persona, report = truncate_persona(example, tokenizer, template, max_prompt_tokens)
    if report.items_kept == 0:
        raise PersonaLostError(
            f"no persona item fits the {max_prompt_tokens} prompt tokens left beside max_new_tokens within "
            "the model's context: the prompt would carry an empty persona frame; lower max_new_tokens or "
            "shorten the query",
            record_id=example.id,
            field="persona",
        )
    block = template.persona_block(persona)
    text = template.render_persona_block(block, example.query, tokenizer, history=example.history)
    return tokenize_prompt(tokenizer, text, template), report


@dataclass
class SkippedExample:
    """An example left out, and why."""

    id: str
    reason: str


@dataclass
class FittedExamples:
    """What `fit_examples` kept, skipped and truncated.

    Attributes:
        encoded: the kept examples, encoded, in input order.
        indices: the position in the input of each kept example.
        skipped: the examples left out, with the reason.
        truncated_ids: ids of the kept examples whose persona was truncated to fit.
    """

    encoded: list[EncodedExample] = field(default_factory=list)
    indices: list[int] = field(default_factory=list)
    skipped: list[SkippedExample] = field(default_factory=list)
    truncated_ids: list[str] = field(default_factory=list)

    def log_counts(self, log: logging.Logger, source: str, max_length: int | None) -> None:
        """Warn about the skipped examples (by id and reason) and count the truncated ones."""
        total = len(self.encoded) + len(self.skipped)
        if self.skipped:
            log.warning(
                "%s: skipped %d of %d examples: %s",
                source,
                len(self.skipped),
                total,
                "; ".join(f"{item.id} ({item.reason})" for item in self.skipped[:20])
                + (" ..." if len(self.skipped) > 20 else ""),
            )
        if self.truncated_ids:
            log.info(
                "%s: persona truncated to fit max_length=%s in %d of %d examples",
                source,
                max_length,
                len(self.truncated_ids),
                total,
            )


def fit_examples(
    examples: Sequence[Example],
    tokenizer: PreTrainedTokenizerBase,
    template: PromptTemplate | str | None = None,
    *,
    max_length: int | None,
    add_eos: bool = False,
    skip_unfitting: bool = True,
) -> FittedExamples:
    """`fit_example` over a list: skip and count what does not fit (never silently).

    Args:
        examples: the examples.
        tokenizer: the model's tokenizer.
        template: prompt template (name or object); None: each example's own.
        max_length: the longest sequence (prompt with persona plus response); None: no limit.
        add_eos: append EOS to each response.
        skip_unfitting: skip an example whose query and response cannot be encoded within
            ``max_length``; False: raise its `DataError`. An example whose persona was truncated away
            is always skipped.
    """
    fitted = FittedExamples()
    for index, example in enumerate(examples):
        try:
            encoded = fit_example(example, tokenizer, template, max_length=max_length, add_eos=add_eos)
        except PersonaLostError as exc:
            fitted.skipped.append(SkippedExample(id=example.id, reason=exc.message))
            continue
        except DataError as exc:
            if not skip_unfitting:
                raise
            fitted.skipped.append(SkippedExample(id=example.id, reason=str(exc)))
            continue
        if encoded.truncation is not None and encoded.truncation.truncated:
            fitted.truncated_ids.append(example.id)
        fitted.encoded.append(encoded)
        fitted.indices.append(index)
    return fitted


def pad_sequences(
    prompts: list[list[int]], responses: list[list[int]], pad_id: int, padding_side: str = "right"
) -> dict[str, torch.Tensor]:
    """Pad ``prompt + response`` sequences into one batch.

    Returns a dict with ``input_ids``, ``attention_mask``, ``position_ids`` (B, T) and
    ``response_start`` (B,), the index of each row's first response token. Position ids count real
    tokens only, so left and right padding give the same positions.
    """
    if padding_side not in ("left", "right"):
        raise ValueError(f"padding_side must be 'left' or 'right', got {padding_side!r}")
    sequences = [prompt + response for prompt, response in zip(prompts, responses, strict=True)]
    width = max(len(sequence) for sequence in sequences)
    batch = len(sequences)
    input_ids = torch.full((batch, width), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((batch, width), dtype=torch.long)
    response_start = torch.empty(batch, dtype=torch.long)
    for row, (sequence, prompt) in enumerate(zip(sequences, prompts, strict=True)):
        offset = width - len(sequence) if padding_side == "left" else 0
        input_ids[row, offset : offset + len(sequence)] = torch.tensor(sequence, dtype=torch.long)
        attention_mask[row, offset : offset + len(sequence)] = 1
        response_start[row] = offset + len(prompt)
    position_ids = (attention_mask.cumsum(-1) - 1).clamp(min=0)
    return {
        "input_ids": input_ids,
        "attention_mask": attention_mask,
        "position_ids": position_ids,
        "response_start": response_start,
    }


def pad_responses(responses: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Responses laid out by response position: ``(response_ids, response_mask)``, each (B, R)."""
    width = max(len(response) for response in responses)
    response_ids = torch.full((len(responses), width), pad_id, dtype=torch.long)
    response_mask = torch.zeros((len(responses), width), dtype=torch.long)
    for row, response in enumerate(responses):
        response_ids[row, : len(response)] = torch.tensor(response, dtype=torch.long)
        response_mask[row, : len(response)] = 1
    return response_ids, response_mask


def pad_pairs(
    encoded: list[EncodedExample], pad_id: int, padding_side: str = "right"
) -> dict[str, torch.Tensor]:
    """The paired batch: ``with_*`` and ``without_*`` sequences plus the shared response.

    Returns:
        ``with_input_ids``, ``with_attention_mask``, ``with_position_ids``, ``with_response_start``,
        the same four with ``without_``, ``response_ids`` (B, R) padded with ``pad_id`` and
        ``response_mask`` (B, R), 1 on real response tokens.
    """
    responses = [example.response_ids for example in encoded]
    batch: dict[str, torch.Tensor] = {}
    for prefix, prompts in (
        ("with", [e.prompt_with_ids for e in encoded]),
        ("without", [e.prompt_without_ids for e in encoded]),
    ):
        for key, value in pad_sequences(prompts, responses, pad_id, padding_side).items():
            batch[f"{prefix}_{key}"] = value
    batch["response_ids"], batch["response_mask"] = pad_responses(responses, pad_id)
    return batch
