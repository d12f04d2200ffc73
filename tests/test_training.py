"""PerCE training on the tiny model: smoke runs, normalisation under gradient accumulation
(invariant 5), checkpoint resume, LoRA, skipped examples and the `percontrast train` command."""

from __future__ import annotations

import json

import pytest
import torch
from training_helpers import (
    KIND_OPTIONS,
    LOSS_KINDS,
    NORMALIZATIONS,
    make_config,
    make_examples,
    sharpened_tiny,
    step_gradients,
)

from percontrast.data.schema import Example
from percontrast.modeling.load import load_model
from percontrast.training.trainer import train
from percontrast.utils.errors import ConfigError, DataError
from percontrast.utils.files import write_jsonl


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    # Two OpenMP threads on a shared 2-core machine spin against each other (60x slower here).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def assert_same_gradients(expected: dict[str, torch.Tensor], actual: dict[str, torch.Tensor]) -> None:
    """Equal within 1e-5 relative to the largest gradient entry of the step."""
    assert expected.keys() == actual.keys()
    scale = max(gradient.abs().max().item() for gradient in expected.values())
    worst = max((expected[name] - actual[name]).abs().max().item() for name in expected)
    assert worst <= 1e-5 * scale, f"gradients differ by {worst:.3g} (largest gradient {scale:.3g})"


@pytest.mark.parametrize("kind", LOSS_KINDS)
def test_twenty_steps_loss_falls_and_every_parameter_changes(tmp_path, kind):
    model, tokenizer = load_model("tiny", seed=0)
    before = {name: parameter.detach().clone() for name, parameter in model.named_parameters()}
    config = make_config(tmp_path, loss=kind, max_steps=20, learning_rate=3e-3)
    run = train(config, model=model, tokenizer=tokenizer, examples=make_examples(8))
    logs = [entry for entry in run.trainer.state.log_history if "loss" in entry]
    assert len(logs) == 20
    losses = [entry["loss"] for entry in logs]
    assert sum(losses[-4:]) / 4 < 0.9 * sum(losses[:4]) / 4, losses
    unchanged = [name for name, parameter in model.named_parameters() if torch.equal(parameter, before[name])]
    assert not unchanged, f"parameters that did not change: {unchanged}"
    if kind == "perce":
        for entry in logs:
            assert (
                config.clip_min
                <= entry["weight_min"]
                <= entry["weight_mean"]
                <= entry["weight_max"]
                <= config.clip_max
            )
            assert 0.0 <= entry["clipped_low"] <= 1.0 and 0.0 <= entry["clipped_high"] <= 1.0
            assert "pir_mean" in entry
    if kind == "ce":
        assert all(entry["weight_min"] == entry["weight_max"] == 1.0 for entry in logs)


@pytest.mark.parametrize("normalization", NORMALIZATIONS)
@pytest.mark.parametrize("kind", LOSS_KINDS)
def test_accumulation_4x1_equals_batch_4(tmp_path, kind, normalization):
    examples = make_examples(4)  # one optimizer step sees all four, of different lengths
    options = dict(loss=kind, normalization=normalization, **KIND_OPTIONS[kind])
    batched = step_gradients(
        tmp_path / "a", examples, per_device_train_batch_size=4, gradient_accumulation_steps=1, **options
    )
    accumulated = step_gradients(
        tmp_path / "b", examples, per_device_train_batch_size=1, gradient_accumulation_steps=4, **options
    )
    assert_same_gradients(batched, accumulated)


def test_normalisations_differ_by_the_mean_weight(tmp_path):
    """Weight normalisation = token normalisation * n / sum(w): checks the rescale is not a no-op."""
    examples = make_examples(4)
    options = dict(loss="perce", per_device_train_batch_size=2, gradient_accumulation_steps=2)
    by_tokens = step_gradients(tmp_path / "a", examples, normalization="tokens", **options)
    by_weights = step_gradients(tmp_path / "b", examples, normalization="weights", **options)
    ratios = [(by_tokens[name] / by_weights[name])[by_weights[name].abs() > 1e-3] for name in by_tokens]
    ratio = torch.cat(ratios)
    assert ratio.std() < 1e-4 * ratio.mean()  # a single factor, the mean weight of the step
    assert abs(ratio.mean().item() - 1.0) > 1e-3


