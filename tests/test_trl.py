"""`percontrast.training.trl`: PerCE as a drop-in for TRL's `SFTTrainer`, on the tiny model.

The loss is `PerCETrainer`'s: one step of `PerCESFTTrainer` and one of `PerCETrainer` on the same examples give
the same loss and gradients (every parameter within 1e-5 of the step's largest gradient entry, as
tests/test_training.py holds accumulation and DDP to); with m = M = 1 it is TRL's own `SFTTrainer` on the
with-persona prompt-completion rows (completion-only CE), to the same tolerance. Then what TRL users combine it
with (LoRA, gradient checkpointing, bf16, evaluation, TensorBoard, a model given by name, `accelerate launch`
DDP) and what it refuses.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch
from test_training import assert_same_gradients
from training_helpers import (
    GradientCapture,
    free_port,
    make_config,
    make_examples,
    multiprocess_env,
    sharpened_tiny,
)

from percontrast.data.schema import Example
from percontrast.utils.errors import ConfigError, DataError

pytestmark = pytest.mark.needs("trl")
WORKER = Path(__file__).parent / "trl_worker.py"


def standard_rows(examples: list[Example]) -> list[dict]:
    """TRL's standard prompt-completion rows with a persona column (a list of facts)."""
    return [
        {"prompt": f"Question: {e.query}\nAnswer:", "completion": f" {e.response}", "persona": e.persona}
        for e in examples
    ]


def system_rows(examples: list[Example]) -> list[dict]:
    """Conversational prompt-completion rows whose persona is the first (system) message."""
    return [
        {
            "prompt": [
                {"role": "system", "content": "\n".join(e.persona)},
                {"role": "user", "content": e.query},
            ],
            "completion": [{"role": "assistant", "content": e.response}],
        }
        for e in examples
    ]


def project_examples(examples: list[Example], rows: str) -> list[Example]:
    """The same rows as `percontrast train` examples: what PerCETrainer is given."""
    if rows == "standard":
        return [
            Example(
                id=e.id,
                persona=e.persona,
                query=f"Question: {e.query}\nAnswer:",
                response=f" {e.response}",
                template="persona_prefix",
            )
            for e in examples
        ]
    return [
        Example(
            id=e.id,
            persona=["\n".join(e.persona)],
            query=e.query,
            response=e.response,
            template="messages_chat",
        )
        for e in examples
    ]


def sft_config(output_dir: Path, config_class=None, **overrides):
    """A PerCESFTConfig (or TRL's SFTConfig) set as training_helpers.make_config sets PerCEConfig."""
    from percontrast.training.trl import PerCESFTConfig

    values = dict(
        output_dir=str(output_dir),
        learning_rate=1e-3,
        per_device_train_batch_size=2,
        max_steps=1,
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        disable_tqdm=True,
        seed=0,
        max_grad_norm=0.0,
        use_cpu=True,
        dataloader_pin_memory=False,
        bf16=False,  # SFTConfig's defaults are bf16 and gradient checkpointing on: float32 here
        gradient_checkpointing=False,
    )
    values.update(overrides)
    return (config_class or PerCESFTConfig)(**values)


def perce_sft_step(output_dir: Path, rows: list[dict], model=None, tokenizer=None, **overrides):
    """One optimizer step of PerCESFTTrainer on a fresh sharpened tiny model (or ``model``, an object or a
    name, with ``tokenizer``): (trainer, logged loss, gradients)."""
    from datasets import Dataset

    from percontrast.training.trl import PerCESFTTrainer

    if model is None:
        model, tokenizer = sharpened_tiny()
    capture = GradientCapture()
    trainer = PerCESFTTrainer(
        model=model,
        args=sft_config(output_dir, **overrides),
        train_dataset=Dataset.from_list(rows),
        processing_class=tokenizer,
        callbacks=[capture],
    )
    trainer.train()
    assert capture.gradients, "no gradient was captured"
    return trainer, trainer.state.log_history[0]["loss"], capture.gradients


