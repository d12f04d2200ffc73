"""Paired encoding (invariant 1), padding, and persona truncation (invariant 6)."""

from __future__ import annotations

import pytest
import torch

from percontrast.data.schema import Example
from percontrast.prompts.encoding import (
    PersonaLostError,
    encode_example,
    fit_example,
    fit_examples,
    pad_pairs,
    pad_sequences,
    truncate_persona,
)
from percontrast.prompts.registry import get_template
from percontrast.utils.errors import DataError

EXAMPLE = Example(
    id="sew",
    persona=["I am short.", "My hair is brown.", "I am not thin.", "I like to sew."],
    query="What's your favorite way to spend a free afternoon?",
    response="I usually stitch clothes or crafts.",
)


@pytest.mark.parametrize("template", ["persona_chat", "persona_text"])
def test_response_ids_are_shared_and_prompts_differ_only_by_persona(tiny, template):
    _, tokenizer = tiny
    encoded = encode_example(EXAMPLE, tokenizer, template)
    # Invariant 1: one tokenization of the response, appended to both prompts.
    with_full = encoded.prompt_with_ids + encoded.response_ids
    without_full = encoded.prompt_without_ids + encoded.response_ids
    assert with_full[-len(encoded.response_ids) :] == without_full[-len(encoded.response_ids) :]
    assert "I like to sew." in encoded.prompt_with and "sew" not in encoded.prompt_without
    assert EXAMPLE.query in encoded.prompt_without
    assert len(encoded.prompt_without_ids) < len(encoded.prompt_with_ids)
    # Offsets index into the bare response and cover it.
    pieces = "".join(EXAMPLE.response[start:end] for start, end in encoded.response_offsets)
    assert pieces.replace(" ", "") == EXAMPLE.response.replace(" ", "")


def test_persona_free_chat_prompt_keeps_instruction(tiny):
    _, tokenizer = tiny
    encoded = encode_example(EXAMPLE, tokenizer, "persona_chat")
    template = get_template("persona_chat")
    assert encoded.prompt_without.startswith("<|im_start|>system\n" + template.without_persona + "<|im_end|>")
    assert encoded.prompt_with.count("I like to sew.") == 1 and encoded.prompt_without.count("sew") == 0
    # Everything but the persona block stays: the rest of the system message and the user turn.
    assert encoded.prompt_with.endswith(encoded.prompt_without.split("<|im_end|>", 1)[1])


def test_eos_appended_for_training(tiny):
    _, tokenizer = tiny
    plain = encode_example(EXAMPLE, tokenizer, "persona_chat")
    with_eos = encode_example(EXAMPLE, tokenizer, "persona_chat", add_eos=True)
    assert with_eos.response_ids == plain.response_ids + [tokenizer.eos_token_id]


@pytest.mark.parametrize("side", ["left", "right"])
def test_padding_layout(side):
    batch = pad_sequences([[1, 2, 3], [4]], [[5, 6], [7, 8, 9]], pad_id=0, padding_side=side)
    assert batch["input_ids"].shape == (2, 5)
    for row, (prompt, response) in enumerate([([1, 2, 3], [5, 6]), ([4], [7, 8, 9])]):
        start = int(batch["response_start"][row])
        assert batch["input_ids"][row, start : start + len(response)].tolist() == response
        real = batch["attention_mask"][row].bool()
        assert batch["input_ids"][row][real].tolist() == prompt + response
        assert batch["position_ids"][row][real].tolist() == list(range(len(prompt) + len(response)))


def test_pad_pairs_shares_response(tiny):
    _, tokenizer = tiny
    other = Example(id="b", persona=["I have a cat."], query="Pets?", response="A cat named Tom.")
    encoded = [encode_example(e, tokenizer, "persona_chat") for e in (EXAMPLE, other)]
    batch = pad_pairs(encoded, pad_id=tokenizer.pad_token_id)
    for prefix in ("with", "without"):
        for row, item in enumerate(encoded):
            start = int(batch[f"{prefix}_response_start"][row])
            n = len(item.response_ids)
            assert batch[f"{prefix}_input_ids"][row, start : start + n].tolist() == item.response_ids
    assert batch["response_mask"].sum(-1).tolist() == [len(e.response_ids) for e in encoded]
    assert torch.equal(
        batch["response_ids"][0, : len(encoded[0].response_ids)], torch.tensor(encoded[0].response_ids)
    )


