"""Hostile use of `percontrast train`: a finished run is never overwritten by accident, resumes name
their checkpoint, and bad values (flags or YAML) are one line naming the key, before anything is written."""

from __future__ import annotations

from pathlib import Path

import pytest
from training_helpers import make_examples

from percontrast.cli import main
from percontrast.data.schema import write_jsonl


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
        (["--resume_from_checkpoint", "latest"], "no checkpoint-N directory"),
        (["--per_device_train_batch_size", "0"], "per_device_train_batch_size must be a positive integer"),
        (["--gradient_accumulation_steps", "0"], "gradient_accumulation_steps must be a positive integer"),
        (["--max_steps", "0"], "max_steps must be a positive number"),
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
    output = tmp_path / "run"
    assert _train(data, output, *[value.format(tmp=tmp_path) for value in extra]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert "--learning_rate" not in err  # a YAML value is not blamed on a flag the user never passed
    assert not output.exists()
