"""Persona-contrastive decoding: a = 0 is plain generation, the scores match two full forwards, resume."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from percontrast.cli import main
from percontrast.data.schema import Example, write_jsonl
from percontrast.generation.contrastive import (
    CACHE_ARG,
    ContrastConfig,
    PersonaContrastProcessor,
    contrast_scores,
)
from percontrast.generation.generate import (
    DecodingConfig,
    SamplingConfig,
    generate_from_ids,
    generate_predictions,
    left_pad,
    render_prompts,
)
from percontrast.utils.errors import ConfigError


def _examples(n: int = 5) -> list[Example]:
    personas = [
        ["I like to sew.", "My cat is called Tom."],
        ["I prefer headsets over earbuds."],
        ["I work in tv.", "I grew up in Ohio.", "I hate mornings."],
        ["I love to read books."],
        ["I travel often."],
    ]
    queries = ["What do you do on weekends?", "What device do you use?", "Where?", "Any hobby?", "Why?"]
    return [
        Example(id=f"ex{i}", persona=personas[i % 5], query=queries[i % 5], response=f"reference {i}")
        for i in range(n)
    ]


def _prompts(tokenizer, n: int = 3) -> tuple[list[list[int]], list[list[int]]]:
    examples = _examples(n)
    with_ids = render_prompts(examples, tokenizer, "persona_chat", with_persona=True)
    without_ids = render_prompts(examples, tokenizer, "persona_chat", with_persona=False)
    if n > 1:  # really different lengths: left padding is exercised
        assert len({len(ids) for ids in with_ids}) > 1 and len({len(ids) for ids in without_ids}) > 1
    return with_ids, without_ids


def test_contrast_scores_formula() -> None:
    logp_with = torch.log_softmax(torch.tensor([[2.0, 1.0, 0.0, -3.0]]), dim=-1)
    logp_without = torch.log_softmax(torch.tensor([[0.0, 2.0, 0.0, -1.0]]), dim=-1)
    scores = contrast_scores(logp_with, logp_without, 2.0, None)
    assert torch.allclose(scores, 3 * logp_with - 2 * logp_without)
    # b = 0.3: p_with / max p_with = [1, e^-1 = 0.37, e^-2 = 0.14, e^-5]: tokens 2 and 3 are cut.
    masked = contrast_scores(logp_with, logp_without, 2.0, 0.3)
    assert torch.isinf(masked[0, 2:]).all() and (masked[0, 2:] < 0).all()
    assert torch.equal(masked[0, :2], scores[0, :2])
    assert torch.equal(contrast_scores(logp_with, logp_without, 0.0, None), logp_with)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"contrast": -1.0}, "contrast"),
        ({"contrast": math.inf}, "contrast"),
        ({"plausibility": 0.0}, "plausibility"),
        ({"plausibility": 1.5}, "plausibility"),
    ],
)
def test_contrast_config_rejects_bad_values(kwargs, message) -> None:
    with pytest.raises(ConfigError, match=message):
        ContrastConfig(**kwargs)


def test_generation_config_refuses_contrast_without_persona_or_on_vllm() -> None:
    with pytest.raises(ConfigError, match="with_persona"):
        DecodingConfig(contrast=1.0, with_persona=False)
    with pytest.raises(ConfigError, match="transformers backend"):
        DecodingConfig(contrast=1.0, backend="vllm")
    assert not DecodingConfig(contrast=0.0).contrast_config.active
    assert DecodingConfig(plausibility=0.1).contrast_config.active


@pytest.mark.parametrize("greedy", [True, False])
def test_contrast_zero_is_plain_generation_bit_for_bit(tiny, greedy: bool) -> None:
    model, tokenizer = tiny
    with_ids, without_ids = _prompts(tokenizer)
    sampling = SamplingConfig(max_new_tokens=10, greedy=greedy, temperature=0.7)
    plain = generate_from_ids(model, tokenizer, with_ids, sampling, seed=3)
    zero = generate_from_ids(
        model,
        tokenizer,
        with_ids,
        sampling,
        seed=3,
        contrast=ContrastConfig(0.0),
        prompts_without=without_ids,
    )
    assert zero == plain
    steered = generate_from_ids(
        model,
        tokenizer,
        with_ids,
        sampling,
        seed=3,
        contrast=ContrastConfig(4.0),
        prompts_without=without_ids,
    )
    assert steered != plain  # the knob does something on this model


def _reference_scores(model, with_ids, without_ids, generated, contrast, plausibility) -> torch.Tensor:
    """Independent: two full, unpadded, uncached forwards of one row after ``generated`` tokens."""
    with torch.no_grad():
        logits_with = model(torch.tensor([with_ids + generated])).logits[0, -1].double()
        logits_without = model(torch.tensor([without_ids + generated])).logits[0, -1].double()
    logp_with = torch.log_softmax(logits_with, -1)
    logp_without = torch.log_softmax(logits_without, -1)
    expected = (1 + contrast) * logp_with - contrast * logp_without
    if plausibility is not None:
        keep = logp_with.exp() >= plausibility * logp_with.exp().max()
        expected = torch.where(keep, expected, torch.tensor(-math.inf, dtype=torch.float64))
    return expected


@pytest.mark.parametrize("plausibility", [None, 0.9])  # tiny is near uniform: 0.9 cuts
def test_scores_equal_two_full_forwards(tiny, plausibility) -> None:
    """Batched, left-padded, cached contrast = per-row uncached recomputation, at every step."""
    model, tokenizer = tiny
    with_ids, without_ids = _prompts(tokenizer)
    contrast, steps = 1.5, 6
    batch = left_pad(with_ids, tokenizer.pad_token_id)
    without = left_pad(without_ids, tokenizer.pad_token_id)
    processor = PersonaContrastProcessor(
        model, without["input_ids"], without["attention_mask"], ContrastConfig(contrast, plausibility)
    )
    output = model.generate(
        **batch,
        generation_config=SamplingConfig(max_new_tokens=steps, greedy=True).hf_config(tokenizer),
        logits_processor=[processor],
        output_scores=True,
        return_dict_in_generate=True,
    )
    new_ids = output.sequences[:, batch["input_ids"].shape[1] :].tolist()
    assert len(output.scores) == steps
    for row in range(len(with_ids)):
        for step in range(steps):
            if tokenizer.eos_token_id in new_ids[row][:step]:
                break  # finished rows are padded by generate; nothing to compare
            got = output.scores[step][row].double()
            expected = _reference_scores(
                model, with_ids[row], without_ids[row], new_ids[row][:step], contrast, plausibility
            )
            finite = torch.isfinite(expected)
            assert torch.equal(torch.isfinite(got), finite), (row, step)
            assert torch.allclose(got[finite], expected[finite], atol=1e-4), (row, step)
            if plausibility is not None:
                assert (~finite).any()  # the constraint really cut tokens


def test_matches_transformers_classifier_free_guidance(tiny) -> None:
    """One unpadded prompt: the same as transformers' CFG with guidance_scale = 1 + a."""
    model, tokenizer = tiny
    with_ids, without_ids = _prompts(tokenizer, 1)
    contrast = 2.0
    config = SamplingConfig(max_new_tokens=8, greedy=True).hf_config(tokenizer)
    ours = model.generate(
        torch.tensor(with_ids),
        attention_mask=torch.ones(1, len(with_ids[0]), dtype=torch.long),
        generation_config=config,
        logits_processor=[
            PersonaContrastProcessor(
                model,
                torch.tensor(without_ids),
                torch.ones(1, len(without_ids[0]), dtype=torch.long),
                ContrastConfig(contrast),
            )
        ],
    )
    config.guidance_scale = 1 + contrast
    theirs = model.generate(
        torch.tensor(with_ids),
        attention_mask=torch.ones(1, len(with_ids[0]), dtype=torch.long),
        generation_config=config,
        negative_prompt_ids=torch.tensor(without_ids),
    )
    assert ours.tolist() == theirs.tolist()


