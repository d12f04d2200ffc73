"""Run by tests/test_ddp.py under `torchrun --nproc_per_node 2`: one optimizer step per loss kind and
normalisation with DDP (gloo, CPU), each rank saving the step's gradients to OUT/<kind>-<norm>-rank<r>.pt.

Each process takes batch 1 with 2 accumulation steps, so the step sees the 4 examples across the 2
processes, as one process with batch 4 does.
"""

from __future__ import annotations

import gc
import os
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from training_helpers import KIND_OPTIONS, LOSS_KINDS, NORMALIZATIONS, make_examples, step_gradients  # noqa: E402


def main(out: Path) -> None:
    torch.set_num_threads(1)
    rank = int(os.environ["RANK"])
    for kind in LOSS_KINDS:
        for normalization in NORMALIZATIONS:
            gradients = step_gradients(
                out / "runs" / f"{kind}-{normalization}",
                make_examples(4),
                loss=kind,
                normalization=normalization,
                per_device_train_batch_size=1,
                gradient_accumulation_steps=2,
                ddp_backend="gloo",
                **KIND_OPTIONS[kind],
            )
            torch.save(gradients, out / f"{kind}-{normalization}-rank{rank}.pt")
    # The frozen-PIR ablation over 8 examples: each process reads its shard ahead and scores the 2 it draws.
    gradients = step_gradients(
        out / "runs" / "frozen",
        make_examples(8),
        loss="perce",
        pir_source="frozen",
        per_device_train_batch_size=1,
        gradient_accumulation_steps=2,
        ddp_backend="gloo",
        **KIND_OPTIONS["perce"],
    )
    torch.save(gradients, out / f"frozen-rank{rank}.pt")
    gc.collect()  # the trainers go first, then every rank leaves the gloo group (see tests/trl_worker.py)
    torch.distributed.barrier()
    torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
