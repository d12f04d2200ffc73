"""Shared by the training tests (test_training, test_ddp, test_fsdp, test_accelerate_launch) and the
torchrun workers (ddp_worker.py, fsdp_worker.py)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import torch
from transformers import TrainerCallback

from percontrast.data.schema import Example

SRC = Path(__file__).resolve().parents[1] / "src"


def multiprocess_env() -> dict[str, str]:
    """The environment of a launched process group: this checkout's source first, one thread each."""
    return dict(
        os.environ,
        OMP_NUM_THREADS="1",
        PYTHONPATH=os.pathsep.join(filter(None, [str(SRC), os.environ.get("PYTHONPATH")])),
    )


def free_port() -> int:
    """A free loopback port (torchrun's port 0 hangs the static rendezvous)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def torchrun(worker: Path, out: Path, timeout: int) -> None:
    """Run ``worker OUT`` under torchrun with 2 processes on loopback; fail with its output otherwise."""
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr"]
    command += ["127.0.0.1", "--master_port", str(free_port()), str(worker), str(out)]
    result = subprocess.run(command, env=multiprocess_env(), capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"torchrun failed:\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}"


LOSS_KINDS = ("ce", "perce", "lossce", "entce")
NORMALIZATIONS = ("tokens", "weights", "responses")
# Per-kind options of the normalisation tests (the paper's m and M for perce; one baseline in each
# weight mode, so both modes are covered).
KIND_OPTIONS = {
    "ce": {},
    "perce": {"clip_min": 0.8, "clip_max": 5.0},
    "lossce": {"weight_mode": "hard"},
    "entce": {"weight_mode": "soft"},
}

_PERSONA = [
    "I like to sew.",
    "My favorite color is red.",
    "I work in the emergency room.",
    "I love to read books and bake bread.",
    "I travel often.",
]
_RESPONSES = [
    "I sew.",
    "I usually stitch clothes in red, or crafts for my parents.",
    "I work in the emergency room, so weekends are short.",
    "I love to bake bread and walk my dogs in the mountains with friends on a free afternoon.",
    "Red.",
    "I travel often with my iphone and my headsets.",
    "I read books.",
    "I play guitar and go hiking with friends.",
]


def make_examples(n: int = 8) -> list[Example]:
    """Examples of different persona and response lengths (so token counts differ by example)."""
    return [
        Example(
            id=f"ex{i}",
            persona=_PERSONA[: 1 + i % len(_PERSONA)],
            query="What do you do on weekends?" if i % 2 else "Tell me about your free afternoons.",
            response=_RESPONSES[i % len(_RESPONSES)],
        )
        for i in range(n)
    ]


def make_config(output_dir, **overrides):
    from percontrast.training.config import PerCEConfig

    values = dict(
        output_dir=str(output_dir),
        model="tiny",
        learning_rate=1e-3,
        per_device_train_batch_size=2,
        max_steps=1,
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        disable_tqdm=True,
        probe_steps=0,
        seed=0,
        max_grad_norm=0.0,
        use_cpu=True,
        dataloader_pin_memory=False,
    )
    values.update(overrides)
    return PerCEConfig(**values)


class GradientCapture(TrainerCallback):
    """Copies every parameter's gradient just before the first optimizer step."""

    def __init__(self) -> None:
        self.gradients: dict[str, torch.Tensor] | None = None

    def on_pre_optimizer_step(self, args, state, control, model=None, **kwargs):
        if self.gradients is None:
            self.gradients = {
                _plain_name(name): _full(parameter.grad.detach()).clone()
                for name, parameter in model.named_parameters()
                if parameter.grad is not None
            }


def _full(tensor: torch.Tensor) -> torch.Tensor:
    """The whole tensor behind an FSDP2 shard (a DTensor); plain tensors as they are."""
    return tensor.full_tensor() if hasattr(tensor, "full_tensor") else tensor


def _plain_name(name: str) -> str:
    """Parameter names without the prefixes sharding wrappers add."""
    for prefix in ("_fsdp_wrapped_module.", "_checkpoint_wrapped_module."):
        name = name.replace(prefix, "")
    return name


def sharpened_tiny():
    """The tiny model with its output layer scaled up, so its predictions (and hence PIR, the token
    losses and the entropies) differ strongly between tokens: the weights of every loss kind vary."""
    from percontrast.modeling.load import load_model

    model, tokenizer = load_model("tiny", seed=0)
    with torch.no_grad():
        model.lm_head.weight.mul_(40.0)
    return model, tokenizer


def step_gradients(output_dir, examples, **overrides) -> dict[str, torch.Tensor]:
    """Gradients of the first optimizer step of a run on a freshly loaded tiny model."""
    from percontrast.training.trainer import train

    model, tokenizer = sharpened_tiny()
    capture = GradientCapture()
    train(
        make_config(output_dir, **overrides),
        model=model,
        tokenizer=tokenizer,
        examples=examples,
        callbacks=[capture],
    )
    assert capture.gradients, "no gradient was captured"
    return capture.gradients