def _full_logits_logprobs(model, prompt_ids, response_ids):
    """(R,) log-probs of the response after the prompt, from the model's own full logits (one sequence)."""
    logits = model(torch.tensor([prompt_ids + response_ids])).logits[0].float()  # (T, V)
    logp = torch.log_softmax(logits, -1)
    start = len(prompt_ids)
    return torch.stack([logp[start - 1 + i, token] for i, token in enumerate(response_ids)])


@pytest.mark.parametrize("kind", ["ce", "perce"])
def test_responses_normalisation_equals_eq5_by_hand(tmp_path, kind):
    """normalization='responses' under accumulation 2 x 2 = the mean over responses of each response's
    weighted mean NLL, computed one example at a time from the model's own full logits."""
    from percontrast.prompts.registry import DEFAULT_TEMPLATE
    from percontrast.training.collator import encode_training_examples

    examples = make_examples(4)  # responses of 3 to 20 tokens: the two normalisations differ
    options = dict(loss=kind, per_device_train_batch_size=2, gradient_accumulation_steps=2)
    trained = step_gradients(tmp_path / "a", examples, normalization="responses", **options)
    by_tokens = step_gradients(tmp_path / "b", examples, normalization="tokens", **options)

    model, tokenizer = sharpened_tiny()
    model.train()
    encoded = encode_training_examples(examples, tokenizer, DEFAULT_TEMPLATE, max_length=2048).examples
    per_response = []
    for item in encoded:
        logp_with = _full_logits_logprobs(model, item.prompt_with_ids, item.response_ids)
        weights = torch.ones_like(logp_with)
        if kind == "perce":
            with torch.no_grad():
                logp_without = _full_logits_logprobs(model, item.prompt_without_ids, item.response_ids)
            weights = (logp_with.detach() - logp_without).clamp(0.8, 5.0)
        per_response.append((weights * -logp_with).mean())
    torch.stack(per_response).mean().backward()
    by_hand = {name: parameter.grad for name, parameter in model.named_parameters()}
    assert_same_gradients(by_hand, trained)
    worst = max((by_tokens[name] - trained[name]).abs().max().item() for name in trained)
    assert worst > 1e-3 * max(gradient.abs().max().item() for gradient in trained.values())


def test_perce_weights_are_clipped_pir_of_the_tokens_the_persona_makes_likelier(tmp_path):
    """On `sharpened_tiny` PIR spreads from about -5 to +3 (on `tiny` it is about 0 and every weight sits
    at m, whatever its sign): the first step's logged weights must be clip(PIR, m, M) of PIR computed
    here from the model's full logits, so a token the persona makes likelier weighs more than m."""
    from percontrast.prompts.registry import DEFAULT_TEMPLATE
    from percontrast.training.collator import encode_training_examples

    examples = make_examples(4)
    model, tokenizer = sharpened_tiny()
    encoded = encode_training_examples(examples, tokenizer, DEFAULT_TEMPLATE, max_length=2048).examples
    with torch.no_grad():
        pir = torch.cat(
            [
                _full_logits_logprobs(model, item.prompt_with_ids, item.response_ids)
                - _full_logits_logprobs(model, item.prompt_without_ids, item.response_ids)
                for item in encoded
            ]
        )
    weights = pir.clamp(0.8, 5.0)
    assert (pir > 1.0).any() and (pir < 0.0).any()  # not degenerate: the sign of PIR decides weights
    config = make_config(tmp_path, loss="perce", per_device_train_batch_size=4, clip_min=0.8, clip_max=5.0)
    run = train(config, model=model, tokenizer=tokenizer, examples=examples)
    (log,) = [entry for entry in run.trainer.state.log_history if "loss" in entry]
    assert log["pir_mean"] == pytest.approx(pir.mean().item(), abs=1e-3)
    assert log["weight_mean"] == pytest.approx(weights.mean().item(), abs=1e-3)
    assert log["weight_max"] == pytest.approx(weights.max().item(), abs=1e-3) and log["weight_max"] > 1.0
    assert log["clipped_low"] == pytest.approx((pir <= 0.8).float().mean().item(), abs=1e-3)


def test_perce_with_m_equal_M_equal_1_is_ce(tmp_path):
    examples = make_examples(4)
    ce = step_gradients(tmp_path / "a", examples, loss="ce", per_device_train_batch_size=4)
    perce = step_gradients(
        tmp_path / "b", examples, loss="perce", clip_min=1.0, clip_max=1.0, per_device_train_batch_size=4
    )
    assert_same_gradients(ce, perce)


