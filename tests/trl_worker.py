"""Run by tests/test_trl.py under `accelerate launch --num_processes 2` (CPU, gloo): one optimizer step of
`PerCESFTTrainer` per case, each rank saving the step's loss and gradients to OUT/<case>-rank<r>.pt.

Each process takes batch 1 with 2 accumulation steps, so the step sees the 4 rows across the 2 processes,
as one process with batch 4 does (`test_trl.DDP_CASES` lists the cases).
"""

from __future__ import annotations

import gc
import os
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from test_trl import DDP_CASES, perce_sft_step, standard_rows  # noqa: E402
from training_helpers import make_examples  # noqa: E402


def main(out: Path) -> None:
    torch.set_num_threads(1)
    rank = int(os.environ["RANK"])
    for case, options in DDP_CASES.items():
        trainer, loss, gradients = perce_sft_step(
            out / "runs" / case,
            standard_rows(make_examples(4)),
            per_device_train_batch_size=1,
            gradient_accumulation_steps=2,
            ddp_backend="gloo",
            **options,
        )
        assert trainer.accelerator.num_processes == 2, "not launched as 2 processes"
        torch.save({"loss": loss, "gradients": gradients}, out / f"{case}-rank{rank}.pt")
    # Free the trainer (its DDP model and dataloaders) while the gloo group exists, then leave the group
    # in step: left alive to interpreter teardown, a rank was aborted there by torch 2.11 ("terminate called
    # without an active exception", SIGABRT); destroyed while the trainer was still referenced, the trainer's
    # teardown could hang.
    del trainer
    gc.collect()
    torch.distributed.barrier()
    torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
