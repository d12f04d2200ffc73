"""Step time and peak memory of a PerCE training step against a CE step (ARCHITECTURE.md targets).

PerCE adds one no-grad forward over the persona-free sequence to the CE step. At LongLaMP-like
lengths (persona 1300 tokens, persona-free prompt 100, response 300) the floor of the time ratio is
about 1 + (400 / 1600) / 3 = 1.08 (a forward is ~1/3 of forward + backward); targets: time ratio
<= 1.10, peak memory ratio <= 1.02, with gradient checkpointing off and on (``--checkpointing off,on``;
with checkpointing the grad step recomputes its forward, so the floor is lower: 1 + (400/1600)/4).

Each measurement is a separate process (one loss, one length setting) that loads
smollm2-135m-instruct, runs warm-up and measured steps of `PerCETrainer.training_step` (forward,
backward) plus an AdamW step at batch 1, and reports the median step time and its peak resident
memory (max RSS). CE and PerCE processes alternate, round after round; the report gives medians over
rounds. The last line is ``time_ratio=<x> memory_ratio=<y>`` for the long lengths.

    python benchmarks/train_overhead.py                    # 2 rounds, 1 + 3 steps per process (~8 min on 2 CPU cores)
    python benchmarks/train_overhead.py --rounds 3 --warmup 3 --steps 5
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

LENGTHS = {  # (prompt with persona, prompt without persona, response) in tokens
    "short": (300, 100, 100),
    "long": (1400, 100, 300),  # persona 1300 + persona-free prompt 100, response 300
}


def floor(lengths: tuple[int, int, int]) -> float:
    """1 + (tokens of the no-grad pass / tokens of the grad pass) / 3."""
    with_prompt, without_prompt, response = lengths
    return 1 + (without_prompt + response) / (with_prompt + response) / 3


def worker(
    loss: str, setting: str, warmup: int, steps: int, threads: int, checkpointing: bool = False
) -> dict:
    import torch

    torch.set_num_threads(threads)
    from percontrast.modeling.load import load_model
    from percontrast.prompts.encoding import EncodedExample
    from percontrast.training.collator import PairedCollator
    from percontrast.training.config import PerCEConfig
    from percontrast.training.trainer import PerCETrainer

    model, tokenizer = load_model("smollm2-135m-instruct")
    if checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    model.train()
    with_prompt, without_prompt, response = LENGTHS[setting]
    generator = torch.Generator().manual_seed(0)

    def ids(n: int) -> list[int]:
        return torch.randint(100, 40000, (n,), generator=generator).tolist()

    example = EncodedExample("bench", ids(with_prompt), ids(without_prompt), ids(response), [], "", "")
    batch = PairedCollator(pad_id=tokenizer.pad_token_id)([example])
    config = PerCEConfig(
        output_dir="/tmp/percontrast-bench", loss=loss, report_to="none", use_cpu=True, disable_tqdm=True
    )
    trainer = PerCETrainer(model=model, args=config, processing_class=tokenizer)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5)
    trainer.optimizer = optimizer
    count = batch["response_mask"].sum()
    times = []
    for step in range(warmup + steps):
        started = time.perf_counter()
        trainer.training_step(model, batch, num_items_in_batch=count)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if step >= warmup:
            times.append(time.perf_counter() - started)
    max_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kB
    return {
        "loss": loss,
        "setting": setting,
        "checkpointing": checkpointing,
        "step_s": statistics.median(times),
        "max_rss_mb": max_rss_mb,
    }


def measure(loss: str, setting: str, args: argparse.Namespace, checkpointing: bool) -> dict:
    command = [
        sys.executable,
        __file__,
        "--worker",
        loss,
        setting,
        "--warmup",
        str(args.warmup),
        "--steps",
        str(args.steps),
        "--threads",
        str(args.threads),
        *(["--worker-checkpointing"] if checkpointing else []),
    ]
    result = subprocess.run(
        command, capture_output=True, text=True, env=dict(os.environ, TOKENIZERS_PARALLELISM="false")
    )
    if result.returncode != 0:
        raise RuntimeError(f"worker {loss} {setting} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=2, help="CE/PerCE process pairs per length setting")
    parser.add_argument("--warmup", type=int, default=1, help="unmeasured steps per process")
    parser.add_argument("--steps", type=int, default=3, help="measured steps per process (median taken)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per process")
    parser.add_argument(
        "--settings", default="short,long", help="which length settings, of " + ", ".join(LENGTHS)
    )
    parser.add_argument(
        "--checkpointing", default="off,on", help="gradient checkpointing off, on, or both (default: off,on)"
    )
    parser.add_argument("--worker", nargs=2, metavar=("LOSS", "SETTING"), help=argparse.SUPPRESS)
    parser.add_argument("--worker-checkpointing", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(
            json.dumps(worker(*args.worker, args.warmup, args.steps, args.threads, args.worker_checkpointing))
        )
        return
    ratios = {}
    runs = [(setting, mode) for mode in args.checkpointing.split(",") for setting in args.settings.split(",")]
    for setting, mode in runs:
        checkpointing = mode == "on"
        results: dict[str, list[dict]] = {"ce": [], "perce": []}
        for round_index in range(args.rounds):
            order = ("ce", "perce") if round_index % 2 == 0 else ("perce", "ce")  # alternate who goes first
            for loss in order:
                results[loss].append(measure(loss, setting, args, checkpointing))
                print(
                    f"  {setting:5s} ckpt {mode:3s} round {round_index + 1} {loss:5s}: {results[loss][-1]['step_s']:.3f} s/step, max RSS {results[loss][-1]['max_rss_mb']:.0f} MB",
                    flush=True,
                )
        time_ce = statistics.median(r["step_s"] for r in results["ce"])
        time_perce = statistics.median(r["step_s"] for r in results["perce"])
        memory_ce = statistics.median(r["max_rss_mb"] for r in results["ce"])
        memory_perce = statistics.median(r["max_rss_mb"] for r in results["perce"])
        ratios[(setting, mode)] = (time_perce / time_ce, memory_perce / memory_ce)
        lengths = LENGTHS[setting]
        print(
            f"{setting}, checkpointing {mode}: prompt with persona {lengths[0]}, without {lengths[1]}, response {lengths[2]} tokens | "
            f"CE {time_ce:.3f} s, PerCE {time_perce:.3f} s, time ratio {ratios[(setting, mode)][0]:.3f} (floor {floor(lengths):.3f}, target 1.10) | "
            f"max RSS CE {memory_ce:.0f} MB, PerCE {memory_perce:.0f} MB, memory ratio {ratios[(setting, mode)][1]:.3f} (target 1.02)",
            flush=True,
        )
    for (setting, mode), (time_ratio, memory_ratio) in ratios.items():
        if setting == "long":
            print(f"checkpointing={mode} time_ratio={time_ratio:.3f} memory_ratio={memory_ratio:.3f}")


if __name__ == "__main__":
    main()
