"""Step time and peak memory of a PerCE training step against a CE step (ARCHITECTURE.md targets).

PerCE adds one no-grad forward over the persona-free sequence to the CE step. At LongLaMP-like
lengths (persona 1300 tokens, persona-free prompt 100, response 300) the floor of the time ratio is
about 1 + (400 / 1600) / 3 = 1.08 (a forward is ~1/3 of forward + backward); targets: time ratio
<= 1.10, peak memory ratio <= 1.02, with gradient checkpointing off and on (``--checkpointing off,on``;
with checkpointing the grad step recomputes its forward, so the floor is lower: 1 + (400/1600)/4).

``--losses ce,perce,perce_frozen`` adds PerCE with frozen weights (``pir_source='frozen'``: the PIR
travels in the batch, no persona-free forward, so its floor is 1.00), and ``--settings spc --batch 8``
times the SPC grid's step (configs/cpu/smollm2_spc_paper_size.yaml: batch 8, mean prompt 128 tokens with
the persona and 88 without, reply 12 tokens), whose cells' own training times were taken on a shared
machine. Every loss is compared with CE.

Each measurement is a separate process (one loss, one length setting) that loads
smollm2-135m-instruct, runs warm-up and measured steps of `PerCETrainer.training_step` (forward,
backward) plus an AdamW step at batch 1, and reports the median step time and its peak resident
memory (max RSS). CE and PerCE processes alternate, round after round; the report gives medians over
rounds. The last line is ``time_ratio=<x> memory_ratio=<y>`` for the long lengths.

    python benchmarks/train_overhead.py                    # 2 rounds, 1 + 3 steps per process (~8 min on 2 CPU cores)
    python benchmarks/train_overhead.py --rounds 3 --warmup 3 --steps 5
    python benchmarks/train_overhead.py --settings spc --batch 8 --threads 2 --checkpointing off \
        --losses ce,perce,perce_frozen --rounds 3 --warmup 2 --steps 5
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
    # The SPC grid's mean lengths (its report's Table 6: 128.4 / 88.4; 5,864 reply tokens / 500 replies).
    "spc": (128, 88, 12),
}
LOSSES = ("ce", "perce", "perce_frozen")


def floor(lengths: tuple[int, int, int]) -> float:
    """1 + (tokens of the no-grad pass / tokens of the grad pass) / 3."""
    with_prompt, without_prompt, response = lengths
    return 1 + (without_prompt + response) / (with_prompt + response) / 3


def worker(
    loss: str,
    setting: str,
    warmup: int,
    steps: int,
    threads: int,
    checkpointing: bool = False,
    batch_size: int = 1,
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

    examples = [
        EncodedExample(f"bench{i}", ids(with_prompt), ids(without_prompt), ids(response), [], "", "")
        for i in range(batch_size)
    ]
    batch = PairedCollator(pad_id=tokenizer.pad_token_id)(examples)
    frozen = loss == "perce_frozen"
    if frozen:  # what FrozenPIRCollator adds: a PIR per response token, scored once before training
        batch["frozen_pir"] = torch.empty(batch["response_mask"].shape).uniform_(-1, 3, generator=generator)
    config = PerCEConfig(
        output_dir="/tmp/percontrast-bench",
        loss="perce" if frozen else loss,
        pir_source="frozen" if frozen else "online",
        report_to="none",
        use_cpu=True,
        disable_tqdm=True,
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
        "batch_size": batch_size,
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
        "--batch",
        str(args.batch),
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
    parser.add_argument(
        "--rounds", type=int, default=2, help="rounds of one process per loss, per length setting"
    )
    parser.add_argument("--warmup", type=int, default=1, help="unmeasured steps per process")
    parser.add_argument("--steps", type=int, default=3, help="measured steps per process (median taken)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per process")
    parser.add_argument("--batch", type=int, default=1, help="examples per step")
    parser.add_argument(
        "--losses", default="ce,perce", help="losses to time, CE first, of " + ", ".join(LOSSES)
    )
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
            json.dumps(
                worker(
                    *args.worker,
                    args.warmup,
                    args.steps,
                    args.threads,
                    args.worker_checkpointing,
                    args.batch,
                )
            )
        )
        return
    losses = args.losses.split(",")
    if losses[0] != "ce" or not set(losses) <= set(LOSSES) or len(set(losses)) != len(losses):
        parser.error(
            f"--losses: CE first, then any of {', '.join(LOSSES[1:])}, each once; got {args.losses!r}"
        )
    unknown = set(args.settings.split(",")) - set(LENGTHS)
    if unknown:
        parser.error(
            f"--settings: unknown {', '.join(sorted(unknown))}; expected any of {', '.join(LENGTHS)}"
        )
    ratios = {}
    runs = [(setting, mode) for mode in args.checkpointing.split(",") for setting in args.settings.split(",")]
    for setting, mode in runs:
        checkpointing = mode == "on"
        results: dict[str, list[dict]] = {loss: [] for loss in losses}
        for round_index in range(args.rounds):
            # Rotate who goes first each round, so no loss always runs on a cold or warm machine.
            shift = round_index % len(losses)
            for loss in losses[shift:] + losses[:shift]:
                results[loss].append(measure(loss, setting, args, checkpointing))
                print(
                    f"  {setting:5s} ckpt {mode:3s} round {round_index + 1} {loss:12s}: {results[loss][-1]['step_s']:.3f} s/step, max RSS {results[loss][-1]['max_rss_mb']:.0f} MB",
                    flush=True,
                )
        times = {loss: statistics.median(r["step_s"] for r in results[loss]) for loss in losses}
        memory = {loss: statistics.median(r["max_rss_mb"] for r in results[loss]) for loss in losses}
        lengths = LENGTHS[setting]
        parts = []
        for loss in losses[1:]:
            ratios[(setting, mode, loss)] = (times[loss] / times["ce"], memory[loss] / memory["ce"])
            parts.append(
                f"{loss} {times[loss]:.3f} s, time ratio {ratios[(setting, mode, loss)][0]:.3f}, "
                f"memory ratio {ratios[(setting, mode, loss)][1]:.3f}"
            )
        print(
            f"{setting}, checkpointing {mode}, batch {args.batch}: prompt with persona {lengths[0]}, without "
            f"{lengths[1]}, response {lengths[2]} tokens | CE {times['ce']:.3f} s, max RSS {memory['ce']:.0f} MB | "
            + " | ".join(parts)
            + f" (PerCE floor {floor(lengths):.3f}; targets: time 1.10, memory 1.02)",
            flush=True,
        )
    # One line per ratio; the ARCHITECTURE.md target's (long lengths, PerCE) last, in its own format.
    target = {key: value for key, value in ratios.items() if key[0] == "long" and key[2] == "perce"}
    for (setting, mode, loss), (time_ratio, memory_ratio) in ratios.items():
        if (setting, mode, loss) not in target:
            print(
                f"{setting} checkpointing={mode} {loss}/ce time_ratio={time_ratio:.3f} memory_ratio={memory_ratio:.3f}"
            )
    for (_, mode, _), (time_ratio, memory_ratio) in target.items():
        print(f"checkpointing={mode} time_ratio={time_ratio:.3f} memory_ratio={memory_ratio:.3f}")


if __name__ == "__main__":
    main()
