"""Issue 19's raw tracebacks: each case is one line naming the input (exit 2), and Ctrl-C says what was
saved and how to resume (exit 130). Every case runs the real CLI on the tiny model.

    percontrast score --model DIR ...          # DIR without weights / tokenizer, config.json of {}
    percontrast score --model x.gguf ...       # garbage or truncated GGUF
    percontrast generate --backend vllm --model tiny ...
    percontrast generate --contrast 1e300 ...
    percontrast demo --seeds -1 | --seeds 0 0 | --learning-rate nan
    Ctrl-C in percontrast train / generate
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from training_helpers import make_examples

from percontrast.cli import main
from percontrast.commands.demo import demo_examples_path
from percontrast.data.schema import write_jsonl
from percontrast.generation import generate as generation
from percontrast.training.trainer import PerCETrainer


@pytest.fixture()
def data(tmp_path: Path) -> Path:
    path = tmp_path / "data.jsonl"
    path.write_text("".join(demo_examples_path().read_text().splitlines(keepends=True)[:3]))
    return path


@pytest.fixture(scope="module")
def broken_models(tmp_path_factory) -> Path:
    from percontrast.modeling.load import load_model

    root = tmp_path_factory.mktemp("models")
    model, tokenizer = load_model("tiny", seed=0)
    model.save_pretrained(root / "no_tokenizer")
    tokenizer.save_pretrained(root / "no_weights")
    model.config.save_pretrained(root / "no_weights")
    (root / "empty_config").mkdir()
    (root / "empty_config" / "config.json").write_text("{}")
    (root / "garbage.gguf").write_bytes(b"GGUF" + bytes(range(256)) * 4)
    (root / "truncated.gguf").write_bytes(b"GGUF\x03\x00\x00\x00\x10\x00")
    return root


@pytest.mark.parametrize(
    "name", ["no_tokenizer", "no_weights", "empty_config", "garbage.gguf", "truncated.gguf"]
)
def test_a_broken_model_is_one_line(
    tmp_path: Path, data: Path, broken_models: Path, name: str, capsys
) -> None:
    spec = str(broken_models / name)
    assert main(["score", "--model", spec, "--data", str(data), "--out", str(tmp_path / "s.jsonl")]) == 2
    err = capsys.readouterr().err
    assert f"--model {spec}: could not load" in err and "Traceback" not in err and len(err.splitlines()) == 1


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--backend", "vllm"], "does not know percontrast's aliases"),
        (["--contrast", "1e300"], "contrast must be a number in [0, 1000]"),
    ],
)
def test_generate_values_that_failed_deep_inside(tmp_path: Path, data: Path, extra, message, capsys) -> None:
    out = tmp_path / "p.jsonl"
    assert main(["generate", "--model", "tiny", "--data", str(data), "--out", str(out), *extra]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not out.exists()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--seeds", "-1"], "seeds must be distinct integers >= 0"),
        (["--seeds", "0", "0"], "seeds must be distinct integers >= 0"),  # suggested --overwrite_output_dir
        (["--learning-rate", "nan"], "learning_rate must be a finite number > 0"),
    ],
)
def test_demo_values_are_one_line(tmp_path: Path, extra: list[str], message: str, capsys) -> None:
    assert main(["demo", "--model", "tiny", "--quick", "--out-dir", str(tmp_path / "d"), *extra]) == 2
    err = capsys.readouterr().err
    assert message in err and "overwrite_output_dir" not in err and "Traceback" not in err


def test_ctrl_c_in_train_names_the_checkpoint_to_resume(tmp_path: Path, monkeypatch, capsys) -> None:
    train_data = tmp_path / "train.jsonl"
    write_jsonl(train_data, [example.to_dict() for example in make_examples(3)])
    output = tmp_path / "run"
    real_step, steps = PerCETrainer.training_step, []

    def interrupted(self, *args, **kwargs):
        steps.append(1)
        if len(steps) == 3:
            raise KeyboardInterrupt
        return real_step(self, *args, **kwargs)

    monkeypatch.setattr(PerCETrainer, "training_step", interrupted)
    argv = ["train", "--model", "tiny", "--data", str(train_data), "--output_dir", str(output), "--use_cpu"]
    argv += ["--report_to", "none", "--probe_steps", "0", "--disable_tqdm", "true", "--max_steps", "4"]
    assert main([*argv, "--save_steps", "1"]) == 130
    err = capsys.readouterr().err
    assert f"the last checkpoint is {output / 'checkpoint-2'}; add --resume_from_checkpoint latest" in err
    monkeypatch.setattr(PerCETrainer, "training_step", real_step)
    assert main([*argv, "--save_steps", "1", "--resume_from_checkpoint", "latest"]) == 0
    shutil.rmtree(output)
    steps.clear()
    monkeypatch.setattr(PerCETrainer, "training_step", interrupted)
    assert main(argv) == 130
    assert "no checkpoint was saved" in capsys.readouterr().err


def test_ctrl_c_in_generate_says_what_is_saved(tmp_path: Path, data: Path, monkeypatch, capsys) -> None:
    out = tmp_path / "p.jsonl"
    real_generate, calls = generation.generate_from_ids, []

    def interrupted(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_generate(*args, **kwargs)

    monkeypatch.setattr(generation, "generate_from_ids", interrupted)
    argv = ["generate", "--model", "tiny", "--data", str(data), "--out", str(out), "--max-new-tokens", "2"]
    assert main([*argv, "--batch-size", "1"]) == 130
    assert f"1 of 3 predictions are saved in {out}; rerun the same command" in capsys.readouterr().err
    monkeypatch.setattr(generation, "generate_from_ids", real_generate)
    assert main([*argv, "--batch-size", "1"]) == 0
    assert [json.loads(line)["id"] for line in out.read_text().splitlines()] == [
        json.loads(line)["id"] for line in data.read_text().splitlines()
    ]
