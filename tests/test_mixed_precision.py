"""Mixed precision: bf16 training for every loss, bf16 PerCE against float32, fp16 where it cannot run, and
``--dtype bfloat16`` in score, generate and identify.

Reproduce the crash these tests guard against (issue 17):
    percontrast train --model tiny --data train.jsonl --loss ce --max_steps 2 --output_dir r --use_cpu --bf16
ended in ``ValueError: not enough values to unpack`` because accelerate's autocast wrapper replaced the
model instance's ``forward`` with the class's *original* forward before percontrast's response forward was
enabled, so the response keyword reached the model's own forward and was ignored.

How far bf16 may move the numbers (the tolerance of the comparisons below). bfloat16 keeps 8 significant
bits, so rounding a logit z moves it by at most u * |z| with u = 2**-8. A log-probability
z_y - logsumexp(z) moves by at most 2 * u * max|z| from the logits' rounding (logsumexp is 1-Lipschitz in
the max norm), and PIR, a difference of two of them, by at most 4 * u * max|z|. That first-order bound
ignores the rounding of the hidden states inside the network; on the sharpened `tiny` model it holds with
room (measured: PIR error max 0.13, mean 0.04). On SmolLM2-135M-Instruct (max|z| about 25), bf16 autocast
moved PIR by up to 0.27 and 0.05 on average (`docs/training.md`, "Mixed precision"): a PIR near a clip
bound can change its weight by that much, so bf16 weights are a perturbation of a few hundredths, not a
reproduction of float32 weights.
"""

from __future__ import annotations

import copy
import json

import pytest
import torch
from training_helpers import LOSS_KINDS, make_config, make_examples, sharpened_tiny

from percontrast.cli import main
from percontrast.data.schema import write_jsonl
from percontrast.modeling.response_forward import unwrap_model
from percontrast.scoring.pir import pad_token_id
from percontrast.training.collator import PairedCollator, encode_training_examples
from percontrast.training.trainer import PerCETrainer, train

BF16_UNIT_ROUNDOFF = 2.0**-8


def _record_dtypes(model: torch.nn.Module, monkeypatch: pytest.MonkeyPatch) -> set:
    """Dtypes of a decoder projection's outputs, and the autocast state the fused response head ran
    under (("head", dtype), or ("head", torch.float32) without autocast), recorded on every call.

    The head is observed through `logprobs._autocast_state`, which only the fused path calls: a forward
    hook on the head module would send it to the checkpointed fallback (`_can_fuse`), and the test would
    not train through the path every user runs.
    """
    from percontrast.modeling import response_forward as logprobs

    seen: set = set()
    real_state = logprobs._autocast_state

    def recording_state(device_type: str) -> tuple[bool, torch.dtype]:
        enabled, dtype = real_state(device_type)
        seen.add(("head", dtype if enabled else torch.float32))
        return enabled, dtype

    monkeypatch.setattr(logprobs, "_autocast_state", recording_state)
    projection = unwrap_model(model).get_decoder().layers[0].self_attn.q_proj
    projection.register_forward_hook(lambda m, i, o: seen.add(o.dtype))  # the model lives for one test
    return seen


@pytest.mark.parametrize("loss", LOSS_KINDS)
def test_bf16_training_runs_every_loss_under_bfloat16_autocast(tmp_path, loss, monkeypatch):
    model, tokenizer = sharpened_tiny()
    before = {name: parameter.detach().clone() for name, parameter in model.named_parameters()}
    seen = _record_dtypes(model, monkeypatch)
    config = make_config(tmp_path, loss=loss, bf16=True, max_steps=2, learning_rate=1e-3)
    run = train(config, model=model, tokenizer=tokenizer, examples=make_examples(8))
    # The forwards really ran in bfloat16 (decoder and head), not silently in float32.
    assert seen == {torch.bfloat16, ("head", torch.bfloat16)}
    losses = [entry["loss"] for entry in run.trainer.state.log_history if "loss" in entry]
    assert len(losses) == 2 and all(torch.isfinite(torch.tensor(losses)))
    assert any(not torch.equal(p, before[name]) for name, p in model.named_parameters())
    record = json.loads((tmp_path / "run_config.json").read_text())
    assert record["distributed"]["mixed_precision"] == "bf16"


def test_bf16_train_command_as_a_user_types_it(tmp_path):
    data = tmp_path / "train.jsonl"
    write_jsonl(data, make_examples(16))
    command = ["train", "--model", "tiny", "--data", str(data), "--loss", "perce", "--max_steps", "2"]
    command += [
        "--per_device_train_batch_size",
        "2",
        "--output_dir",
        str(tmp_path / "r"),
        "--use_cpu",
        "--bf16",
    ]
    command += ["--report_to", "none", "--disable_tqdm", "true"]
    assert main(command) == 0
    assert (tmp_path / "r" / "model.safetensors").exists()