def test_truncation_drops_lowest_ranked_then_shortens(tiny):
    _, tokenizer = tiny
    template = get_template("persona_chat")
    full = encode_example(EXAMPLE, tokenizer, template)
    bare = len(
        tokenizer(template.render_persona_block("", EXAMPLE.query, tokenizer), add_special_tokens=False)[
            "input_ids"
        ]
    )
    for budget in range(bare, len(full.prompt_with_ids) + 1):
        persona, report = truncate_persona(EXAMPLE, tokenizer, template, budget)
        encoded = encode_example(EXAMPLE, tokenizer, template, max_length=budget + len(full.response_ids))
        assert len(encoded.prompt_with_ids) <= budget
        assert encoded.response_ids == full.response_ids  # the response is never cut
        assert EXAMPLE.query in encoded.prompt_with  # the query is never cut
        # Kept items are a prefix of the ranking; only the last one may be shortened.
        assert persona[:-1] == EXAMPLE.persona[: len(persona) - 1] if persona else True
        if persona:
            assert EXAMPLE.persona[len(persona) - 1].startswith(persona[-1])
        assert report.items_kept + report.items_dropped == len(EXAMPLE.persona)
        assert report.items_kept == len(persona)
        assert report.truncated == (budget < len(full.prompt_with_ids))


def test_truncation_errors_when_query_and_response_cannot_fit(tiny):
    _, tokenizer = tiny
    with pytest.raises(DataError, match="never cut") as info:
        encode_example(EXAMPLE, tokenizer, "persona_chat", max_length=30)
    assert info.value.record_id == "sew"
    with pytest.raises(DataError, match="response has"):
        encode_example(EXAMPLE, tokenizer, "persona_chat", max_length=3)


def test_fit_examples_skips_and_counts_what_does_not_fit_with_some_persona(tiny):
    _, tokenizer = tiny
    # The item starts with a character of several byte-level tokens: its first token alone decodes to
    # a replacement character that costs more tokens than it saves, so a max_length exists at which the
    # query fits but no part of the persona does.
    lost = Example(
        id="lost", persona=["\U0001f44d\U0001f44d I sew red clothes."], query=EXAMPLE.query, response="I sew."
    )
    lost_at = next(
        max_length for max_length in range(10, 400) if _items_kept(lost, tokenizer, max_length) == 0
    )
    with pytest.raises(PersonaLostError, match="no persona item fits") as info:
        fit_example(lost, tokenizer, "persona_chat", max_length=lost_at)
    assert info.value.record_id == "lost"
    short = Example(id="short", persona=["I sew.", EXAMPLE.query * 3], query="Hi?", response="Yes.")
    long = Example(id="long", persona=["I sew."], query=EXAMPLE.query * 5, response="Yes.")
    fitted = fit_examples([long, lost, short], tokenizer, "persona_chat", max_length=lost_at)
    assert fitted.indices == [2] and [item.id for item in fitted.encoded] == ["short"]
    assert [item.id for item in fitted.skipped] == ["long", "lost"]
    assert "never cut" in fitted.skipped[0].reason and "no persona item fits" in fitted.skipped[1].reason
    assert fitted.truncated_ids == ["short"] and fitted.encoded[0].persona[0] == "I sew."
    with pytest.raises(DataError, match="never cut"):
        fit_examples([long, short], tokenizer, "persona_chat", max_length=lost_at, skip_unfitting=False)
    # Without max_length nothing is truncated or skipped.
    fitted = fit_examples([long, lost], tokenizer, "persona_chat", max_length=None)
    assert fitted.indices == [0, 1] and not fitted.skipped and not fitted.truncated_ids
    assert fitted.encoded[1].persona == lost.persona


def _items_kept(example, tokenizer, max_length):
    """Persona items kept at ``max_length``; None if the example does not fit at all."""
    try:
        return encode_example(example, tokenizer, "persona_chat", max_length=max_length).truncation.items_kept
    except DataError:
        return None
