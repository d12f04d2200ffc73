"""Invariant 5 across processes: 2 DDP processes (gloo on CPU, launched with torchrun) give the same
gradients of one optimizer step as 1 process, for every loss kind and all three normalisations.

One torchrun launch runs all twelve cases (4 loss kinds x 3 normalisations) and the frozen-PIR ablation (each
launch costs seconds of start-up)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from test_training import assert_same_gradients
from training_helpers import KIND_OPTIONS, LOSS_KINDS, NORMALIZATIONS, make_examples, step_gradients, torchrun

WORKER = Path(__file__).parent / "ddp_worker.py"


@pytest.fixture(scope="module")
def ddp_gradients(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ddp")
    torchrun(WORKER, out, timeout=180)
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


def test_frozen_pir_two_processes_equal_one(tmp_path, ddp_gradients):
    """``pir_source='frozen'`` over 8 examples, one step: each process reads its own shard of the train
    dataloader ahead and scores only the 2 examples it draws; the step equals one process drawing the same
    4 with batch 4."""
    torch.set_num_threads(1)
    one_process = step_gradients(
        tmp_path,
        make_examples(8),
        loss="perce",
        pir_source="frozen",
        per_device_train_batch_size=4,
        **KIND_OPTIONS["perce"],
    )
    rank0, rank1 = (torch.load(ddp_gradients / f"frozen-rank{rank}.pt") for rank in (0, 1))
    for name in rank0:
        assert torch.equal(rank0[name], rank1[name]), name
    assert_same_gradients(one_process, rank0)
