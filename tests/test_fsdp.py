"""Sharded training: 2 FSDP2 processes (gloo on CPU, launched with torchrun, as accelerate applies
``fully_shard`` through the Trainer) give the same gradients of one optimizer step as 1 process, for CE and
PerCE, both paper normalisations, with and without gradient checkpointing.

The response log-probs are computed inside the model's forward call (`percontrast.logprobs`), so FSDP
unshards the output embedding for them and reduce-scatters its gradient."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from fsdp_worker import CASES
from test_training import assert_same_gradients
from training_helpers import make_examples, step_gradients

WORKER = Path(__file__).parent / "fsdp_worker.py"


@pytest.fixture(scope="module")
def fsdp_gradients(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("fsdp")
    env = dict(
        os.environ,
        OMP_NUM_THREADS="1",
        PYTHONPATH=os.pathsep.join(
            filter(None, [str(Path(__file__).parents[1] / "src"), os.environ.get("PYTHONPATH")])
        ),
    )
    with socket.socket() as probe:  # a free loopback port
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2"]
    command += ["--master_addr", "127.0.0.1", "--master_port", str(port), str(WORKER), str(out)]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"torchrun failed:\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}"
    return out


@pytest.mark.parametrize("case", list(CASES))
def test_two_fsdp_processes_equal_one(tmp_path, fsdp_gradients, case):
    torch.set_num_threads(1)
    overrides = dict(CASES[case])
    one_process = step_gradients(tmp_path, make_examples(4), per_device_train_batch_size=4, **overrides)
    rank0 = torch.load(fsdp_gradients / f"{case}-rank0.pt")
    rank1 = torch.load(fsdp_gradients / f"{case}-rank1.pt")
    assert set(rank0) == set(one_process), sorted(set(rank0) ^ set(one_process))
    for name in rank0:  # the gathered gradient is the same on every rank
        assert torch.equal(rank0[name], rank1[name]), name
    assert_same_gradients(one_process, rank0)
