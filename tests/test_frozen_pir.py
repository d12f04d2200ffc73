"""PerCE with weights from the frozen starting model (``pir_source='frozen'``, issue 21's ablation)."""

from __future__ import annotations

import os
from pathlib import Path
from unittest import mock

import pytest
import torch
from training_helpers import SRC, make_config, make_examples, sharpened_tiny, step_gradients
from transformers import TrainerCallback

from percontrast.training.collator import EncodedDataset
from percontrast.training.config import PerCEConfig
from percontrast.utils.errors import ConfigError


def plain_logprobs(model, prompt_ids, response_ids):
    """Response log-probs from one plain forward of the unpadded sequence (the independent reference)."""
    with torch.no_grad():
        logits = model(torch.tensor([prompt_ids + response_ids])).logits[0].double()
    logp = torch.log_softmax(logits[len(prompt_ids) - 1 : -1], -1)
    return logp[torch.arange(len(response_ids)), torch.tensor(response_ids)]


def test_frozen_needs_perce(tmp_path):
    with pytest.raises(ConfigError, match="pir_source='frozen' is a PerCE option"):
        make_config(tmp_path, loss="ce", pir_source="frozen")
    with pytest.raises(ConfigError, match="pir_source must be one of"):
        make_config(tmp_path, pir_source="stale")
    assert PerCEConfig(output_dir=str(tmp_path), use_cpu=True).pir_source == "online"  # the paper's E-step


def test_first_step_equals_online(tmp_path):
    """Before any update the starting model is the trained model: the first step's gradients agree."""
    examples = make_examples(4)
    options = dict(loss="perce", per_device_train_batch_size=4)
    online = step_gradients(tmp_path / "online", examples, **options)
    frozen = step_gradients(tmp_path / "frozen", examples, pir_source="frozen", **options)
    for name, gradient in online.items():
        torch.testing.assert_close(frozen[name], gradient, rtol=1e-4, atol=1e-6)


def test_frozen_weights_are_the_starting_models_and_no_persona_free_pass_runs(tmp_path):
    """Every step's PIR is the starting model's (checked against plain forwards), and the trainer never runs
    the persona-free forward (so a step costs a CE step)."""
    from percontrast.training import trainer as training

    examples = make_examples(4)
    model, tokenizer = sharpened_tiny()
    start = {name: value.clone() for name, value in model.state_dict().items()}
    sides, seen = [], []
    original_logprobs, original_weights = training.pair_logprobs, training.token_weights

    def count_sides(module, inputs, side, **kwargs):
        sides.append(side)
        return original_logprobs(module, inputs, side, **kwargs)

    def record(kind, **kwargs):
        seen.append((kwargs["pir"].clone(), kwargs["response_mask"].clone()))
        return original_weights(kind, **kwargs)

    config = make_config(
        tmp_path, loss="perce", pir_source="frozen", max_steps=3, per_device_train_batch_size=2
    )
    with (
        mock.patch.object(training, "pair_logprobs", count_sides),
        mock.patch.object(training, "token_weights", record),
    ):
        run = training.train(config, model=model, tokenizer=tokenizer, examples=examples)
    assert set(sides) == {"with"} and len(seen) == 3
    assert run.frozen_pir_seconds is not None
    assert any(
        not torch.equal(value, start[name]) for name, value in model.state_dict().items()
    )  # it trained

    starting, _ = sharpened_tiny()
    expected = {}
    for item in run.dataset.examples:
        with_ = plain_logprobs(starting, item.prompt_with_ids, item.response_ids)
        without = plain_logprobs(starting, item.prompt_without_ids, item.response_ids)
        expected[tuple(item.response_ids)] = (with_ - without).float()
    matched = 0  # each batch row's PIR is the starting model's PIR of one training example
    for pir, mask in seen:
        for row in range(pir.shape[0]):
            n = int(mask[row].sum())
            candidates = [v for k, v in expected.items() if len(k) == n]
            assert any(torch.allclose(pir[row, :n], value, atol=1e-4) for value in candidates)
            assert torch.all(pir[row, n:] == 0)
            matched += 1
    assert matched == 6


def test_frozen_pir_cache_is_reused_only_for_the_same_data(tmp_path):
    """A second run from the same starting model on the same data reads the cache (no scoring); other data
    is scored again."""
    from percontrast.training import frozen_pir as module
    from percontrast.training import trainer as training

    cache = tmp_path / "frozen_pir.pt"
    calls = []
    original = module.frozen_pir

    scored = []

    def counting(model, dataset, *args, **kwargs):
        calls.append(1)
        scored.append(len(dataset))
        return original(model, dataset, *args, **kwargs)

    def run(name, examples):
        model, tokenizer = sharpened_tiny()
        config = make_config(  # 3 steps of 2: an epoch of 4 or 6 examples, so every example is scored
            tmp_path / name, loss="perce", pir_source="frozen", frozen_pir_cache=str(cache), max_steps=3
        )
        with mock.patch.object(module, "frozen_pir", counting):
            return training.train(config, model=model, tokenizer=tokenizer, examples=examples)

    first = run("a", make_examples(4))
    second = run("b", make_examples(4))
    assert len(calls) == 1 and cache.exists()
    torch.testing.assert_close(first.trainer.model.lm_head.weight, second.trainer.model.lm_head.weight)
    run("c", make_examples(6))  # two more examples: only those are scored
    assert len(calls) == 2 and scored[-1] == 2


