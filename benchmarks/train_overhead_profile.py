"""Where PerCE's extra step time goes: the step split into its parts, measured in one process.

`train_overhead.py` compares CE and PerCE steps in separate processes. This script explains its ratio: in
one process, round after round (so the machine's load hits every part alike), it times

- the CE step and the PerCE step (`PerCETrainer.training_step` + AdamW, as train_overhead does),
- the persona-free no-grad pass alone (the E-step: `pair_logprobs(model, batch, "without")`),
- the with-persona forward alone, no grad, and the optimizer step alone,

and reports medians with the *measured floor* ``1 + t(E-step) / t(CE step)``: what PerCE must cost if
nothing but the extra pass is added. It also counts the floating-point operations of both steps and of the
E-step (`torch.utils.flop_counter`, independent of the machine's load): ``flop_floor`` is
``1 + FLOPs(E-step) / FLOPs(CE step)``, and the PerCE step's FLOPs over the CE step's must equal it (PerCE
adds the E-step and nothing else of weight). The gap between the PerCE/CE ratio and that floor is the overhead
of everything else (weights, statistics, bookkeeping); the gap between the measured floor and the
token-count floor ``1 + (400 / 1700) / 3`` is what the extra pass costs beyond its share of tokens
(its output head at 300 response positions, matmul efficiency at 400 rows, the fixed cost of a forward).

    python benchmarks/train_overhead_profile.py [--setting long] [--rounds 5] [--threads 1]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from train_overhead import LENGTHS, floor  # noqa: E402 (benchmarks/ is the working directory's sibling)


def count_flops(trainers: dict, model, batch: dict, count) -> dict[str, int]:
    """FLOPs of a CE and a PerCE step (forward and backward) and of the persona-free no-grad pass."""
    from torch.utils.flop_counter import FlopCounterMode

    from percontrast.modeling.response_forward import pair_logprobs

    flops = {}
    for loss, trainer in trainers.items():
        with FlopCounterMode(display=False) as counter:
            trainer.compute_loss(model, batch, num_items_in_batch=count).backward()
        flops[loss] = counter.get_total_flops()
        model.zero_grad(set_to_none=True)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        pair_logprobs(model, batch, "without")
    flops["e_step"] = counter.get_total_flops()
    return flops


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--setting", default="long", choices=sorted(LENGTHS))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from percontrast.modeling.load import load_model
    from percontrast.modeling.response_forward import pair_logprobs
    from percontrast.prompts.encoding import EncodedExample
    from percontrast.training.collator import PairedCollator
    from percontrast.training.config import PerCEConfig
    from percontrast.training.trainer import PerCETrainer

    model, tokenizer = load_model("smollm2-135m-instruct")
    model.train()
    with_prompt, without_prompt, response = LENGTHS[args.setting]
    generator = torch.Generator().manual_seed(0)

    def ids(n: int) -> list[int]:
        return torch.randint(100, 40000, (n,), generator=generator).tolist()

    example = EncodedExample("bench", ids(with_prompt), ids(without_prompt), ids(response), [], "", "")
    batch = PairedCollator(pad_id=tokenizer.pad_token_id)([example])
    count = batch["response_mask"].sum()
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.0)  # lr 0: every round sees the same weights
    trainers = {}
    for loss in ("ce", "perce"):
        config = PerCEConfig(
            output_dir="/tmp/percontrast-bench", loss=loss, report_to="none", use_cpu=True, disable_tqdm=True
        )
        trainers[loss] = PerCETrainer(model=model, args=config, processing_class=tokenizer)
        trainers[loss].optimizer = optimizer

    def step(loss: str) -> None:
        trainers[loss].training_step(model, batch, num_items_in_batch=count)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    def forward(side: str) -> None:
        with torch.no_grad():
            pair_logprobs(model, batch, side)

    def optimizer_only() -> None:
        for parameter in model.parameters():
            parameter.grad = torch.zeros_like(parameter)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    parts = {
        "CE step": lambda: step("ce"),
        "PerCE step": lambda: step("perce"),
        "E-step (persona-free, no grad)": lambda: forward("without"),
        "with-persona forward (no grad)": lambda: forward("with"),
        "optimizer step (AdamW)": optimizer_only,
    }
    for run in parts.values():  # warm-up (the first forward also checks the output head, once)
        run()
    flops = count_flops(trainers, model, batch, count)
    print(
        f"FLOPs: CE step {flops['ce'] / 1e9:.1f} G, PerCE step {flops['perce'] / 1e9:.1f} G "
        f"(ratio {flops['perce'] / flops['ce']:.4f}), E-step {flops['e_step'] / 1e9:.1f} G: "
        f"flop_floor={1 + flops['e_step'] / flops['ce']:.4f}",
        flush=True,
    )
    times: dict[str, list[float]] = {name: [] for name in parts}
    ratios, floors = [], []
    for round_index in range(args.rounds):
        names = list(parts) if round_index % 2 == 0 else list(reversed(parts))
        for name in names:
            started = time.perf_counter()
            parts[name]()
            times[name].append(time.perf_counter() - started)
        ratios.append(times["PerCE step"][-1] / times["CE step"][-1])
        floors.append(1 + times["E-step (persona-free, no grad)"][-1] / times["CE step"][-1])
        print(
            f"round {round_index + 1}: PerCE/CE {ratios[-1]:.3f}, measured floor {floors[-1]:.3f}", flush=True
        )
    print(
        f"setting {args.setting} {LENGTHS[args.setting]}, threads {args.threads}, {args.rounds} rounds (medians):"
    )
    for name, values in times.items():
        print(f"  {name:32s} {statistics.median(values):7.3f} s")
    ce = statistics.median(times["CE step"])
    print(
        f"  forward share of the CE step: {statistics.median(times['with-persona forward (no grad)']) / ce:.3f}"
        f" (token-count floor assumes 1/3 of the step without optimizer)"
    )
    print(
        f"time_ratio={statistics.median(ratios):.3f} measured_floor={statistics.median(floors):.3f} "
        f"token_floor={floor(LENGTHS[args.setting]):.3f}"
    )


if __name__ == "__main__":
    main()
