"""The prompt template travels with the data: every command renders an example with its own template.

The README's pipeline (`data` -> `train` -> `generate`) runs on a LongLaMP fixture and the text that
reached the model in each step is decoded from the input ids the model actually received.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from transformers import LlamaModel

from percontrast.data.schema import Example
from percontrast.data.sources import read_examples
from percontrast.prompts.registry import get_template, render_chat, resolve_template
from percontrast.utils.errors import ConfigError
from percontrast.utils.files import write_jsonl

FIXTURES = Path(__file__).resolve().parent / "fixtures"
ABSTRACT_OPENING = "Your task is to write abstracts for the user's paper."


def example(template: str | None = None, **fields) -> Example:
    base = dict(id="e1", persona=["I sew."], query="What do you do on Sundays?", response="I stitch.")
    base.update(fields)
    return Example(template=template, **base)


def test_resolve_uses_the_examples_template_and_refuses_a_contradiction():
    assert resolve_template(example()).name == "persona_chat"
    assert resolve_template(example("persona_text")).name == "persona_text"
    assert resolve_template(example(), "persona_text").name == "persona_text"
    assert resolve_template(example("persona_text"), "persona_text").name == "persona_text"
    with pytest.raises(ConfigError, match="'persona_text'.*'persona_chat'"):
        resolve_template(example("persona_text"), "persona_chat")


def test_template_field_round_trips_through_jsonl(tmp_path):
    path = tmp_path / "ex.jsonl"
    write_jsonl(path, [example("persona_text")])
    record = json.loads(path.read_text())
    assert record["template"] == "persona_text"
    assert read_examples(path)[0].template == "persona_text"


def test_score_renders_a_mixed_file_with_each_examples_template(tiny):
    from percontrast.scoring.config import ScoreConfig
    from percontrast.scoring.pir import score_examples

    model, tokenizer = tiny
    mixed = [example("persona_text", id="text"), example("persona_chat", id="chat"), example(None, id="none")]
    scores = score_examples(model, tokenizer, mixed, progress=False)
    assert scores[0].prompt_with.startswith("Persona: I sew.\nQuestion:")
    assert "You are a person with this persona: I sew." in scores[1].prompt_with
    assert scores[2].prompt_with == scores[1].prompt_with
    with pytest.raises(ConfigError, match="built for template 'persona_text'"):
        score_examples(model, tokenizer, mixed, ScoreConfig(template="persona_chat"), progress=False)


class _Recorder:
    """Records the decoded input of every full-prompt forward of a Llama decoder (every path runs it)."""

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer
        self.texts: list[str] = []

    def install(self, monkeypatch):
        original = LlamaModel.forward
        recorder = self

        def forward(model, input_ids=None, attention_mask=None, **kwargs):
            if input_ids is not None and input_ids.shape[1] > 1:
                for row in range(input_ids.shape[0]):
                    ids = input_ids[row]
                    if attention_mask is not None:
                        ids = ids[attention_mask[row].bool()]
                    recorder.texts.append(recorder.tokenizer.decode(ids.tolist()))
            return original(model, input_ids=input_ids, attention_mask=attention_mask, **kwargs)

        monkeypatch.setattr(LlamaModel, "forward", forward)


def _system_text(text: str) -> str:
    start = text.index("<|im_start|>system\n") + len("<|im_start|>system\n")
    return text[start : text.index("<|im_end|>", start)]


@pytest.mark.parametrize("task", ["abstract_generation", "product_review", "topic_writing"])
def test_readme_pipeline_sends_the_longlamp_system_message_in_every_step(tmp_path, monkeypatch, tiny, task):
    from percontrast.cli import main

    suffix = ".json" if task == "product_review" else ".jsonl"
    data = tmp_path / "train.jsonl"
    fixture = FIXTURES / "longlamp" / f"{task}_user_val{suffix}"
    args = ["data", "longlamp", "--task", task, "--input", str(fixture), "--retriever", "bm25"]
    assert main([*args, "--model", "tiny", "--out", str(data)]) == 0
    examples = read_examples(data)
    template = get_template(f"LongLaMP_{task}_chat")
    assert {e.template for e in examples} == {template.name}
    expected_with = {
        template.with_persona.replace("{persona}", template.persona_block(e.persona)) for e in examples
    }
    expected_without = {template.without_persona}

    _, tokenizer = tiny
    recorder = _Recorder(tokenizer)
    recorder.install(monkeypatch)
    train_argv = ["train", "--model", "tiny", "--data", str(data), "--loss", "perce", "--output-dir"]
    flags = ["--max_steps", "1", "--per_device_train_batch_size", "2", "--use_cpu", "--disable_tqdm", "true"]
    flags += ["--report_to", "none", "--probe_steps", "0", "--save_strategy", "no"]
    assert main([*train_argv, str(tmp_path / "run"), *flags]) == 0
    trained = {_system_text(text) for text in recorder.texts}
    # The grad forward sees the prompts with persona, the PIR pass the persona-free ones: nothing else.
    assert trained == expected_with | expected_without
    assert not any("You are a person with this persona" in text for text in recorder.texts)

    recorder.texts.clear()
    predictions = tmp_path / "preds.jsonl"
    generate = ["generate", "--model", "tiny", "--data", str(data), "--out", str(predictions)]
    assert main([*generate, "--max-new-tokens", "2", "--greedy"]) == 0
    assert {_system_text(text) for text in recorder.texts} == expected_with
    if task == "abstract_generation":
        assert all(text.startswith(ABSTRACT_OPENING) for text in expected_with)


THINKING_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n"
    "{% if enable_thinking is defined and enable_thinking is false %}<think>\n\n</think>\n\n{% endif %}"
    "{% endif %}"
)


def test_thinking_switch_is_off_in_scoring_training_and_generation(tiny):
    """A template with Qwen3's switch gets the empty think block in every path (one renderer)."""
    from percontrast.generation.generate import render_prompts
    from percontrast.scoring.pir import score_examples
    from percontrast.training.collator import encode_training_examples

    model, tokenizer = tiny
    original = tokenizer.chat_template
    tokenizer.chat_template = THINKING_TEMPLATE
    try:
        rendered = render_chat(tokenizer, [{"role": "user", "content": "hi"}])
        assert rendered.endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n")
        item = example()
        scored = score_examples(model, tokenizer, [item], progress=False)[0]
        trained = encode_training_examples([item], tokenizer, max_length=512).examples[0]
        generated = render_prompts([item], tokenizer, None, with_persona=True)[0]
        for text in (scored.prompt_with, scored.prompt_without, trained.prompt_with, trained.prompt_without):
            assert text.endswith("<think>\n\n</think>\n\n")
        assert tokenizer.decode(generated) == trained.prompt_with
        assert torch.equal(torch.tensor(generated), torch.tensor(trained.prompt_with_ids))
    finally:
        tokenizer.chat_template = original
