"""Run by tests/test_fsdp.py under `torchrun --nproc_per_node 2`: one PerCE/CE step on a model sharded with
FSDP2 (`fully_shard`, gloo on CPU), each rank saving the loss and the full (gathered) gradients.

The model is sharded as accelerate's FSDP2 preparation does it: every decoder layer is a unit, the root
(embeddings, final norm, output head) another. accelerate only turns FSDP on over GPUs (on CPU its state
becomes MULTI_CPU, i.e. DDP), so the Trainer cannot run FSDP here; this worker runs the same loss code
the trainer runs (`response_logprobs` with grad, the no-grad PIR pass, `token_weights`, `weighted_ce`
normalised by the global count of response tokens) on the sharded model. Each rank takes 2 of the 4
examples.
"""

from __future__ import annotations

import gc
import sys
from pathlib import Path

import torch
import torch.distributed as dist

sys.path.insert(0, str(Path(__file__).parent))
from training_helpers import make_examples, sharpened_tiny  # noqa: E402

CASES = {  # name -> (loss kind, gradient checkpointing)
    "ce": ("ce", False),
    "perce": ("perce", False),
    "perce-checkpointing": ("perce", True),
}


def step(model, tokenizer, examples, kind: str, world: int) -> tuple[float, dict[str, torch.Tensor]]:
    """Loss and gradients of one step on ``examples``: the sum over ranks of the local weighted NLL divided by
    the global token count, as PerCETrainer's `tokens` normalisation computes it."""
    from percontrast.modeling.response_forward import enable_response_forward, pair_logprobs
    from percontrast.prompts.encoding import encode_example, pad_pairs
    from percontrast.training.losses import token_weights, weighted_ce

    encoded = [encode_example(example, tokenizer, add_eos=True) for example in examples]
    batch = pad_pairs(encoded, tokenizer.pad_token_id)
    mask = batch["response_mask"]

    enable_response_forward(model)
    logp_with = pair_logprobs(model, batch, "with")[0]
    logp_without = None
    if kind == "perce":
        with torch.no_grad():
            logp_without = pair_logprobs(model, batch, "without")[0]
    weights, _ = token_weights(
        kind, logp_with=logp_with.detach(), logp_without=logp_without, response_mask=mask
    )
    tokens = mask.sum().to(torch.float64)
    if world > 1:
        dist.all_reduce(tokens)
    loss = weighted_ce(logp_with, weights, mask, normalizer=float(tokens))
    # FSDP averages gradients over ranks; the loss is a sum over ranks, so scale by the world size.
    (loss * world).backward()
    reported = loss.detach().clone()
    if world > 1:
        dist.all_reduce(reported)
    gradients = {
        name: (p.grad.full_tensor() if hasattr(p.grad, "full_tensor") else p.grad).detach().clone()
        for name, p in model.named_parameters()
        if p.grad is not None
    }
    return float(reported), gradients


def shard(model) -> None:
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import fully_shard

    mesh = init_device_mesh("cpu", (dist.get_world_size(),))
    for layer in model.model.layers:
        fully_shard(layer, mesh=mesh, reshard_after_forward=True)
    fully_shard(model, mesh=mesh, reshard_after_forward=True)


def main(out: Path) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    examples = make_examples(4)[rank * 2 : rank * 2 + 2]
    for name, (kind, checkpointing) in CASES.items():
        model, tokenizer = sharpened_tiny()
        model.train()
        if checkpointing:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        shard(model)
        loss, gradients = step(model, tokenizer, examples, kind, world)
        torch.save({"loss": loss, "gradients": gradients}, out / f"{name}-rank{rank}.pt")
    del model  # freed while the group exists, then every rank leaves it together (see tests/trl_worker.py)
    gc.collect()
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
