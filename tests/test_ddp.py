"""Invariant 5 across processes: 2 DDP processes (gloo on CPU, launched with torchrun) give the same
gradients of one optimizer step as 1 process, for every loss kind and all three normalisations.

One torchrun launch runs all eight cases (each launch costs seconds of start-up)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from test_training import assert_same_gradients
from training_helpers import KIND_OPTIONS, LOSS_KINDS, NORMALIZATIONS, make_examples, step_gradients

WORKER = Path(__file__).parent / "ddp_worker.py"


@pytest.fixture(scope="module")
def ddp_gradients(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ddp")
    env = dict(
        os.environ,
        OMP_NUM_THREADS="1",
        PYTHONPATH=os.pathsep.join(
            filter(None, [str(Path(__file__).parents[1] / "src"), os.environ.get("PYTHONPATH")])
        ),
    )
    with socket.socket() as probe:  # a free loopback port (torchrun's port 0 hangs the static rendezvous)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        "2",
        "--master_addr",
        "127.0.0.1",
        "--master_port",
        str(port),
        str(WORKER),
        str(out),
    ]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, f"torchrun failed:\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}"
    return out


@pytest.mark.parametrize("normalization", NORMALIZATIONS)
@pytest.mark.parametrize("kind", LOSS_KINDS)
def test_two_processes_equal_one(tmp_path, ddp_gradients, kind, normalization):
    torch.set_num_threads(1)
    one_process = step_gradients(
        tmp_path,
        make_examples(4),
        loss=kind,
        normalization=normalization,
        per_device_train_batch_size=4,
        **KIND_OPTIONS[kind],
    )
    rank0 = torch.load(ddp_gradients / f"{kind}-{normalization}-rank0.pt")
    rank1 = torch.load(ddp_gradients / f"{kind}-{normalization}-rank1.pt")
    for name in rank0:  # DDP leaves the same (all-reduced) gradient on every rank
        assert torch.equal(rank0[name], rank1[name]), name
    assert_same_gradients(one_process, rank0)