@pytest.mark.parametrize(
    ("loss", "rows", "options"),
    [
        ("perce", "standard", {}),
        ("ce", "standard", {}),
        ("perce", "system", {}),
        ("ce", "system", {}),
        ("entce", "standard", {"weight_mode": "hard"}),
        ("perce", "standard", {"normalization": "responses"}),
        ("perce", "standard", {"pir_source": "frozen"}),
    ],
)
def test_one_step_equals_perce_trainer(tmp_path, loss, rows, options):
    """Same examples, accumulation 2 x batch 2 (the step's 4 of 8 rows drawn by the same seeded sampler): the
    same loss and gradients as PerCETrainer, bit for bit."""
    from percontrast.training.trainer import train

    examples = make_examples(8)
    shared = dict(loss=loss, gradient_accumulation_steps=2, **options)
    model, tokenizer = sharpened_tiny()
    capture = GradientCapture()
    run = train(
        make_config(tmp_path / "perce", **shared),
        model=model,
        tokenizer=tokenizer,
        examples=project_examples(examples, rows),
        callbacks=[capture],
    )
    make = standard_rows if rows == "standard" else system_rows
    persona_from = "field" if rows == "standard" else "system"
    _, sft_loss, gradients = perce_sft_step(
        tmp_path / "sft", make(examples), persona_from=persona_from, **shared
    )
    # One implementation (PerCELossMixin) on the same batches: equal to the last bit (measured: 0 difference).
    assert sft_loss == run.trainer.state.log_history[0]["loss"]
    assert capture.gradients.keys() == gradients.keys()
    for name, gradient in gradients.items():
        assert torch.equal(gradient, capture.gradients[name]), name


def test_m_equal_M_equal_1_trains_as_trl_sft_trainer(tmp_path):
    """PerCE with every weight 1 is TRL's completion-only CE on the with-persona rows: the same tokens, and the
    same loss and gradients within 1e-5 relative (TRL's fused head sums in another order: measured 7e-8)."""
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    examples = make_examples(8)
    rows = standard_rows(examples)
    trainer, loss, gradients = perce_sft_step(
        tmp_path / "perce", rows, loss="perce", clip_min=1.0, clip_max=1.0, gradient_accumulation_steps=2
    )
    # SFTTrainer sees the prompt PerCE trains on: the persona (template persona_prefix), a blank line, the prompt.
    with_persona = [
        {"prompt": "\n".join(row["persona"]) + "\n\n" + row["prompt"], "completion": row["completion"]}
        for row in rows
    ]
    model, tokenizer = sharpened_tiny()
    capture = GradientCapture()
    reference = SFTTrainer(
        model=model,
        args=sft_config(tmp_path / "sft", SFTConfig, gradient_accumulation_steps=2),
        train_dataset=Dataset.from_list(with_persona),
        processing_class=tokenizer,
        callbacks=[capture],
    )
    for prepared, encoded in zip(reference.train_dataset, trainer.train_dataset.examples, strict=True):
        ids = encoded.prompt_with_ids + encoded.response_ids
        assert prepared["input_ids"] == ids  # the same tokens, EOS included
        # TRL >= 1.7 builds the labels when preparing; earlier releases keep a completion mask for the collator.
        labels = prepared.get("labels") or [
            token if trained else -100
            for token, trained in zip(ids, prepared["completion_mask"], strict=True)
        ]
        assert labels == [-100] * len(encoded.prompt_with_ids) + encoded.response_ids
    reference.train()
    assert loss == pytest.approx(reference.state.log_history[0]["loss"], rel=1e-5)
    assert_same_gradients(capture.gradients, gradients)
    assert trainer.state.log_history[0]["weight_min"] == trainer.state.log_history[0]["weight_max"] == 1.0