def test_resume_from_checkpoint_equals_uninterrupted_run(tmp_path):
    options = dict(
        loss="perce",
        normalization="weights",
        max_steps=6,
        per_device_train_batch_size=1,
        gradient_accumulation_steps=2,
        save_strategy="steps",
        save_steps=3,
        max_grad_norm=0.0,  # clipping (to norm 1, below these gradients) would hide the gradient scale
        optim="sgd",  # unlike Adam, sensitive to the scale of the gradients
        learning_rate=0.01,
    )
    examples = make_examples(8)  # 4 steps per epoch: the checkpoint is mid-epoch, the run crosses an epoch
    model, tokenizer = sharpened_tiny()
    train(make_config(tmp_path / "full", **options), model=model, tokenizer=tokenizer, examples=examples)
    resumed_model, tokenizer = sharpened_tiny()
    checkpoint = tmp_path / "full" / "checkpoint-3"
    assert checkpoint.is_dir()
    config = make_config(tmp_path / "resumed", resume_from_checkpoint=str(checkpoint), **options)
    train(config, model=resumed_model, tokenizer=tokenizer, examples=examples)
    for (name, expected), actual in zip(model.named_parameters(), resumed_model.parameters(), strict=True):
        torch.testing.assert_close(actual, expected, rtol=0, atol=1e-6, msg=name)


def test_lora_trains_adapters_only_and_the_pir_pass_uses_them(tmp_path):
    from percontrast.training.collator import PairedCollator

    model, tokenizer = load_model("tiny", seed=0)
    base_before = {name: parameter.detach().clone() for name, parameter in model.named_parameters()}
    config = make_config(
        tmp_path,
        loss="perce",
        use_lora=True,
        lora_r=4,
        lora_alpha=8,
        lora_target_modules=["q_proj", "v_proj"],
        max_steps=5,
        learning_rate=1e-2,
    )
    run = train(config, model=model, tokenizer=tokenizer, examples=make_examples(4))
    peft_model = run.trainer.model
    trainable = {name for name, parameter in peft_model.named_parameters() if parameter.requires_grad}
    assert trainable and all("lora_" in name for name in trainable)
    assert any(("q_proj" in name) for name in trainable) and any(("v_proj" in name) for name in trainable)
    for name, parameter in model.named_parameters():  # base weights untouched
        if "lora_" not in name:
            original = name.replace("base_model.model.", "").replace(".base_layer", "")
            assert torch.equal(parameter, base_before[original]), name
    # The E-step (persona-free pass) runs with the current adapters, not the bare base model.
    batch = PairedCollator(pad_id=tokenizer.pad_token_id)(run.dataset.examples)
    _, outputs = run.trainer.compute_loss(peft_model, batch, return_outputs=True)
    from percontrast.modeling.response_forward import pair_logprobs

    with torch.no_grad():
        with_adapters, _ = pair_logprobs(peft_model, batch, "without")
        with peft_model.disable_adapter():
            without_adapters, _ = pair_logprobs(peft_model, batch, "without")
    torch.testing.assert_close(outputs["logp_without"], with_adapters)
    assert (outputs["logp_without"] - without_adapters).abs().max() > 1e-4


def test_skipped_examples_are_listed_and_an_unusable_file_is_an_error(tmp_path):
    model, tokenizer = load_model("tiny", seed=0)
    examples = make_examples(3) + [
        Example(id="too-long", persona=["I sew."], query="Why?", response="I sew red clothes. " * 40)
    ]
    config = make_config(tmp_path, loss="ce", max_length=160)
    run = train(config, model=model, tokenizer=tokenizer, examples=examples)
    assert [item.id for item in run.dataset.skipped] == ["too-long"]
    assert len(run.dataset) == 3
    skipped = [json.loads(line) for line in (tmp_path / "skipped.jsonl").read_text().splitlines()]
    assert [record["id"] for record in skipped] == ["too-long"] and "max_length" in skipped[0]["reason"]
    info = json.loads((tmp_path / "run_config.json").read_text())
    assert info["data"] == {"used": 3, "skipped": 1, "persona_truncated": info["data"]["persona_truncated"]}
    assert info["config"]["loss"] == "ce" and "torch" in info["versions"]
    with pytest.raises(DataError, match="no usable training example"):
        train(
            make_config(tmp_path / "none", max_length=20), model=model, tokenizer=tokenizer, examples=examples
        )