def test_processor_refuses_a_skipped_step(tiny) -> None:
    model, tokenizer = tiny
    with_ids, without_ids = _prompts(tokenizer, 1)
    processor = PersonaContrastProcessor(
        model,
        torch.tensor(without_ids),
        torch.ones(1, len(without_ids[0]), dtype=torch.long),
        ContrastConfig(1.0),
    )
    ids = torch.tensor(with_ids)
    processor(ids, torch.zeros(1, model.config.vocab_size))
    with pytest.raises(RuntimeError, match="missed a step"):
        processor(torch.cat([ids, ids[:, :2]], dim=1), torch.zeros(1, model.config.vocab_size))


@pytest.mark.parametrize("greedy", [True, False])
def test_contrastive_generation_is_deterministic_and_resumes(tiny, tmp_path: Path, greedy: bool) -> None:
    model, tokenizer = tiny
    examples = _examples(5)
    config = DecodingConfig(
        sampling=SamplingConfig(max_new_tokens=8, greedy=greedy, seed=1),
        template="persona_chat",
        batch_size=2,
        contrast=2.0,
        plausibility=0.1,
    )
    first, second, resumed = tmp_path / "a.jsonl", tmp_path / "b.jsonl", tmp_path / "c.jsonl"
    generate_predictions(model, tokenizer, examples, first, config, progress=False)
    generate_predictions(model, tokenizer, examples, second, config, progress=False)
    assert first.read_text() == second.read_text()
    # Interrupted after the first batch: the resumed file equals the uninterrupted one.
    resumed.write_text("".join(first.read_text().splitlines(keepends=True)[:2]))
    stats = generate_predictions(model, tokenizer, examples, resumed, config, progress=False)
    assert stats.skipped == 2 and stats.generated == 3
    assert resumed.read_text() == first.read_text()
    plain = tmp_path / "plain.jsonl"
    generate_predictions(
        model,
        tokenizer,
        examples,
        plain,
        DecodingConfig(sampling=config.sampling, batch_size=2),
        progress=False,
    )
    assert plain.read_text() != first.read_text()