def test_prompts_with_and_without_the_persona(tiny):
    """Standard rows: the persona and a blank line before the prompt, else the prompt as it is. Conversational
    rows with a system persona: the chat template on the prompt messages, else on them without that message."""
    from datasets import Dataset

    from percontrast.training.trl import PerCESFTTrainer

    model, tokenizer = tiny
    examples = make_examples(2)
    trainer = PerCESFTTrainer(
        model=model,
        args=sft_config("unused"),
        train_dataset=Dataset.from_list(standard_rows(examples)),
        processing_class=tokenizer,
    )
    for row, encoded in zip(standard_rows(examples), trainer.train_dataset.examples, strict=True):
        assert encoded.prompt_with == "\n".join(row["persona"]) + "\n\n" + row["prompt"]
        assert encoded.prompt_without == row["prompt"]
        assert encoded.response_ids == tokenizer(row["completion"])["input_ids"] + [tokenizer.eos_token_id]
    rows = system_rows(examples)
    trainer = PerCESFTTrainer(
        model=model,
        args=sft_config("unused", persona_from="system"),
        train_dataset=Dataset.from_list(rows),
        processing_class=tokenizer,
    )
    for row, encoded in zip(rows, trainer.train_dataset.examples, strict=True):
        chat = [
            tokenizer.apply_chat_template(m, tokenize=False, add_generation_prompt=True)
            for m in (row["prompt"], row["prompt"][1:])
        ]
        assert [encoded.prompt_with, encoded.prompt_without] == chat
        assert encoded.prompt_with_ids == tokenizer(chat[0], add_special_tokens=False)["input_ids"]


def test_a_model_given_by_name_trains_as_the_same_model_given_as_an_object(tmp_path):
    """SFTTrainer loads a named model itself (and TRL >= 1.15 patches it with its fused LM head): the step is
    the same as with the model object."""
    model, tokenizer = sharpened_tiny()
    model.save_pretrained(tmp_path / "model")
    tokenizer.save_pretrained(tmp_path / "model")
    rows = standard_rows(make_examples(4))
    _, loss, gradients = perce_sft_step(tmp_path / "object", rows, model=model, tokenizer=tokenizer)
    _, by_name, by_name_gradients = perce_sft_step(tmp_path / "name", rows, model=str(tmp_path / "model"))
    assert by_name == pytest.approx(loss, rel=1e-6)
    assert_same_gradients(gradients, by_name_gradients)


def test_lora_gradient_checkpointing_and_bf16_train_the_adapters_only(tmp_path):
    from datasets import Dataset
    from peft import LoraConfig

    from percontrast.training.trl import PerCESFTTrainer

    model, tokenizer = sharpened_tiny()
    trainer = PerCESFTTrainer(
        model=model,
        args=sft_config(tmp_path, max_steps=3, bf16=True, gradient_checkpointing=True),
        train_dataset=Dataset.from_list(standard_rows(make_examples(6))),
        processing_class=tokenizer,
        peft_config=LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM"),
    )
    before = {name: parameter.detach().clone() for name, parameter in trainer.model.named_parameters()}
    trainer.train()
    assert str(trainer.accelerator.mixed_precision) == "bf16"
    for name, parameter in trainer.model.named_parameters():
        changed = not torch.equal(parameter, before[name])
        assert changed == ("lora_" in name), f"{name}: changed={changed}"
    logs = [entry for entry in trainer.state.log_history if "loss" in entry]
    assert len(logs) == 3 and all(0.8 <= entry["weight_min"] <= entry["weight_max"] <= 5.0 for entry in logs)


def test_evaluation_loss_is_the_completion_nll_of_the_eval_rows(tmp_path):
    """loss='ce': eval_loss (one batch of both eval rows) is the mean NLL of their completion tokens after the
    persona-filled prompt, computed here from the model's full logits; a dataset passed to evaluate() is
    encoded as the constructor's."""
    from datasets import Dataset

    from percontrast.training.trl import PerCESFTTrainer

    rows = standard_rows(make_examples(8))
    model, tokenizer = sharpened_tiny()
    predictions = []  # compute_metrics gets PerCE's outputs (SFTTrainer's prediction_step would want logits)
    trainer = PerCESFTTrainer(
        model=model,
        args=sft_config(tmp_path, loss="ce", max_steps=2, eval_strategy="steps", eval_steps=2),
        train_dataset=Dataset.from_list(rows[:6]),
        eval_dataset=Dataset.from_list(rows[6:]),
        processing_class=tokenizer,
        compute_metrics=lambda output: predictions.append(output.predictions) or {},
    )
    trainer.train()
    assert len([entry for entry in trainer.state.log_history if "eval_loss" in entry]) == 1
    nll = []
    with torch.no_grad():
        for item in trainer.eval_dataset.examples:
            ids = torch.tensor([item.prompt_with_ids + item.response_ids])
            logp = torch.log_softmax(trainer.model(input_ids=ids).logits[0].float(), -1)  # (T, V)
            start = len(item.prompt_with_ids)
            positions = torch.arange(start - 1, ids.shape[1] - 1)
            nll += (-logp[positions, ids[0, start:]]).tolist()
    expected = sum(nll) / len(nll)
    logp_with, weights = predictions[0]  # (rows, completion positions), 0 past each completion
    width = max(len(item.response_ids) for item in trainer.eval_dataset.examples)
    assert logp_with.shape == weights.shape == (2, width)
    assert trainer.evaluate()["eval_loss"] == pytest.approx(expected, rel=1e-5)
    assert trainer.evaluate(Dataset.from_list(rows[6:]))["eval_loss"] == pytest.approx(expected, rel=1e-5)


