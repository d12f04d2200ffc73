"""PerContrast: the Personal Influence Ratio of every response token.

Paper: "Rethinking Personalization in Large Language Models at the Token Level", Eq. 2:

    PIR(y_i) = log P(y_i | persona, x, y_<i) - log P(y_i | x, y_<i)

The same model scores the same response token ids twice, once after the prompt with the user's
persona and once after the prompt without it. `score_examples` does this in length-bucketed
batches, with logits only at response positions (see `percontrast.modeling.response_forward`).

CLI: ``percontrast score --model smollm2-135m-instruct --data ex.jsonl --out scores.jsonl --html heatmap.html``
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass

import torch
from tqdm.auto import tqdm
from transformers import PreTrainedModel
from transformers.tokenization_utils_base import PreTrainedTokenizerBase

from percontrast.data.schema import Example
from percontrast.modeling.load import max_context
from percontrast.modeling.response_forward import enable_response_forward, response_logprobs
from percontrast.prompts.encoding import EncodedExample, fit_examples, pad_responses, pad_sequences
from percontrast.scoring.config import ScoreConfig
from percontrast.scoring.formula import PIR_FORMS, PirForm, pir_from_logprobs  # noqa: F401 (re-exported)
from percontrast.utils.errors import ConfigError, DataError

logger = logging.getLogger(__name__)


@dataclass
class TokenScores:
    """Token scores of one example (README.md, "Formats")."""

    id: str
    tokens: list[str]
    token_ids: list[int]
    offsets: list[list[int]]
    logp_with: list[float]
    logp_without: list[float]
    pir: list[float]
    response: str
    prompt_with: str
    prompt_without: str
    pir_form: str = "log"

    def to_dict(self) -> dict:
        return asdict(self)

    def top_tokens(self, k: int = 5) -> list[tuple[str, float]]:
        """The k tokens with the highest PIR, as ``(token, pir)``; a byte piece of a character
        (empty own text, see `token_texts`) shows the character it belongs to."""
        order = sorted(range(len(self.pir)), key=lambda i: self.pir[i], reverse=True)[:k]
        return [(self.tokens[i] or self.response[slice(*self.offsets[i])], self.pir[i]) for i in order]


def length_buckets(lengths: Sequence[int], max_batch_size: int, max_batch_tokens: int) -> Iterator[list[int]]:
    """Indices grouped into batches of similar length, longest first.

    A batch holds at most ``max_batch_size`` sequences and ``max_batch_tokens`` padded tokens
    (a single longer sequence still gets a batch of its own).
    """
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    batch: list[int] = []
    for index in order:
        width = lengths[batch[0]] if batch else lengths[index]
        if batch and (len(batch) + 1 > max_batch_size or (len(batch) + 1) * width > max_batch_tokens):
            yield batch
            batch = []
        batch.append(index)
    if batch:
        yield batch


@torch.no_grad()
def score_sequences(
    model: PreTrainedModel,
    prompts: list[list[int]],
    responses: list[list[int]],
    pad_id: int,
    *,
    padding_side: str = "right",
    chunk_size: int = 512,
) -> list[torch.Tensor]:
    """Log-probs (R_i,) of each response after its prompt, for independent sequences in one padded batch."""
    device = next(model.parameters()).device
    batch = {
        key: value.to(device)
        for key, value in pad_sequences(prompts, responses, pad_id, padding_side).items()
    }
    response_ids, response_mask = pad_responses(responses, pad_id)
    logp, _ = response_logprobs(
        model,
        batch["input_ids"],
        batch["attention_mask"],
        batch["position_ids"],
        batch["response_start"],
        response_ids.to(device),
        response_mask.to(device),
        chunk_size=chunk_size,
    )
    logp = logp.cpu()
    return [logp[row, : len(response)] for row, response in enumerate(responses)]


def pad_token_id(tokenizer: PreTrainedTokenizerBase) -> int:
    """The id used for padding: the tokenizer's pad token, else its end-of-sequence token."""
    return tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id


def score_units(
    model: PreTrainedModel,
    prompts: Sequence[Sequence[int]],
    responses: Sequence[Sequence[int]],
    pad_id: int,
    *,
    max_batch_size: int = 16,
    max_batch_tokens: int = 8192,
    padding_side: str = "right",
    chunk_size: int = 512,
    progress: bool = True,
    desc: str = "scoring",
) -> list[torch.Tensor]:
    """Response log-probs (R_i,) of independent ``prompt + response`` sequences, in input order, scored in
    length buckets (`length_buckets`) of at most ``max_batch_size`` sequences and ``max_batch_tokens``.

    ``model`` is prepared with `percontrast.modeling.response_forward.enable_response_forward` first (idempotent; its own
    forward, ``generate`` and ``save_pretrained`` are unchanged by it).
    """
    enable_response_forward(model)
    lengths = [len(prompt) + len(response) for prompt, response in zip(prompts, responses, strict=True)]
    logps: list[torch.Tensor | None] = [None] * len(prompts)
    with tqdm(total=sum(map(len, responses)), unit="tok", desc=desc, disable=not progress) as bar:
        for bucket in length_buckets(lengths, max_batch_size, max_batch_tokens):
            batch_responses = [list(responses[u]) for u in bucket]
            values = score_sequences(
                model,
                [list(prompts[u]) for u in bucket],
                batch_responses,
                pad_id,
                padding_side=padding_side,
                chunk_size=chunk_size,
            )
            for u, value in zip(bucket, values, strict=True):
                logps[u] = value
            bar.update(sum(len(response) for response in batch_responses))
    return logps