def test_fp16_on_cpu_is_refused_instead_of_training_in_float32(tmp_path, capsys):
    # accelerate accepts fp16 on CPU but applies no autocast there: the run would be float32 labelled fp16.
    data = tmp_path / "train.jsonl"
    write_jsonl(data, make_examples(4))
    command = ["train", "--model", "tiny", "--data", str(data), "--max_steps", "1", "--use_cpu", "--fp16"]
    command += ["--output_dir", str(tmp_path / "r"), "--report_to", "none"]
    assert main(command) == 2
    err = capsys.readouterr().err
    assert "fp16 mixed precision" in err and "'cpu'" in err and "--bf16" in err


def _first_order_bounds(model, batch) -> float:
    """4 * u * max|z|: the PIR bound of the module docstring, max over the batch's logits."""
    with torch.no_grad():
        logits = model(input_ids=batch["with_input_ids"], attention_mask=batch["with_attention_mask"]).logits
    return 4 * BF16_UNIT_ROUNDOFF * float(logits.abs().max())


def test_bf16_perce_loss_and_weights_match_float32_within_the_rounding_bound(tmp_path):
    model, tokenizer = sharpened_tiny()
    dataset = encode_training_examples(make_examples(8), tokenizer, max_length=512)
    batch = PairedCollator(pad_id=pad_token_id(tokenizer))([dataset[i] for i in range(len(dataset))])
    mask = batch["response_mask"].bool()

    def loss_and_outputs(bf16: bool):
        config = make_config(tmp_path / str(bf16), loss="perce", bf16=bf16)
        trainer = PerCETrainer(model=copy.deepcopy(model), args=config)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16), torch.no_grad():
            return trainer.compute_loss(trainer.model, batch, return_outputs=True)

    loss32, out32 = loss_and_outputs(False)
    loss16, out16 = loss_and_outputs(True)
    pir32 = (out32["logp_with"] - out32["logp_without"])[mask]
    pir16 = (out16["logp_with"] - out16["logp_without"])[mask]
    assert pir32.abs().max() > 1.0, "PIR is degenerate on this model: the comparison would prove nothing"
    pir_bound = _first_order_bounds(model, batch)
    pir_error = (pir16 - pir32).abs()
    assert 0 < pir_error.max() <= pir_bound, (float(pir_error.max()), pir_bound)
    # clip is 1-Lipschitz: the weights move no more than PIR.
    weight_error = (out16["weights"] - out32["weights"])[mask].abs()
    assert weight_error.max() <= pir_error.max() + 1e-6
    # loss = mean(w * NLL): |d loss| <= mean(|dw| * NLL) + M * max|d logp|, with |d logp| <= pir_bound / 2.
    nll = -out32["logp_with"][mask]
    loss_bound = float(weight_error.max() * nll.mean() + 5.0 * pir_bound / 2)
    assert abs(float(loss16) - float(loss32)) <= loss_bound
    assert abs(float(loss16) - float(loss32)) > 0  # bf16 really ran


def _score(tmp_path, data, dtype):
    out = tmp_path / f"scores-{dtype}.jsonl"
    assert main(["score", "--model", "tiny", "--data", str(data), "--out", str(out), "--dtype", dtype]) == 0
    return [json.loads(line) for line in out.read_text().splitlines()]


def test_score_in_bfloat16_matches_float32_within_the_rounding_bound(tmp_path):
    from percontrast.modeling.load import load_model

    data = tmp_path / "data.jsonl"
    write_jsonl(data, make_examples(8))
    full, half = _score(tmp_path, data, "float32"), _score(tmp_path, data, "bfloat16")
    model, tokenizer = load_model("tiny", seed=0)
    dataset = encode_training_examples(make_examples(8), tokenizer, max_length=512)
    batch = PairedCollator(pad_id=pad_token_id(tokenizer))([dataset[i] for i in range(len(dataset))])
    bound = _first_order_bounds(model, batch)
    errors = [
        abs(a - b) for x, y in zip(full, half, strict=True) for a, b in zip(x["pir"], y["pir"], strict=True)
    ]
    assert [x["token_ids"] for x in full] == [y["token_ids"] for y in half]
    assert 0 < max(errors) <= bound


