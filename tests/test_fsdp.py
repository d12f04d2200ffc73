"""Sharded training: 2 FSDP2 processes (`fully_shard`, gloo on CPU, launched with torchrun) give the same loss
and the same gradients of one step as 1 process, for CE and PerCE, with and without gradient checkpointing.

The response log-probs are computed inside the model's forward call (`percontrast.modeling.response_forward`), so FSDP
unshards the output embedding for them and reduce-scatters its gradient. See tests/fsdp_worker.py for why
the worker shards the model itself (accelerate enables FSDP only over GPUs)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from fsdp_worker import CASES, step
from test_training import assert_same_gradients
from training_helpers import make_examples, sharpened_tiny, torchrun

WORKER = Path(__file__).parent / "fsdp_worker.py"


@pytest.fixture(scope="module")
def fsdp_results(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("fsdp")
    torchrun(WORKER, out, timeout=300)
    return out


@pytest.mark.parametrize("case", list(CASES))
def test_two_fsdp_processes_equal_one(fsdp_results, case):
    torch.set_num_threads(1)
    kind, checkpointing = CASES[case]
    model, tokenizer = sharpened_tiny()
    model.train()
    if checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    loss, one_process = step(model, tokenizer, make_examples(4), kind, world=1)
    rank0 = torch.load(fsdp_results / f"{case}-rank0.pt")
    rank1 = torch.load(fsdp_results / f"{case}-rank1.pt")
    assert rank0["loss"] == pytest.approx(loss, rel=1e-5) and rank1["loss"] == pytest.approx(loss, rel=1e-5)
    assert set(rank0["gradients"]) == set(one_process)
    for name in one_process:
        assert torch.equal(rank0["gradients"][name], rank1["gradients"][name]), name
    assert_same_gradients(one_process, rank0["gradients"])
