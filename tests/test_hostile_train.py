"""Hostile use of `percontrast train`: a finished run is never overwritten by accident, resumes name
their checkpoint, and bad values (flags or YAML) are one line naming the key, before anything is written."""

from __future__ import annotations

from pathlib import Path

import pytest
from training_helpers import make_examples

from percontrast.cli import main
from percontrast.utils.files import write_jsonl


@pytest.fixture()
def data(tmp_path: Path) -> Path:
    path = tmp_path / "train.jsonl"
    write_jsonl(path, [example.to_dict() for example in make_examples(3)])
    return path


def _train(data: Path, output: Path, *extra: str) -> int:
    argv = ["train", "--model", "tiny", "--data", str(data), "--output_dir", str(output), "--use_cpu"]
    return main([*argv, "--report_to", "none", "--probe_steps", "0", "--disable_tqdm", "true", *extra])


def test_a_finished_run_is_not_overwritten_unless_asked(tmp_path: Path, data: Path, capsys) -> None:
    output = tmp_path / "run"
    assert _train(data, output, "--max_steps", "2", "--save_steps", "1") == 0
    config_before = (output / "run_config.json").read_text()
    assert _train(data, output, "--max_steps", "1", "--learning_rate", "0.5") == 2
    assert "is not empty" in capsys.readouterr().err
    assert (output / "run_config.json").read_text() == config_before
    # Resuming the newest checkpoint is allowed, by name or as 'latest'.
    assert _train(data, output, "--max_steps", "2", "--resume_from_checkpoint", "latest") == 0
    assert _train(data, output, "--max_steps", "1", "--overwrite_output_dir") == 0


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--resume_from_checkpoint", "{tmp}/nowhere"], "no such checkpoint directory"),
        (["--resume_from_checkpoint", "latest"], "no complete checkpoint-N directory"),
        (["--per_device_train_batch_size", "0"], "per_device_train_batch_size must be a positive integer"),
        (["--gradient_accumulation_steps", "0"], "gradient_accumulation_steps must be a positive integer"),
        (["--max_steps", "0"], "max_steps must be a positive number"),
        (["--max_steps", "-1", "--num_train_epochs", "0"], "num_train_epochs must be a positive finite"),
        (["--num_train_epochs", "-2"], "num_train_epochs must be a positive finite"),
        (["--num_train_epochs", "nan"], "num_train_epochs must be a positive finite"),
        (["--learning_rate", "nan"], "learning_rate must be a finite number >= 0"),
        (["--learning_rate", "-0.1"], "learning_rate must be a finite number >= 0"),
        (["--resume_from_checkpoint", "{tmp}/empty"], "not a complete checkpoint"),
        (["--max_length", "100000"], "longer than the model's context"),
        (["--config", "{tmp}/broken.yaml"], "broken.yaml:2: not valid YAML"),
        (["--config", "{tmp}/typed.yaml"], "typed.yaml: key 'learning_rate': 'fast' is not a valid float"),
        (["--config", "{tmp}/choice.yaml"], "choice.yaml: key 'lr_scheduler_type'"),
        (["--config", "{tmp}"], "is a directory"),
        (["--bf16", "--fp16"], "bf16 and fp16 are both set: choose one"),
    ],
)
def test_bad_values_are_one_line_and_nothing_is_written(
    tmp_path: Path, data: Path, extra: list[str], message: str, capsys
) -> None:
    (tmp_path / "broken.yaml").write_text("loss: ce\nmax_steps: 1: 2\n")
    (tmp_path / "typed.yaml").write_text("learning_rate: fast\n")
    (tmp_path / "choice.yaml").write_text("lr_scheduler_type: sideways\n")
    (tmp_path / "empty").mkdir()
    output = tmp_path / "run"
    assert _train(data, output, *[value.format(tmp=tmp_path) for value in extra]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert "--learning_rate" not in err  # a YAML value is not blamed on a flag the user never passed
    assert not output.exists()


# ------------------------------------------------------------------------------- resumes (issue 19)


def _weights(output: Path) -> bytes:
    return (output / "model.safetensors").read_bytes()


def test_a_resume_under_other_training_settings_is_refused(tmp_path: Path, data: Path, capsys) -> None:
    """percontrast train ... --loss perce --max_steps 2 --save_steps 1, then --loss ce (or another learning
    rate) --resume_from_checkpoint latest: the PerCE run went on as CE and run_config.json said CE."""
    output = tmp_path / "run"
    assert _train(data, output, "--loss", "perce", "--max_steps", "2", "--save_steps", "1") == 0
    config_before = (output / "run_config.json").read_text()
    for changed in (["--loss", "ce"], ["--learning_rate", "0.5"], ["--clip_max", "3"]):
        argv = ["--max_steps", "2", "--resume_from_checkpoint", "latest", *changed]
        assert _train(data, output, "--loss", "perce", *argv) == 2
        err = capsys.readouterr().err
        assert "resuming would mix two runs" in err and changed[0].lstrip("-") in err
    assert (output / "run_config.json").read_text() == config_before
    assert not (output / "checkpoint-3").exists()


def test_overwrite_removes_the_old_runs_checkpoints(tmp_path: Path, data: Path, capsys) -> None:
    """percontrast train ... --loss perce --max_steps 2 --save_steps 1, then --loss ce --max_steps 1
    --overwrite_output_dir, then --resume_from_checkpoint latest: the old PerCE checkpoint-2 was resumed,
    while run_config.json said CE."""
    output = tmp_path / "run"
    assert _train(data, output, "--loss", "perce", "--max_steps", "2", "--save_steps", "1") == 0
    assert _train(data, output, "--loss", "ce", "--max_steps", "1", "--overwrite_output_dir") == 0
    assert not (output / "checkpoint-2").exists()
    assert (
        _train(data, output, "--loss", "perce", "--max_steps", "3", "--resume_from_checkpoint", "latest") == 2
    )
    assert "loss: 'ce' there, 'perce' now" in capsys.readouterr().err


def test_latest_skips_a_torn_checkpoint(tmp_path: Path, data: Path, caplog) -> None:
    """A run killed while saving checkpoint-2 (no trainer_state.json yet; or an empty checkpoint-9): `latest`
    resumed from it and failed with trainer_state.json missing, on every rerun."""
    output = tmp_path / "run"
    assert _train(data, output, "--max_steps", "2", "--save_steps", "1") == 0
    (output / "checkpoint-2" / "trainer_state.json").unlink()
    (output / "checkpoint-9").mkdir()
    assert _train(data, output, "--max_steps", "2", "--resume_from_checkpoint", "latest") == 0
    assert "checkpoint-9 is incomplete" in caplog.text and "checkpoint-2 is incomplete" in caplog.text
    assert (output / "checkpoint-2" / "trainer_state.json").exists()  # step 2 trained again and saved


def test_resuming_a_finished_run_trains_nothing(tmp_path: Path, data: Path) -> None:
    """percontrast train ... --max_steps 4 --save_steps 2, then the same with --resume_from_checkpoint latest:
    the weights must stay those of step 4 (the issue saw a step 5)."""
    output = tmp_path / "run"
    argv = ["--max_steps", "4", "--save_steps", "2", "--learning_rate", "0.01"]
    assert _train(data, output, *argv) == 0
    before = _weights(output)
    assert _train(data, output, *argv, "--resume_from_checkpoint", "latest") == 0
    assert _weights(output) == before and not (output / "checkpoint-5").exists()


# ------------------------------------------------------------------------------- resumes (issue 25)

FOUR_EXAMPLES_TWO_STEPS_AN_EPOCH = ["--per_device_train_batch_size", "2", "--save_steps", "2"]


@pytest.fixture()
def data4(tmp_path: Path) -> Path:
    path = tmp_path / "train4.jsonl"
    write_jsonl(path, [example.to_dict() for example in make_examples(4)])
    return path


def test_resuming_a_run_finished_inside_an_epoch_trains_nothing(tmp_path: Path, data4: Path, caplog) -> None:
    """percontrast train ... --max_steps 3 (4 examples, batch 2: the run ends inside its second epoch), then
    the same with --resume_from_checkpoint latest: exit 0, 'trained 4 steps', checkpoint-4 (step 4 of 3)."""
    caplog.set_level("INFO", logger="percontrast")
    output = tmp_path / "run"
    argv = [*FOUR_EXAMPLES_TWO_STEPS_AN_EPOCH, "--max_steps", "3", "--learning_rate", "0.01"]
    assert _train(data4, output, *argv, "--lr_scheduler_type", "constant") == 0
    before = _weights(output)
    assert (
        _train(data4, output, *argv, "--lr_scheduler_type", "constant", "--resume_from_checkpoint", "latest")
        == 0
    )
    assert _weights(output) == before and not (output / "checkpoint-4").exists()
    assert "the run is finished, nothing to train" in caplog.text
    assert "had already finished (step 3): nothing trained" in caplog.text


@pytest.mark.parametrize(
    ("first", "resumed", "message"),
    [
        (["--max_steps", "3"], ["--max_steps", "8"], "max_steps: 3 there, 8 now"),
        (
            ["--max_steps", "-1", "--num_train_epochs", "1"],
            ["--max_steps", "-1", "--num_train_epochs", "3"],
            "num_train_epochs: 1.0 there, 3.0 now",
        ),
        (
            ["--max_steps", "3", "--warmup_steps", "1"],
            ["--max_steps", "3"],
            "warmup_steps: 1.0 there, 0.04 now",
        ),
        (["--max_steps", "3", "--bf16"], ["--max_steps", "3"], "bf16: True there, False now"),
        (["--max_steps", "3"], ["--max_steps", "3", "--bf16"], "bf16: False there, True now"),
    ],
)
def test_a_resume_with_another_schedule_or_precision_is_refused(
    tmp_path: Path, data4: Path, first: list[str], resumed: list[str], message: str, capsys
) -> None:
    """First --max_steps 3, resumed with --max_steps 8: the linear schedule restarted on the trained weights.
    A --bf16 run resumed without it (or the reverse) went on in another precision."""
    output = tmp_path / "run"
    assert _train(data4, output, *FOUR_EXAMPLES_TWO_STEPS_AN_EPOCH, *first) == 0
    capsys.readouterr()
    resume = [*FOUR_EXAMPLES_TWO_STEPS_AN_EPOCH, *resumed, "--resume_from_checkpoint", "latest"]
    assert _train(data4, output, *resume) == 2
    err = capsys.readouterr().err
    assert message in err and "resuming would mix two runs" in err and "Traceback" not in err
    schedule_named = "the learning-rate schedule depends on" in err
    assert schedule_named == ("bf16" not in message)


@pytest.mark.parametrize("frozen", [False, True])
def test_a_resume_on_data_edited_in_place_is_refused(
    tmp_path: Path, data4: Path, frozen: bool, capsys
) -> None:
    """train.jsonl edited between a run and its resume: the resume went on training on the new data."""
    output = tmp_path / "run"
    argv = [*FOUR_EXAMPLES_TWO_STEPS_AN_EPOCH, "--max_steps", "3", "--loss", "perce"]
    argv += ["--pir_source", "frozen"] if frozen else []
    assert _train(data4, output, *argv) == 0
    recorded = (output / "run_config.json").read_text()
    records = data4.read_text().splitlines()
    data4.write_text("\n".join([records[0].replace("I sew.", "I knit."), *records[1:]]) + "\n")
    assert _train(data4, output, *argv, "--resume_from_checkpoint", "latest") == 2
    err = capsys.readouterr().err
    assert "data_sha256:" in err and "resuming would mix two runs" in err
    assert (output / "run_config.json").read_text() == recorded


def test_a_run_config_of_an_older_version_still_resumes(tmp_path: Path, data4: Path, caplog) -> None:
    """A run_config.json written before max_steps, the precision and the data's sha256 were recorded: the
    resume compares what it records and names what it cannot check."""
    import json

    output = tmp_path / "run"
    argv = [*FOUR_EXAMPLES_TWO_STEPS_AN_EPOCH, "--max_steps", "3"]
    assert _train(data4, output, "--max_steps", "2", *FOUR_EXAMPLES_TWO_STEPS_AN_EPOCH) == 0
    info = json.loads((output / "run_config.json").read_text())
    for key in ("max_steps", "num_train_epochs", "bf16", "fp16", "data_sha256", "lr_scheduler_kwargs"):
        del info["resume_settings"][key]
    (output / "run_config.json").write_text(json.dumps(info))
    assert _train(data4, output, *argv, "--resume_from_checkpoint", "latest") == 0
    assert "did not record bf16, data_sha256" in caplog.text
    assert (output / "checkpoint-3").exists()


def test_a_finished_train_command_leaves_its_process_group(tmp_path: Path, data: Path, monkeypatch) -> None:
    """A launched `percontrast train` ends by leaving its process group together (barrier, destroy): CI saw
    torch 2.11 abort a rank at teardown when it was left alive. A real 1-process gloo group is destroyed;
    without one the step is a no-op; the command takes it after training, before returning."""
    import torch.distributed as dist

    from percontrast.commands import train as train_command

    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1)
    train_command.leave_process_group()
    assert not dist.is_initialized()
    train_command.leave_process_group()  # nothing to leave

    calls = []
    monkeypatch.setattr(train_command, "leave_process_group", lambda: calls.append(True))
    assert _train(data, tmp_path / "run", "--max_steps", "1") == 0
    assert calls == [True]
