"""`percontrast train` under `accelerate launch` with the shipped example configs, on 2 CPU processes.

The DDP and FSDP configs of configs/accelerate/ are launched as a user would, with `--use_cpu` for the
Trainer on this machine; the run records the distributed set-up it actually had, and the exported
directory is a normal Hugging Face model that `load_model` (and so `score` and `generate`) load.
accelerate turns FSDP (and DeepSpeed) on only over GPUs: on CPU its state is MULTI_CPU, so the FSDP config
runs as 2-process data parallelism here, and the run says so. The configs' ``mixed_precision: bf16`` is kept
(accelerate applies bf16 autocast on CPU too), so every loss trains in bf16 here as it would on GPUs. FSDP2's sharding itself is proven on CPU by
tests/test_fsdp.py; the `gpu`-marked tests launch the FSDP and ZeRO-3 configs where they take effect.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from training_helpers import free_port, make_examples, multiprocess_env

from percontrast.data.schema import write_jsonl

CONFIGS = Path(__file__).resolve().parents[1] / "configs" / "accelerate"


def _launch(tmp_path: Path, config: str, extra: list[str], gpu: bool = False, loss: str = "perce") -> Path:
    data = tmp_path / "train.jsonl"
    write_jsonl(data, make_examples(8))
    output = tmp_path / f"run-{config}"
    command = [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--config_file",
        str(CONFIGS / f"{config}.yaml"),
    ]
    command += ["--num_processes", "2", "--main_process_port", str(free_port()), *extra]
    command += [
        "-m",
        "percontrast.cli",
        "train",
        "--model",
        "tiny",
        "--data",
        str(data),
        "--output_dir",
        str(output),
    ]
    command += [
        "--loss",
        loss,
        "--max_steps",
        "2",
        "--per_device_train_batch_size",
        "2",
        "--warmup_steps",
        "0",
    ]
    command += ["--report_to", "none", "--probe_steps", "0", "--disable_tqdm", "true", "--logging_steps", "1"]
    if not gpu:
        command += ["--use_cpu"]
    result = subprocess.run(
        command, env=multiprocess_env(), capture_output=True, text=True, timeout=300, cwd=tmp_path
    )
    assert result.returncode == 0, (
        f"accelerate launch failed:\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}"
    )
    return output


def _check_export(output: Path) -> None:
    from percontrast.modeling.load import load_model

    model, _ = load_model(str(output))
    reference, _ = load_model("tiny", seed=0)
    changed = [
        name
        for name, parameter in model.named_parameters()
        if not torch.equal(parameter, dict(reference.named_parameters())[name])
    ]
    assert changed, "the exported model equals the untrained one: training or the export did nothing"


@pytest.mark.parametrize(
    ("config", "extra", "expected", "loss"),
    [
        *[
            (
                "ddp",
                [],
                {"type": "MULTI_CPU", "num_processes": 2, "fsdp": False, "mixed_precision": "bf16"},
                loss,
            )
            for loss in ("ce", "perce", "lossce", "entce")
        ],
        # On CPU accelerate keeps MULTI_CPU (FSDP needs GPUs); the run records it instead of claiming FSDP.
        (
            "fsdp",
            ["--fsdp_transformer_layer_cls_to_wrap", "LlamaDecoderLayer"],
            {"type": "MULTI_CPU", "num_processes": 2, "fsdp": False, "mixed_precision": "bf16"},
            "perce",
        ),
    ],
)
def test_accelerate_launch_with_the_shipped_config(tmp_path, config, extra, expected, loss):
    # The shipped configs as they are, bf16 included: no --mixed_precision override.
    output = _launch(tmp_path, config, extra, loss=loss)
    distributed = json.loads((output / "run_config.json").read_text())["distributed"]
    assert {key: distributed[key] for key in expected} == expected
    _check_export(output)


def test_every_accelerate_config_parses_and_names_its_engine():
    engines = {}
    for path in sorted(CONFIGS.glob("*.yaml")):
        config = yaml.safe_load(path.read_text())
        engines[path.stem] = config["distributed_type"]
    assert engines == {"ddp": "MULTI_GPU", "deepspeed_zero3": "DEEPSPEED", "fsdp": "FSDP"}
    assert yaml.safe_load((CONFIGS / "fsdp.yaml").read_text())["fsdp_config"]["fsdp_version"] == 2
    assert (
        yaml.safe_load((CONFIGS / "deepspeed_zero3.yaml").read_text())["deepspeed_config"]["zero_stage"] == 3
    )


def _needs_gpus(package: str | None = None) -> None:
    import importlib.util

    if torch.cuda.device_count() < 2:
        pytest.skip("needs 2 GPUs")
    if package and importlib.util.find_spec(package) is None:
        pytest.skip(f"needs the {package} package")


@pytest.mark.gpu
def test_fsdp_launch_on_gpus(tmp_path):
    _needs_gpus()
    output = _launch(
        tmp_path, "fsdp", ["--fsdp_transformer_layer_cls_to_wrap", "LlamaDecoderLayer"], gpu=True
    )
    distributed = json.loads((output / "run_config.json").read_text())["distributed"]
    assert distributed["fsdp"] is True and distributed["fsdp_version"] == 2
    _check_export(output)


@pytest.mark.gpu
def test_deepspeed_zero3_launch_on_gpus(tmp_path):
    _needs_gpus("deepspeed")
    output = _launch(tmp_path, "deepspeed_zero3", [], gpu=True)
    assert json.loads((output / "run_config.json").read_text())["distributed"]["deepspeed"] is True
    _check_export(output)