def _persona_lost_example(tokenizer) -> tuple[Example, int]:
    """An example and a max_length at which it fits only without any persona item."""
    from percontrast.prompts.encoding import encode_example
    from percontrast.prompts.registry import DEFAULT_TEMPLATE

    # The item starts with a character of several byte-level tokens: its first token alone decodes to
    # a replacement character that costs more tokens than it saves, so a budget exists at which the
    # query fits but no part of the persona does.
    example = Example(
        id="persona-lost",
        persona=["\U0001f44d\U0001f44d I sew red clothes for my parents every weekend. " * 4],
        query="Tell me about your free afternoons, and what you do on weekends with friends. " * 3,
        response="I sew.",
    )
    for max_length in range(20, 400):
        try:
            item = encode_example(example, tokenizer, DEFAULT_TEMPLATE, max_length=max_length, add_eos=True)
        except DataError:
            continue
        if item.truncation.items_kept == 0:
            return example, max_length
    raise AssertionError("no max_length leaves the example without persona")


def test_examples_whose_persona_is_truncated_away_are_skipped_and_counted(tmp_path):
    model, tokenizer = load_model("tiny", seed=0)
    lost, max_length = _persona_lost_example(tokenizer)
    config = make_config(tmp_path, loss="perce", max_length=max_length)
    run = train(config, model=model, tokenizer=tokenizer, examples=make_examples(3) + [lost])
    assert [item.id for item in run.dataset.skipped] == ["persona-lost"]
    assert "no persona item fits" in run.dataset.skipped[0].reason
    assert len(run.dataset) == 3
    assert all(item.truncation.items_kept > 0 for item in run.dataset.examples)
    info = json.loads((tmp_path / "run_config.json").read_text())
    assert info["data"]["skipped"] == 1


def test_scoring_skips_and_counts_examples_whose_persona_is_truncated_away(caplog):
    from percontrast.scoring.config import ScoreConfig
    from percontrast.scoring.pir import score_examples

    model, tokenizer = load_model("tiny", seed=0)
    lost, max_length = _persona_lost_example(tokenizer)
    kept = make_examples(1)[0]
    with caplog.at_level("WARNING", logger="percontrast.scoring.pir"):
        scores = score_examples(
            model, tokenizer, [kept, lost], ScoreConfig(max_length=max_length), progress=False
        )
    assert [item.id for item in scores] == [kept.id]
    assert "skipped 1 of 2 examples" in caplog.text and "persona-lost" in caplog.text
    with pytest.raises(DataError, match="no example keeps any persona"):
        score_examples(model, tokenizer, [lost], ScoreConfig(max_length=max_length), progress=False)


def test_max_length_is_clamped_to_the_model_context(tmp_path):
    model, tokenizer = load_model("tiny", seed=0)  # context 2048, below the paper's default 5000
    config = make_config(tmp_path, loss="ce")
    assert config.max_length == 5000
    train(config, model=model, tokenizer=tokenizer, examples=make_examples(2))
    assert json.loads((tmp_path / "run_config.json").read_text())["resolved_max_length"] == 2048


def test_dropout_warns_and_pir_pass_mode_eval_turns_it_off_for_that_pass(tmp_path, caplog):
    from percontrast.modeling.response_forward import pair_logprobs
    from percontrast.training.collator import PairedCollator

    model, tokenizer = load_model("tiny", seed=0)
    options = dict(
        loss="perce", use_lora=True, lora_r=4, lora_alpha=8, lora_dropout=0.5, max_steps=2, learning_rate=0.05
    )
    with caplog.at_level("WARNING", logger="percontrast.training.trainer"):
        run = train(
            make_config(tmp_path, pir_pass_mode="eval", **options),
            model=model,
            tokenizer=tokenizer,
            examples=make_examples(4),
        )
    assert "active dropout (Dropout(p=0.5)" in caplog.text and "pir_pass_mode='eval'" in caplog.text
    trainer, peft_model = run.trainer, run.trainer.model
    batch = PairedCollator(pad_id=tokenizer.pad_token_id)(run.dataset.examples)
    peft_model.eval()
    with torch.no_grad():
        clean, _ = pair_logprobs(peft_model, batch, "without")
    peft_model.train()
    _, outputs = trainer.compute_loss(peft_model, batch, return_outputs=True)
    assert peft_model.training  # restored after the eval-mode pass
    torch.testing.assert_close(outputs["logp_without"], clean, rtol=0, atol=0)
    trainer.args.pir_pass_mode = "train"  # the documented default: the PIR pass runs with dropout
    _, outputs = trainer.compute_loss(peft_model, batch, return_outputs=True)
    assert (outputs["logp_without"] - clean).abs().max() > 1e-4