@pytest.mark.needs("tensorboard")
def test_perce_statistics_reach_tensorboard(tmp_path, monkeypatch):
    from datasets import Dataset
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from percontrast.training.trl import PerCESFTTrainer

    monkeypatch.setenv("TENSORBOARD_LOGGING_DIR", str(tmp_path / "tb"))  # transformers 5 reads it there
    rows = standard_rows(make_examples(8))
    model, tokenizer = sharpened_tiny()
    trainer = PerCESFTTrainer(
        model=model,
        args=sft_config(
            tmp_path / "run", max_steps=2, report_to=["tensorboard"], eval_strategy="steps", eval_steps=2
        ),
        train_dataset=Dataset.from_list(rows[:6]),
        eval_dataset=Dataset.from_list(rows[6:]),
        processing_class=tokenizer,
    )
    trainer.train()
    logged = [entry for entry in trainer.state.log_history if "weight_mean" in entry]
    events = EventAccumulator(str(tmp_path / "tb"))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    assert {"train/loss", "train/pir_mean", "train/clipped_high", "eval/loss"} <= tags, tags
    values = [event.value for event in events.Scalars("train/weight_mean")]
    assert values == pytest.approx([entry["weight_mean"] for entry in logged], rel=1e-6)


def test_frozen_pir_scores_the_train_and_eval_rows_once(tmp_path):
    from datasets import Dataset

    from percontrast.training.trl import PerCESFTTrainer

    rows = standard_rows(make_examples(6))
    model, tokenizer = sharpened_tiny()
    trainer = PerCESFTTrainer(
        model=model,
        args=sft_config(tmp_path, pir_source="frozen", max_steps=2),
        train_dataset=Dataset.from_list(rows[:4]),
        eval_dataset={"dev": Dataset.from_list(rows[4:])},
        processing_class=tokenizer,
    )
    assert sorted(trainer.data_collator.pir) == [
        "eval_dev/0",
        "eval_dev/1",
        "train/0",
        "train/1",
        "train/2",
        "train/3",
    ]
    trainer.train()
    assert trainer.evaluate()["eval_dev_loss"] > 0
    with pytest.raises(ConfigError, match="pass this dataset as eval_dataset when building"):
        trainer.evaluate(Dataset.from_list(rows[4:]))
    # One step of 2 draws 2 of the 4 train rows: only those are scored (as PerCETrainer does), every eval row.
    model, tokenizer = sharpened_tiny()
    one_step = PerCESFTTrainer(
        model=model,
        args=sft_config(tmp_path / "one", pir_source="frozen", max_steps=1, per_device_train_batch_size=2),
        train_dataset=Dataset.from_list(rows[:4]),
        eval_dataset={"dev": Dataset.from_list(rows[4:])},
        processing_class=tokenizer,
    )
    scored = sorted(one_step.data_collator.pir)
    assert len(scored) == 4 and scored[:2] == ["eval_dev/0", "eval_dev/1"]
    one_step.train()