@pytest.mark.parametrize("contrast", [None, "1.0"])
def test_generate_in_bfloat16(tmp_path, contrast):
    data = tmp_path / "data.jsonl"
    write_jsonl(data, make_examples(4))
    out = tmp_path / "predictions.jsonl"
    command = ["generate", "--model", "tiny", "--data", str(data), "--out", str(out), "--dtype", "bfloat16"]
    command += ["--max-new-tokens", "4"] + (["--contrast", contrast] if contrast else [])
    assert main(command) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [row["id"] for row in rows] == [f"ex{i}" for i in range(4)]
    assert all(row["prediction"] for row in rows)
    settings = json.loads((tmp_path / "predictions.jsonl.settings.json").read_text())
    assert "bfloat16" in json.dumps(settings)


def test_identify_in_bfloat16(tmp_path):
    from percontrast.utils.bundled import PERSONA_TOKENS_DEV

    data = tmp_path / "items.jsonl"
    data.write_text("".join(PERSONA_TOKENS_DEV.read_text(encoding="utf-8").splitlines(keepends=True)[:4]))
    out = tmp_path / "results.json"
    command = ["identify", "--model", "tiny", "--data", str(data), "--out", str(out), "--dtype", "bfloat16"]
    assert main([*command, "--methods", "percontrast"]) == 0
    results = json.loads(out.read_text())
    assert results["n_examples"] == 4 and "percontrast" in results["methods"]


def test_a_forward_shadowed_before_enabling_is_refused():
    # What Accelerator.prepare_model does for bf16/fp16 (accelerator.py, `if self.native_amp:`): the
    # instance's forward becomes a wrapper around the class's forward *as it is then*.
    from types import MethodType

    from accelerate.utils import convert_outputs_to_fp32

    from percontrast.modeling.load import load_model
    from percontrast.modeling.response_forward import enable_response_forward
    from percontrast.utils.errors import ConfigError

    wrapped_late, _ = load_model("tiny", seed=0)
    wrapped_late.forward = MethodType(convert_outputs_to_fp32(type(wrapped_late).forward), wrapped_late)
    with pytest.raises(ConfigError, match="before accelerator.prepare"):
        enable_response_forward(wrapped_late)

    wrapped_early, _ = load_model("tiny", seed=0)
    enable_response_forward(wrapped_early)
    wrapped_early.forward = MethodType(convert_outputs_to_fp32(type(wrapped_early).forward), wrapped_early)
    enable_response_forward(wrapped_early)  # the wrapper wraps the response forward: accepted


def _experiment_configs() -> list:
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "configs"
    return sorted((root / "paper").glob("*.yaml")) + sorted((root / "cpu").glob("*.yaml"))


@pytest.mark.parametrize("path", _experiment_configs(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_experiment_config_trains_one_step_with_its_own_precision(tmp_path, path, monkeypatch):
    """Each shipped experiment config's training section (bf16, gradient checkpointing, optimiser,
    scheduler, batch size: all as shipped) trains one PerCE step of its first cell on the `tiny` stand-in."""
    from percontrast.experiments.config import load_experiment_config
    from percontrast.experiments.runner import select_cells
    from percontrast.experiments.steps import training_values
    from percontrast.training.config import PerCEConfig

    config = load_experiment_config(path)
    cell = select_cells(config, [0])[0]
    data = tmp_path / "train.jsonl"
    write_jsonl(data, make_examples(16))
    values = training_values(config, cell, data, tmp_path / "run")
    # The stand-in: the tiny model on CPU, one step, no checkpoint; every precision setting as shipped.
    values.update(model="tiny", loss="perce", max_steps=1, use_cpu=True, save_strategy="no")
    values.update(disable_tqdm=True, dataloader_pin_memory=False)
    model, tokenizer = sharpened_tiny()
    seen = _record_dtypes(model, monkeypatch)
    run = train(PerCEConfig(**values), model=model, tokenizer=tokenizer)
    expected = torch.bfloat16 if config.training.get("bf16") else torch.float32
    assert seen == {expected, ("head", expected)}
    assert run.trainer.state.global_step == 1 and torch.isfinite(torch.tensor(run.output.training_loss))


def test_bf16_training_with_lora_and_gradient_checkpointing(tmp_path, monkeypatch):
    # PEFT wraps the model: accelerate wraps the PeftModel's forward, the response forward is the base's.
    model, tokenizer = sharpened_tiny()
    seen = _record_dtypes(model, monkeypatch)
    config = make_config(tmp_path, loss="perce", bf16=True, use_lora=True, gradient_checkpointing=True)
    run = train(config, model=model, tokenizer=tokenizer, examples=make_examples(4))
    assert torch.bfloat16 in seen and ("head", torch.bfloat16) in seen
    assert run.trainer.state.global_step == 1 and torch.isfinite(torch.tensor(run.output.training_loss))
