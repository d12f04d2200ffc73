"""The training data of PerCE: encoded examples with skip accounting, and the paired-batch collator.

`encode_training_examples` tokenizes every example once (prompt with persona, prompt without
persona, the response once, shared by both: invariant 1), truncating the persona to ``max_length``
(invariant 6). Examples whose query plus response cannot fit, and examples whose persona the
truncation removes entirely (their two prompts would differ by an empty persona frame only, so PIR
would measure no persona), are skipped, counted and listed by id with the reason, never dropped
silently (`percontrast.prompts.encoding.fit_examples`, the policy scoring shares); a file with no usable
example is an error.

`PairedCollator` pads a list of encoded examples into the two batches that `PerCETrainer` needs
(see `percontrast.prompts.encoding.pad_pairs`) and adds ``labels`` (B, T) for the with-persona sequence:
the response tokens at their positions, -100 on the prompt and padding. ``labels`` only lets the
Trainer count the response tokens of an optimizer step (``num_items_in_batch``, across micro-batches
and processes); it is never passed to the model.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch.utils.data import Dataset
from transformers.tokenization_utils_base import PreTrainedTokenizerBase

from percontrast.data.schema import Example
from percontrast.prompts.encoding import IGNORE_INDEX, EncodedExample, SkippedExample, fit_examples, pad_pairs
from percontrast.prompts.registry import PromptTemplate
from percontrast.utils.errors import DataError

logger = logging.getLogger(__name__)


@dataclass
class EncodedDataset(Dataset):
    """Encoded training examples plus what was skipped or truncated on the way."""

    examples: list[EncodedExample]
    skipped: list[SkippedExample] = field(default_factory=list)
    truncated_ids: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, index: int) -> EncodedExample:
        return self.examples[index]


def encode_training_examples(
    examples: Sequence[Example],
    tokenizer: PreTrainedTokenizerBase,
    template: PromptTemplate | str | None = None,
    *,
    max_length: int,
    add_eos: bool = True,
    source: str = "training data",
) -> EncodedDataset:
    """Encode examples for training; skip (and list) those that cannot fit with some persona.

    Args:
        examples: the examples.
        tokenizer: the model's tokenizer.
        template: prompt template (name or object); None: each example's own (`resolve_template`).
        max_length: the longest sequence; the persona is truncated to fit (invariant 6).
        add_eos: append EOS to each response.
        source: how to name the data in messages (e.g. the file path).

    Raises:
        DataError: if no example is usable.
    """
    fitted = fit_examples(examples, tokenizer, template, max_length=max_length, add_eos=add_eos)
    fitted.log_counts(logger, source, max_length)
    dataset = EncodedDataset(
        examples=fitted.encoded, skipped=fitted.skipped, truncated_ids=fitted.truncated_ids
    )
    if not dataset.examples:
        raise DataError(
            f"no usable training example: {len(examples)} read, {len(dataset.skipped)} skipped because query + response "
            f"(with at least part of the persona) cannot fit max_length={max_length}; raise max_length or check the file",
            path=source,
        )
    return dataset


@dataclass
class PairedCollator:
    """Pad encoded examples into the paired batch of PerCE (see the module docstring).

    Returns ``with_*`` and ``without_*`` ``input_ids``, ``attention_mask``, ``position_ids``
    (B, T_with) / (B, T_without) and ``response_start`` (B,); ``response_ids`` and
    ``response_mask`` (B, R); and ``labels`` (B, T_with).
    """

    pad_id: int
    padding_side: str = "right"

    def __call__(self, encoded: list[EncodedExample]) -> dict[str, torch.Tensor]:
        batch = pad_pairs(encoded, self.pad_id, self.padding_side)
        labels = torch.full_like(batch["with_input_ids"], IGNORE_INDEX)  # (B, T)
        positions = (
            batch["with_response_start"][:, None] + torch.arange(batch["response_ids"].shape[1])[None, :]
        )
        mask = batch["response_mask"].bool()
        rows = torch.arange(len(encoded))[:, None].expand_as(positions)
        labels[rows[mask], positions[mask]] = batch["response_ids"][mask]
        batch["labels"] = labels
        return batch