def test_a_persona_cut_away_by_truncation_is_skipped_and_counted(tmp_path, tiny):
    """max_length fits row 0's prompt and completion but no persona token: it is skipped, listed with the
    reason, and not trained as CE; row 1 (a short prompt) keeps the part of its persona that fits. No usable
    row: an error."""
    from datasets import Dataset

    from percontrast.training.trl import PerCESFTTrainer

    model, tokenizer = tiny
    persona = make_examples(5)[4].persona  # five facts, longer than row 1's room for them
    rows = [
        {
            "prompt": "Tell me about your free afternoons, and about the weekends too.",
            "completion": " I sew.",
        },
        {"prompt": "Hobby?", "completion": " I sew."},
    ]
    rows = [{**row, "persona": persona} for row in rows]
    budget = (
        len(tokenizer("\n\n" + rows[0]["prompt"])["input_ids"]) + len(tokenizer(" I sew.")["input_ids"]) + 1
    )
    trainer = PerCESFTTrainer(
        model=model,
        args=sft_config(tmp_path, max_length=budget),
        train_dataset=Dataset.from_list(rows),
        processing_class=tokenizer,
    )
    skipped = trainer.skipped_examples["train"]
    assert [item.id for item in skipped] == ["train/0"] and "no persona item fits" in skipped[0].reason
    assert [item.id for item in trainer.train_dataset.examples] == ["train/1"]
    assert 0 < len(trainer.train_dataset.examples[0].persona) < len(persona)  # cut, not removed
    assert trainer.train_dataset.truncated_ids == ["train/1"]
    with pytest.raises(DataError, match="no usable training example"):
        PerCESFTTrainer(
            model=model,
            args=sft_config(tmp_path, max_length=budget),
            train_dataset=Dataset.from_list(rows[:1]),
            processing_class=tokenizer,
        )


def _user_chat(system: str | None, user: str, reply: str) -> dict:
    prompt = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": user}]
    return {"prompt": prompt, "completion": [{"role": "assistant", "content": reply}]}


BAD_ROWS = [
    (
        [{"prompt": "Hobby?", "completion": " I sew."}],
        {},
        r"train_dataset row 0, field 'persona': no persona",
    ),
    (
        [
            {"prompt": "Hobby?", "completion": " I sew.", "persona": ["a"]},
            {"prompt": "Q?", "completion": " A.", "persona": None},
        ],
        {},
        r"train_dataset row 1, field 'persona': no persona",
    ),
    (
        [{"prompt": "Hobby?", "completion": "  ", "persona": "I sew."}],
        {},
        r"row 0, field 'completion': the completion is empty",
    ),
    (
        [{**_user_chat(None, "Hobby?", ""), "persona": "I sew."}],
        {},
        r"row 0, field 'completion': the completion is empty",
    ),
    (
        [{"prompt": "Hobby?", "completion": " I sew.", "persona": []}],
        {},
        r"field 'persona': persona is empty",
    ),
    ([{"text": "I sew.", "persona": "I sew."}], {}, r"field 'prompt': expected a prompt-completion row"),
    (
        [{"prompt": "", "completion": " I sew.", "persona": "I sew."}],
        {},
        r"field 'prompt': the prompt is empty",
    ),
    (
        [_user_chat(None, "Hobby?", "I sew.")],
        {"persona_from": "system"},
        "first message is not a system message",
    ),
    (
        [{"prompt": "Hobby?", "completion": " I sew."}],
        {"persona_from": "system"},
        "needs conversational rows",
    ),
    (
        [{**_user_chat("I sew.", "Hobby?", "I sew."), "persona": "I sew."}],
        {"persona_from": "system"},
        "persona given twice",
    ),
]


