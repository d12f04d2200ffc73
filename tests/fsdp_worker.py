"""Run by tests/test_fsdp.py under `torchrun --nproc_per_node 2`: one optimizer step with FSDP2 (gloo, CPU)
for each case, each rank saving the step's full (gathered) gradients to OUT/<case>-rank<r>.pt.

Each process takes batch 1 with 2 accumulation steps, so the step sees the 4 examples across the 2
processes, as one process with batch 4 does.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from training_helpers import make_examples, step_gradients  # noqa: E402

CASES = {  # name -> PerCEConfig overrides
    "ce-tokens": dict(loss="ce", normalization="tokens"),
    "perce-tokens": dict(loss="perce", normalization="tokens"),
    "perce-weights": dict(loss="perce", normalization="weights"),
    "perce-tokens-checkpointing": dict(loss="perce", normalization="tokens", gradient_checkpointing=True),
}
FSDP = dict(
    fsdp=True,
    fsdp_config={"version": 2, "transformer_layer_cls_to_wrap": ["LlamaDecoderLayer"], "reshard_after_forward": True},
)


def main(out: Path) -> None:
    torch.set_num_threads(1)
    rank = int(os.environ["RANK"])
    for name, overrides in CASES.items():
        gradients = step_gradients(
            out / "runs" / name,
            make_examples(4),
            per_device_train_batch_size=1,
            gradient_accumulation_steps=2,
            ddp_backend="gloo",
            **FSDP,
            **overrides,
        )
        torch.save(gradients, out / f"{name}-rank{rank}.pt")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
