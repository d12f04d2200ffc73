"""PerContrast scoring: batched and padded scores equal one-at-a-time and brute-force ones (invariant 2)."""

from __future__ import annotations

import math

import pytest
import torch

from percontrast.data.schema import Example
from percontrast.prompts.encoding import encode_example
from percontrast.scoring.config import ScoreConfig
from percontrast.scoring.pir import length_buckets, pir_from_logprobs, score_examples
from percontrast.utils.errors import ConfigError, DataError

EXAMPLES = [
    Example(
        id="a",
        persona=["I am short.", "I like to sew."],
        query="What do you do for fun?",
        response="I usually stitch clothes or crafts.",
    ),
    Example(id="b", persona=["I prefer headsets over earbuds."], query="Music device?", response="Big ones."),
    Example(
        id="c",
        persona=["I work in tv.", "i like pepsi.", "I have two dogs and a cat at home."],
        query="Drink?",
        response="I always grab a cold Pepsi when I get home from the studio.",
    ),
]


def brute_force_logprobs(model, prompt_ids, response_ids):
    """One forward per response position, on the unpadded sequence: the independent reference."""
    values = []
    with torch.no_grad():
        for i, token in enumerate(response_ids):
            logits = model(torch.tensor([prompt_ids + response_ids[:i]])).logits[0, -1]
            values.append(float(torch.log_softmax(logits.double(), -1)[token]))
    return values


def test_scores_equal_brute_force_loop(tiny):
    model, tokenizer = tiny
    scores = score_examples(model, tokenizer, EXAMPLES, ScoreConfig(batch_size=3), progress=False)
    for example, item in zip(EXAMPLES, scores, strict=True):
        encoded = encode_example(example, tokenizer, "persona_chat")
        expected_with = brute_force_logprobs(model, encoded.prompt_with_ids, encoded.response_ids)
        expected_without = brute_force_logprobs(model, encoded.prompt_without_ids, encoded.response_ids)
        assert item.token_ids == encoded.response_ids
        assert item.logp_with == pytest.approx(expected_with, abs=1e-5)
        assert item.logp_without == pytest.approx(expected_without, abs=1e-5)
        assert item.pir == pytest.approx(
            [w - wo for w, wo in zip(expected_with, expected_without, strict=True)], abs=2e-5
        )


@pytest.mark.parametrize("side", ["left", "right"])
@pytest.mark.parametrize("batch_size", [1, 2, 3])
def test_batched_and_padded_equal_one_at_a_time(tiny, side, batch_size):
    model, tokenizer = tiny
    alone = [score_examples(model, tokenizer, [example], progress=False)[0] for example in EXAMPLES]
    batched = score_examples(
        model, tokenizer, EXAMPLES, ScoreConfig(batch_size=batch_size), padding_side=side, progress=False
    )
    for one, many in zip(alone, batched, strict=True):
        assert one.id == many.id
        assert many.logp_with == pytest.approx(one.logp_with, abs=1e-5)
        assert many.logp_without == pytest.approx(one.logp_without, abs=1e-5)


def test_ratio_form_is_exp_of_log_form(tiny):
    model, tokenizer = tiny
    log_form = score_examples(model, tokenizer, EXAMPLES[:1], progress=False)[0]
    ratio_form = score_examples(
        model, tokenizer, EXAMPLES[:1], ScoreConfig(pir_form="ratio"), progress=False
    )[0]
    assert ratio_form.pir == pytest.approx([math.exp(v) for v in log_form.pir], rel=1e-5)
    with pytest.raises(ConfigError, match="pir form"):
        pir_from_logprobs(torch.zeros(1), torch.zeros(1), "diff")


def test_record_has_the_documented_fields(tiny):
    model, tokenizer = tiny
    record = score_examples(model, tokenizer, EXAMPLES[:1], progress=False)[0].to_dict()
    for key in (
        "id",
        "tokens",
        "token_ids",
        "offsets",
        "logp_with",
        "logp_without",
        "pir",
        "prompt_with",
        "prompt_without",
    ):
        assert key in record
    assert (
        len({len(record[k]) for k in ("tokens", "token_ids", "offsets", "logp_with", "logp_without", "pir")})
        == 1
    )


def test_response_longer_than_context_is_an_error(tiny):
    model, tokenizer = tiny
    long = Example(id="long", persona=["p"], query="q", response="word " * 2100)
    with pytest.raises(DataError, match="longer than the model's context") as info:
        score_examples(model, tokenizer, [long], progress=False)
    assert info.value.record_id == "long"


def test_length_buckets_respect_limits():
    lengths = [5, 50, 7, 48, 6, 100]
    batches = list(length_buckets(lengths, max_batch_size=2, max_batch_tokens=100))
    assert sorted(i for batch in batches for i in batch) == list(range(6))
    for batch in batches:
        assert len(batch) <= 2
        assert len(batch) == 1 or len(batch) * max(lengths[i] for i in batch) <= 100
    assert batches[0] == [5]  # longest first