@pytest.mark.parametrize(("rows", "options", "message"), BAD_ROWS)
def test_bad_rows_are_errors_naming_the_row_and_the_column(tmp_path, tiny, rows, options, message):
    from datasets import Dataset

    from percontrast.training.trl import PerCESFTTrainer

    model, tokenizer = tiny
    with pytest.raises(DataError, match=message):
        PerCESFTTrainer(
            model=model,
            args=sft_config(tmp_path, **options),
            train_dataset=Dataset.from_list(rows),
            processing_class=tokenizer,
        )


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"packing": True},
            "packing=True .* not supported: PerCE scores each completion under its prompt with and without",
        ),
        ({"padding_free": True}, "padding_free=True is not supported"),
        ({"completion_only_loss": False}, "completion_only_loss=False is not supported"),
        ({"loss_type": "dft"}, "loss_type='dft' is TRL's own loss"),
        ({"persona_from": "column"}, r"persona_from must be one of \('field', 'system'\)"),
        ({"persona_template": "nope"}, "unknown template 'nope'"),
        ({"persona_from": "system", "persona_template": "persona_chat"}, "Leave persona_template unset"),
        ({"loss": "xent"}, "loss must be one of"),  # PerCESettings' checks, shared with PerCEConfig
        ({"clip_min": 0.0}, r"clip_min \(m\) must be > 0"),
        ({"average_tokens_across_devices": False}, "average_tokens_across_devices must be True"),
    ],
)
def test_bad_settings_are_refused_by_the_config(tmp_path, options, message):
    import dataclasses

    from trl import SFTConfig

    if "loss_type" in options and "loss_type" not in {item.name for item in dataclasses.fields(SFTConfig)}:
        pytest.skip("this TRL's SFTConfig has no loss_type (it came in TRL 0.23)")
    with pytest.raises(ConfigError, match=message):
        sft_config(tmp_path, **options)


def test_what_the_trainer_refuses(tmp_path, tiny):
    from datasets import Dataset, IterableDataset
    from trl import SFTConfig

    from percontrast.training.trl import PerCESFTTrainer

    model, tokenizer = tiny
    rows = Dataset.from_list(standard_rows(make_examples(2)))
    base = dict(model=model, train_dataset=rows, processing_class=tokenizer)
    cases = [
        (
            dict(args=sft_config(tmp_path, config_class=SFTConfig)),
            "needs a PerCESFTConfig as args, got SFTConfig",
        ),
        (dict(data_collator=lambda batch: batch), "data_collator is not supported"),
        (dict(formatting_func=lambda row: row["prompt"]), "formatting_func is not supported"),
        (
            dict(train_dataset=IterableDataset.from_generator(lambda: iter(rows))),
            "streaming \\(IterableDataset\\) is not supported",
        ),
    ]
    for overrides, message in cases:
        with pytest.raises(ConfigError, match=message):
            PerCESFTTrainer(**{"args": sft_config(tmp_path), **base, **overrides})


DDP_CASES = {
    "perce": {"loss": "perce"},
    "ce": {"loss": "ce"},
    "perce-responses": {"loss": "perce", "normalization": "responses"},
}


def test_accelerate_launch_ddp_two_processes_equal_one(tmp_path):
    """`accelerate launch` (2 CPU processes, gloo, DDP) of tests/trl_worker.py: each rank takes batch 1 x 2
    accumulation steps of the 4 rows; the step's loss and gradients equal one process with batch 4 (1e-5).
    About 12 s on 2 CPU cores: in the default suite."""
    out = tmp_path / "ddp"
    out.mkdir()
    command = [sys.executable, "-m", "accelerate.commands.launch", "--config_file"]
    command += [str(Path(__file__).parents[1] / "configs" / "accelerate" / "ddp.yaml")]
    command += ["--num_processes", "2", "--mixed_precision", "no", "--main_process_port", str(free_port())]
    command += [str(WORKER), str(out)]
    result = subprocess.run(
        command, env=multiprocess_env(), capture_output=True, text=True, timeout=600, cwd=tmp_path
    )
    assert result.returncode == 0, (
        f"accelerate launch failed:\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}"
    )
    torch.set_num_threads(1)
    for case, options in DDP_CASES.items():
        rank0, rank1 = (torch.load(out / f"{case}-rank{rank}.pt") for rank in (0, 1))
        for name, gradient in rank0[
            "gradients"
        ].items():  # DDP leaves the same (all-reduced) gradient on both
            assert torch.equal(gradient, rank1["gradients"][name]), name
        _, loss, gradients = perce_sft_step(
            tmp_path / case, standard_rows(make_examples(4)), per_device_train_batch_size=4, **options
        )
        assert rank0["loss"] == pytest.approx(loss, rel=1e-5), case
        assert_same_gradients(gradients, rank0["gradients"])