def test_cli_generate_with_contrast(tmp_path: Path) -> None:
    data, out = tmp_path / "ex.jsonl", tmp_path / "preds.jsonl"
    write_jsonl(data, _examples(3))
    argv = ["generate", "--model", "tiny", "--data", str(data), "--out", str(out), "--max-new-tokens", "4"]
    argv += ["--greedy", "--batch-size", "2", "--contrast", "1.5", "--plausibility", "0.1"]
    assert main(argv) == 0
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [record["id"] for record in records] == ["ex0", "ex1", "ex2"]
    assert main(argv[:-4] + ["--contrast", "1", "--no-persona"]) == 2  # ConfigError, reported


def test_prefilled_caches_decode_as_fresh_ones(tiny) -> None:
    """Prompt caches computed once and copied (the sweep's prefix sharing) change nothing."""
    import copy

    from transformers.cache_utils import DynamicCache

    model, tokenizer = tiny
    with_ids, without_ids = _prompts(tokenizer)
    batch = left_pad(with_ids, tokenizer.pad_token_id)
    without = left_pad(without_ids, tokenizer.pad_token_id)
    config = SamplingConfig(max_new_tokens=6, greedy=True).hf_config(tokenizer)
    contrast = ContrastConfig(2.0, 0.9)

    def prefill(inputs: dict[str, torch.Tensor]) -> DynamicCache:
        mask = inputs["attention_mask"][:, :-1]
        cache = DynamicCache(config=model.config)
        with torch.no_grad():
            model(
                input_ids=inputs["input_ids"][:, :-1],
                attention_mask=mask,
                position_ids=(mask.cumsum(-1) - 1).clamp(min=0),
                use_cache=True,
                **{CACHE_ARG: cache},  # `cache` from transformers 5.24, `past_key_values` before
            )
        return cache

    fresh = model.generate(
        **batch,
        generation_config=config,
        logits_processor=[
            PersonaContrastProcessor(model, without["input_ids"], without["attention_mask"], contrast)
        ],
    )
    with_cache, without_cache = prefill(batch), prefill(without)
    for _ in range(2):  # the copies are used up, the originals are not
        prefilled = model.generate(
            **batch,
            **{CACHE_ARG: copy.deepcopy(with_cache)},
            generation_config=config,
            logits_processor=[
                PersonaContrastProcessor(
                    model,
                    without["input_ids"],
                    without["attention_mask"],
                    contrast,
                    copy.deepcopy(without_cache),
                )
            ],
        )
        assert prefilled.tolist() == fresh.tolist()


def test_aloe_refuses_contrast(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """ALOE's model under test never sees a persona: contrast is refused, not silently ignored."""
    argv = ["aloe", "--model", "tiny", "--judge-model", "tiny", "--profiles", "p.jsonl"]
    argv += ["--personalities", "q.jsonl", "--out", str(tmp_path / "aloe.json"), "--contrast", "1"]
    assert main(argv) == 2
    assert "nothing to contrast" in capsys.readouterr().err
