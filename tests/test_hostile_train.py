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
    assert _train(data, output, "--max_steps", "3", "--resume_from_checkpoint", "latest") == 0
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
        argv = ["--max_steps", "3", "--resume_from_checkpoint", "latest", *changed]
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
