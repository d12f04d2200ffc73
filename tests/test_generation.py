"""Generation: left padding is invisible, sampling is seeded, the output resumes, the CLI writes records."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from percontrast.cli import main
from percontrast.data.schema import Example, write_jsonl
from percontrast.generation.generate import (
    DecodingConfig,
    SamplingConfig,
    generate_from_ids,
    generate_predictions,
    left_pad,
    render_prompts,
)
from percontrast.utils.errors import ConfigError, DataError


def _examples(n: int = 5) -> list[Example]:
    personas = [
        "I like to sew.",
        "I prefer headsets over earbuds.",
        "I work in tv.",
        "I love to read books.",
        "I travel often.",
    ]
    queries = [
        "What do you do on weekends?",
        "What device do you use?",
        "Where do you work?",
        "Any hobby?",
        "Why?",
    ]
    return [
        Example(
            id=f"ex{i}", persona=[personas[i % 5]], query=queries[i % 5] + " " * i, response=f"reference {i}"
        )
        for i in range(n)
    ]


def test_left_pad_masks_padding() -> None:
    batch = left_pad([[5, 6, 7], [9]], pad_id=0)
    assert batch["input_ids"].tolist() == [[5, 6, 7], [0, 0, 9]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [0, 0, 1]]


def test_batched_greedy_equals_one_by_one(tiny) -> None:
    """Left padding with attention masks: a batch of different lengths decodes as each prompt alone."""
    model, tokenizer = tiny
    prompts = render_prompts(_examples(4), tokenizer, "persona_chat", with_persona=True)
    assert len({len(ids) for ids in prompts}) > 1  # really different lengths
    greedy = SamplingConfig(max_new_tokens=8, greedy=True)
    batched, _ = generate_from_ids(model, tokenizer, prompts, greedy)
    alone = [generate_from_ids(model, tokenizer, [ids], greedy)[0][0] for ids in prompts]
    assert batched == alone


def test_sampling_is_seeded(tiny) -> None:
    model, tokenizer = tiny
    prompts = render_prompts(_examples(2), tokenizer, "persona_chat", with_persona=True)
    sampling = SamplingConfig(max_new_tokens=10, temperature=1.0)
    first = generate_from_ids(model, tokenizer, prompts, sampling, seed=1)[0]
    assert first == generate_from_ids(model, tokenizer, prompts, sampling, seed=1)[0]
    others = [generate_from_ids(model, tokenizer, prompts, sampling, seed=s)[0] for s in (2, 3, 4)]
    assert any(other != first for other in others)


def test_no_persona_prompt_drops_the_persona(tiny) -> None:
    _, tokenizer = tiny
    example = _examples(1)[0]
    with_ids = render_prompts([example], tokenizer, "persona_chat", True)[0]
    without_ids = render_prompts([example], tokenizer, "persona_chat", False)[0]
    assert "sew" in tokenizer.decode(with_ids) and "sew" not in tokenizer.decode(without_ids)


def test_generate_writes_in_order_and_resumes(tiny, tmp_path: Path) -> None:
    model, tokenizer = tiny
    examples = _examples(5)
    config = DecodingConfig(sampling=SamplingConfig(max_new_tokens=6, temperature=1.0, seed=7), batch_size=2)
    full = tmp_path / "full.jsonl"
    stats = generate_predictions(model, tokenizer, examples, full, config, progress=False)
    assert stats.generated == 5 and stats.skipped == 0 and stats.new_tokens > 0
    records = [json.loads(line) for line in full.read_text().splitlines()]
    assert [r["id"] for r in records] == [e.id for e in examples]
    assert [r["reference"] for r in records] == [e.response for e in examples]
    assert set(records[0]) == {"id", "prediction", "reference"}
    # Interrupted after the first two batches: a rerun finishes with the same samples.
    partial = tmp_path / "partial.jsonl"
    partial.write_text("".join(line + "\n" for line in full.read_text().splitlines()[:4]))
    resumed = generate_predictions(model, tokenizer, examples, partial, config, progress=False)
    assert resumed.skipped == 4 and resumed.generated == 1
    assert partial.read_text() == full.read_text()
    # Nothing left: nothing generated.
    assert generate_predictions(model, tokenizer, examples, full, config, progress=False).generated == 0


def test_resume_rejects_an_output_from_other_data(tiny, tmp_path: Path) -> None:
    model, tokenizer = tiny
    out = tmp_path / "preds.jsonl"
    out.write_text(json.dumps({"id": "stranger", "prediction": "x", "reference": "y"}) + "\n")
    with pytest.raises(DataError, match="stranger"):
        generate_predictions(model, tokenizer, _examples(2), out, progress=False)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_new_tokens": 0}, "max_new_tokens"),
        ({"temperature": 0.0}, "temperature"),
    ],
)
def test_sampling_config_validation(kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        SamplingConfig(**kwargs)


def test_generation_config_validation() -> None:
    with pytest.raises(ConfigError, match="backend"):
        DecodingConfig(backend="tgi")
    with pytest.raises(ConfigError, match="unknown template"):
        DecodingConfig(template="nope")
    assert SamplingConfig().max_new_tokens == 512 and SamplingConfig().temperature == 0.4


def test_vllm_backend_is_optional(tiny, tmp_path: Path) -> None:
    pytest.importorskip("torch")
    try:
        import vllm  # noqa: F401

        pytest.skip("vllm is installed here")
    except ImportError:
        pass
    model, tokenizer = tiny
    with pytest.raises(ConfigError, match="pip install vllm"):
        generate_predictions(
            model,
            tokenizer,
            _examples(1),
            tmp_path / "p.jsonl",
            DecodingConfig(backend="vllm"),
            progress=False,
        )


def test_cli_generate(tmp_path: Path) -> None:
    data = tmp_path / "ex.jsonl"
    write_jsonl(data, _examples(3))
    out = tmp_path / "preds.jsonl"
    argv = [
        "generate",
        "--model",
        "tiny",
        "--data",
        str(data),
        "--out",
        str(out),
        "--max-new-tokens",
        "4",
        "--greedy",
        "--batch-size",
        "2",
    ]
    assert main(argv) == 0
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in records] == ["ex0", "ex1", "ex2"]
    assert main(argv) == 0  # resumed: nothing to do, file unchanged
    assert len(out.read_text().splitlines()) == 3
    assert torch.is_grad_enabled()