def test_bad_values_name_the_field_and_the_allowed_values(tmp_path):
    with pytest.raises(
        ConfigError, match=r"loss must be one of \('ce', 'perce', 'lossce', 'entce'\), got 'perc'"
    ):
        make_config(tmp_path, loss="perc")
    with pytest.raises(ConfigError, match="normalization must be one of"):
        make_config(tmp_path, normalization="mean")
    with pytest.raises(ConfigError, match="clip_min"):
        make_config(tmp_path, clip_min=2.0, clip_max=1.0)
    with pytest.raises(ConfigError, match="probe_example 'nope'"):
        model, tokenizer = load_model("tiny", seed=0)
        train(
            make_config(tmp_path, probe_steps=1, probe_example="nope"),
            model=model,
            tokenizer=tokenizer,
            examples=make_examples(2),
        )


def test_cli_train_with_yaml_config_and_flags(tmp_path, capsys):
    from percontrast.cli import main

    data = tmp_path / "train.jsonl"
    write_jsonl(data, [example.to_dict() for example in make_examples(4)])
    config = tmp_path / "run.yaml"
    config.write_text(
        "loss: lossce\nlearning_rate: 0.002\nmax_steps: 3\nprobe_steps: 2\nlogging_steps: 1\nreport_to: none\n"
    )
    output = tmp_path / "run"
    code = main(
        [
            "train",
            "--model",
            "tiny",
            "--data",
            str(data),
            "--output-dir",
            str(output),
            "--config",
            str(config),
            "--max_steps",
            "2",
            "--per_device_train_batch_size",
            "2",
            "--use_cpu",
            "--disable_tqdm",
            "true",
        ]
    )
    assert code == 0
    info = json.loads((output / "run_config.json").read_text())["config"]
    assert info["loss"] == "lossce" and info["learning_rate"] == 0.002  # from the YAML file
    assert info["max_steps"] == 2 and info["per_device_train_batch_size"] == 2  # flags win over the file
    assert (output / "model.safetensors").exists()
    state = (
        json.loads((output / "checkpoint-2" / "trainer_state.json").read_text())
        if (output / "checkpoint-2").exists()
        else None
    )
    assert state is None or state["global_step"] == 2

    bad = tmp_path / "bad.yaml"
    bad.write_text("loss: ce\nlearnin_rate: 0.1\n")
    assert (
        main(
            [
                "train",
                "--model",
                "tiny",
                "--data",
                str(data),
                "--output-dir",
                str(output),
                "--config",
                str(bad),
            ]
        )
        == 2
    )
    assert "unknown config keys ['learnin_rate']" in capsys.readouterr().err
    assert (
        main(["train", "--model", "tiny", "--data", str(data), "--output-dir", str(output), "--loss", "perc"])
        == 2
    )
    assert "loss must be one of" in capsys.readouterr().err


def test_one_process_with_several_gpus_is_refused_before_data_parallel(tmp_path, monkeypatch):
    """Trainer would wrap the model in torch.nn.DataParallel; PerCETrainer refuses up front."""
    from percontrast.training.config import PerCEConfig

    model, tokenizer = load_model("tiny", seed=0)
    monkeypatch.setattr(PerCEConfig, "n_gpu", property(lambda self: 2))
    with pytest.raises(ConfigError, match=r"sees 2 GPUs.*DataParallel.*torchrun --nproc_per_node"):
        train(make_config(tmp_path, loss="ce"), model=model, tokenizer=tokenizer, examples=make_examples(2))


def test_remove_callbacks_takes_the_log_printer_out_of_the_trainer(tmp_path, capsys):
    """With ``disable_tqdm`` the Trainer adds a PrinterCallback that prints every log dict; the demo takes it
    out with the Trainer's own ``remove_callback`` (through ``train(remove_callbacks=...)``)."""
    from transformers import PrinterCallback

    model, tokenizer = load_model("tiny", seed=0)
    train(make_config(tmp_path / "printed"), model=model, tokenizer=tokenizer, examples=make_examples(2))
    assert "nll_mean" in capsys.readouterr().out
    run = train(
        make_config(tmp_path / "quiet"),
        model=model,
        tokenizer=tokenizer,
        examples=make_examples(2),
        remove_callbacks=[PrinterCallback],
    )
    assert "nll_mean" not in capsys.readouterr().out
    assert not any(
        isinstance(callback, PrinterCallback) for callback in run.trainer.callback_handler.callbacks
    )
