"""Model loading: aliases, the tiny model, clear errors for unknown specs."""

from __future__ import annotations

import pytest
import torch

from percontrast.modeling.load import ALIASES, load_model, tiny_tokenizer
from percontrast.utils.errors import ConfigError


def test_unknown_spec_lists_aliases():
    with pytest.raises(ConfigError) as info:
        load_model("no-such-model")
    for alias in ALIASES:
        assert alias in str(info.value)


def test_tiny_is_seeded_and_deterministic():
    model_a, _ = load_model("tiny", seed=3)
    model_b, _ = load_model("tiny", seed=3)
    model_c, _ = load_model("tiny", seed=4)
    for (name, a), b in zip(model_a.named_parameters(), model_b.parameters(), strict=True):
        assert torch.equal(a, b), name
    assert any(not torch.equal(a, c) for a, c in zip(model_a.parameters(), model_c.parameters(), strict=True))


def test_tiny_tokenizer_round_trips_any_text():
    tokenizer = tiny_tokenizer()
    text = "Ünïcode 👍 and tabs\t, new\nlines"
    assert tokenizer.decode(tokenizer(text, add_special_tokens=False)["input_ids"]) == text
    rendered = tokenizer.apply_chat_template(
        [{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True
    )
    assert rendered == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
    assert tokenizer.convert_tokens_to_ids("<|im_end|>") == tokenizer.eos_token_id


def test_bad_dtype_is_an_error():
    with pytest.raises(ConfigError, match="unknown dtype"):
        load_model("tiny", dtype="float33")