def score_examples(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    examples: Sequence[Example],
    config: ScoreConfig | None = None,
    *,
    padding_side: str = "right",
    chunk_size: int = 512,
    progress: bool = True,
) -> list[TokenScores]:
    """Score every response token of every example with PerContrast.

    Args:
        model: a causal LM in eval mode; prepared here with `percontrast.modeling.response_forward.enable_response_forward`
            (idempotent; its own forward, ``generate`` and ``save_pretrained`` are unchanged by it).
        tokenizer: its tokenizer.
        examples: the examples; results come back in the same order.
        config: the settings (default: `ScoreConfig`'s): ``template`` (a name or a `PromptTemplate`;
            None: each example's own, `resolve_template`), ``pir_form`` (``"log"``, Eq. 2, or
            ``"ratio"``), ``batch_size`` (most sequences per forward), ``max_batch_tokens`` (most
            padded tokens per forward; batches are length-bucketed) and ``max_length`` (truncate the
            persona so prompt plus response fits, invariant 6; None: the model's context, and a
            response that cannot fit is an error).
        padding_side: ``"right"`` or ``"left"``; results are the same either way.
        chunk_size: rows of the vocabulary projection computed at a time.
        progress: show a progress bar.

    Returns:
        One `TokenScores` per example, in order, except examples whose persona truncation removed
        entirely (no persona text left to measure): those are skipped, counted and named in a warning.
    """
    config = config or ScoreConfig()
    max_length = config.max_length
    enable_response_forward(model)
    context = max_context(model, tokenizer)
    if max_length is not None and not 2 <= max_length <= context:
        raise ConfigError(f"max_length must be in 2..{context} (the model's context), got {max_length}")
    fitted = fit_examples(examples, tokenizer, config.template, max_length=max_length, skip_unfitting=False)
    if max_length is None:
        for item in fitted.encoded:
            if item.length_with > context:
                raise DataError(_too_long_message(item, context), record_id=item.id)
    fitted.log_counts(logger, "scoring", max_length)
    if fitted.skipped and not fitted.encoded:
        raise DataError(f"no example keeps any persona within max_length={max_length}; raise max_length")
    examples = [examples[i] for i in fitted.indices]
    encoded = fitted.encoded
    # The with- and without-persona sequences are scored as independent units, bucketed by their own
    # length: the persona-free ones are much shorter and would be mostly padding beside their partners.
    prompts = [prompt for item in encoded for prompt in (item.prompt_with_ids, item.prompt_without_ids)]
    logps = score_units(
        model,
        prompts,
        [item.response_ids for item in encoded for _ in range(2)],
        pad_token_id(tokenizer),
        max_batch_size=config.batch_size,
        max_batch_tokens=config.max_batch_tokens,
        padding_side=padding_side,
        chunk_size=chunk_size,
        progress=progress,
    )
    return [
        _token_scores(examples[i], encoded[i], tokenizer, logps[2 * i], logps[2 * i + 1], config.pir_form)
        for i in range(len(encoded))
    ]


def token_texts(
    response: str,
    offsets: Sequence[Sequence[int]],
    token_ids: Sequence[int],
    tokenizer: PreTrainedTokenizerBase,
) -> list[str]:
    """Each response token's own text, cut from the response by its character offsets.

    Decoding one id at a time turns the byte pieces of a multi-byte character (Hebrew, CJK, emoji in
    a byte-level BPE) into U+FFFD. Here each character belongs to the first token that covers it; a
    token whose characters were all taken (a later byte piece of the same character) gets ``""``,
    and whitespace the offsets leave out goes to the token after it, so the texts join to the
    response. Zero-width tokens (EOS) are decoded.
    """
    texts: list[str] = []
    covered = 0
    for (start, end), token_id in zip(offsets, token_ids, strict=True):
        if start == end:
            texts.append(tokenizer.decode([token_id]))
            continue
        texts.append(response[covered:end] if end > covered else "")
        covered = max(covered, end)
    last = max((i for i, (start, end) in enumerate(offsets) if start != end), default=None)
    if last is not None and covered < len(response):
        texts[last] += response[covered:]
    return texts


def _too_long_message(item: EncodedExample, context: int) -> str:
    """Why an example does not fit the context, and the advice that can help it."""
    if len(item.response_ids) + len(item.prompt_without_ids) > context:
        return (
            f"the response alone ({len(item.response_ids)} tokens) with the prompt without persona "
            f"({len(item.prompt_without_ids)} tokens) is longer than the model's context ({context}); "
            "responses and queries are never cut: shorten them or drop the example"
        )
    return (
        f"prompt with persona plus response is {item.length_with} tokens, longer than the model's context "
        f"({context}); pass max_length to truncate the persona (the response is never cut)"
    )


def _token_scores(
    example: Example,
    item: EncodedExample,
    tokenizer: PreTrainedTokenizerBase,
    logp_with: torch.Tensor,
    logp_without: torch.Tensor,
    pir_form: PirForm,
) -> TokenScores:
    pir = pir_from_logprobs(logp_with, logp_without, pir_form)
    values = [logp_with.tolist(), logp_without.tolist(), pir.tolist()]
    for series in values:
        if not all(math.isfinite(v) for v in series):
            raise FloatingPointError(f"non-finite log-prob in example {example.id!r}")
    return TokenScores(
        id=example.id,
        tokens=token_texts(example.response, item.response_offsets, item.response_ids, tokenizer),
        token_ids=list(item.response_ids),
        offsets=[list(offset) for offset in item.response_offsets],
        logp_with=values[0],
        logp_without=values[1],
        pir=values[2],
        response=example.response,
        prompt_with=item.prompt_with,
        prompt_without=item.prompt_without,
        pir_form=pir_form,
    )