class _StopAt(TrainerCallback):
    """Ends training after step ``step`` (an interrupted run: its checkpoint at that step is saved)."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == self.step:
            control.should_training_stop = True


def _frozen_run(output, examples, callbacks=None, **overrides):
    """A frozen-PIR run of the sharpened tiny model; returns it with the ids of every batch collated."""
    from percontrast.training import frozen_pir as module
    from percontrast.training import trainer as training

    seen: list[list[str]] = []
    original = module.FrozenPIRCollator.__call__

    def record(self, encoded):
        seen.append([item.id for item in encoded])
        return original(self, encoded)

    model, tokenizer = sharpened_tiny()
    values = dict(loss="perce", pir_source="frozen", max_steps=3, per_device_train_batch_size=2)
    config = make_config(output, **(values | overrides))
    with mock.patch.object(module.FrozenPIRCollator, "__call__", record):
        run = training.train(config, model=model, tokenizer=tokenizer, examples=examples, callbacks=callbacks)
    return run, seen


def test_frozen_scores_only_the_examples_the_run_draws(tmp_path):
    """Issue 26: 3 steps of 2 over 16 examples draw 6; only those are scored, and the run is the one that
    scoring all 16 gives (the same batches in the same order, the same trained weights to float error: the
    read-ahead of the train dataloader leaves the sampler and the RNG as they were)."""
    from percontrast.training import trainer as training

    examples = make_examples(16)
    run, seen = _frozen_run(tmp_path / "drawn", examples)
    scored = set(run.trainer.data_collator.pir)
    # The 3 batches trained on, and a 4th the dataloader prefetches (collated, unscored, never trained on).
    assert len(seen) == 4 and len(scored) == 6
    assert scored == {i for batch in seen[:3] for i in batch}

    with mock.patch.object(training, "drawn_examples", lambda trainer, dataset, config: dataset):
        every, every_seen = _frozen_run(tmp_path / "all", examples)
    assert len(every.trainer.data_collator.pir) == 16
    assert every_seen == seen
    # Scored in other batches (other padding), the PIR agree to float error, and so do the trained weights.
    for example_id in scored:
        torch.testing.assert_close(
            run.trainer.data_collator.pir[example_id], every.trainer.data_collator.pir[example_id]
        )
    for (name, value), other in zip(
        run.trainer.model.state_dict().items(), every.trainer.model.state_dict().values(), strict=True
    ):
        torch.testing.assert_close(value, other, msg=name)

    # The read-ahead leaves no trace in accelerate's state: its dataloader list and gradient state.
    model, tokenizer = sharpened_tiny()
    config = make_config(tmp_path / "trace", loss="perce", pir_source="frozen", max_steps=3)
    trainer = training.PerCETrainer(
        model=model,
        args=config,
        train_dataset=run.dataset,
        data_collator=run.trainer.data_collator.collator,
        processing_class=tokenizer,
    )
    state = trainer.accelerator.gradient_state
    before = (list(trainer.accelerator._dataloaders), list(state.dataloader_references))
    assert len(training.drawn_examples(trainer, run.dataset, config)) == 6
    assert (list(trainer.accelerator._dataloaders), list(state.dataloader_references)) == before

    # An epoch or more draws every example: all are scored.
    whole, _ = _frozen_run(tmp_path / "epoch", make_examples(4))
    assert len(whole.trainer.data_collator.pir) == 4


def test_a_resumed_frozen_run_has_the_weights_of_the_batches_it_trains_on(tmp_path):
    """Resumed from step 2 of 4, the run reads the train dataloader ahead again from its start (its own 4
    steps' examples), skips the 2 batches done, and ends where the uninterrupted run ends."""
    examples = make_examples(16)
    straight, straight_seen = _frozen_run(tmp_path / "straight", examples, max_steps=4)
    output = tmp_path / "resumed"
    _frozen_run(output, examples, [_StopAt(2)], max_steps=4, save_strategy="steps", save_steps=2)
    resumed, resumed_seen = _frozen_run(
        output,
        examples,
        max_steps=4,
        save_strategy="steps",
        save_steps=2,
        resume_from_checkpoint=str(output / "checkpoint-2"),
    )
    assert resumed_seen == straight_seen[2:]
    assert set(resumed.trainer.data_collator.pir) == set(straight.trainer.data_collator.pir)
    for (name, value), other in zip(
        resumed.trainer.model.state_dict().items(), straight.trainer.model.state_dict().values(), strict=True
    ):
        torch.testing.assert_close(value, other, msg=name)


def test_a_step_on_an_example_that_was_not_scored_is_an_error(tmp_path):
    """Were the read-ahead ever wrong, the unscored example's weights are NaN in the batch and the step is
    refused, never trained with made-up weights (a prefetched batch that is never trained on passes)."""
    from percontrast.training import trainer as training

    drawn = training.drawn_examples

    def one_short(trainer, dataset, config):
        return EncodedDataset(drawn(trainer, dataset, config).examples[1:])

    with (
        mock.patch.object(training, "drawn_examples", one_short),
        pytest.raises(ConfigError, match="trains on an example that was not scored"),
    ):
        _frozen_run(tmp_path / "short", make_examples(16))


# The subprocesses import the test helpers and this checkout's source (not another installed copy).
_CHECKOUT_PATH = os.pathsep.join(
    filter(None, [str(Path(__file__).parent), str(SRC), os.environ.get("PYTHONPATH")])
)

_IDENTITY_SCRIPT = """
import json
from training_helpers import make_examples, sharpened_tiny
from percontrast.training.collator import encode_training_examples
from percontrast.training.frozen_pir import _fingerprint, model_checksum
model, tokenizer = sharpened_tiny()
dataset = encode_training_examples(make_examples(3), tokenizer, max_length=256)
print(json.dumps([model_checksum(model), [_fingerprint(item) for item in dataset.examples]]))
"""


def test_cache_key_is_the_same_in_another_process(tmp_path):
    """Issue 25.6: the key used Python's salted ``hash()`` of strings, so no new process ever read the
    cache. Two processes with different hash seeds must compute the same key."""
    import json
    import os
    import subprocess
    import sys

    outputs = []
    for seed in ("1", "2"):
        env = os.environ | {"PYTHONHASHSEED": seed, "PYTHONPATH": _CHECKOUT_PATH}
        result = subprocess.run(
            [sys.executable, "-c", _IDENTITY_SCRIPT], env=env, capture_output=True, text=True, check=True
        )
        outputs.append(json.loads(result.stdout.strip().splitlines()[-1]))
    assert outputs[0] == outputs[1]
    assert len(set(outputs[0][1])) == 3  # one key per example


def test_cache_written_by_another_process_is_read(tmp_path):
    """The cache a run writes is read by a run in a new process (same starting model and data)."""
    import subprocess
    import sys

    cache = tmp_path / "frozen_pir.pt"
    script = f"""
import logging, sys
import os
from pathlib import Path
from unittest import mock
from training_helpers import make_config, make_examples, sharpened_tiny
from percontrast.training import frozen_pir as module
from percontrast.training import trainer as training
calls = []
original = module.frozen_pir
def counting(*a, **k):
    calls.append(1)
    return original(*a, **k)
model, tokenizer = sharpened_tiny()
config = make_config(sys.argv[1], loss="perce", pir_source="frozen", frozen_pir_cache={str(cache)!r})
with mock.patch.object(module, "frozen_pir", counting):
    training.train(config, model=model, tokenizer=tokenizer, examples=make_examples(4))
print("scored", len(calls))
"""
    seen = []
    for seed, name in (("1", "a"), ("2", "b")):
        env = os.environ | {"PYTHONHASHSEED": seed, "PYTHONPATH": _CHECKOUT_PATH}
        result = subprocess.run(
            [sys.executable, "-c", script, str(tmp_path / name)],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stderr[-2000:]
        seen.append(result.stdout.strip().splitlines()[-1])
    assert seen == ["scored 1", "scored 0"]


@pytest.mark.parametrize("content", [b"not a torch file\n", b'{"id": "ex0"}\n'])
def test_cache_that_is_not_a_cache_is_one_line(tmp_path, content):
    """Issue 25.8: --frozen_pir_cache pointing at a data or text file gave a raw unpickling traceback."""
    from percontrast.training import trainer as training

    cache = tmp_path / "data.jsonl"
    cache.write_bytes(content)
    model, tokenizer = sharpened_tiny()
    config = make_config(tmp_path / "o", loss="perce", pir_source="frozen", frozen_pir_cache=str(cache))
    with pytest.raises(ConfigError, match=r"data\.jsonl is not a frozen-PIR cache"):
        training.train(config, model=model, tokenizer=tokenizer, examples=make_examples(4))
    assert cache.read_bytes() == content  # the file survives


def test_cache_with_another_loss_is_refused(tmp_path):
    """Issue 25.8: --frozen_pir_cache with --loss ce was ignored without a word."""
    for loss in ("ce", "perce"):
        with pytest.raises(ConfigError, match="frozen_pir_cache is read only with pir_source='frozen'"):
            make_config(tmp_path, loss=loss, frozen_pir_cache=str(tmp_path / "c.pt"))
