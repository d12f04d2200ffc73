"""One short run that says whether percontrast works on one CUDA GPU, and how fast (docs/gpu.md).

Sections, each with a time budget (a section out of budget records what it skipped, it does not crash):

- ``correctness``: response log-probs and PIR of ``tiny`` and of a seeded random Qwen3 (both with their
  output layer scaled by 40, as the tests' ``sharpened_tiny``, so PIR is not ~0), on the device in float32
  against the CPU (max difference <= 1e-4); the PerCE loss and its gradients, device against CPU.
- ``bf16``: PIR under bf16 autocast and with bf16 weights against float32 on the device, reported
  (`bf16_pir_error.bf16_errors`); asserted only below a loose sanity bound (`BF16_SANITY_NATS`).
- ``steps``: a randomly initialised Qwen3-4B-like model (hidden 2560, 36 layers, vocabulary 151,936,
  bfloat16 weights, SDPA, gradient checkpointing), one `PerCETrainer.training_step` (forward + backward,
  batch 1, no optimizer) per loss at the prompt lengths of Table 6 and at the 5,000-token maximum:
  CE and PerCE step time, peak memory, their ratios and tokens/s.
- ``scoring``: `scoring.score_units` (both prompts of each example) against the decoder alone over the
  same padded batches (`score_throughput.bare_unit_forwards`).
- ``max_response``: the longest response a PerCE step fits (binary search; CUDA OOM is caught and memory
  freed between tries), up to the model's context.
- ``generation``: plain and persona-contrastive (a = 1) greedy decoding, new tokens/s and their ratio.

Needs only what a stock CUDA PyTorch image has (torch, transformers, accelerate, peft and their own
dependencies: tokenizers, safetensors, tqdm, numpy, pyyaml), with ``src`` on ``PYTHONPATH``; nothing is
downloaded. The repository's ``tests/training_helpers.py`` is imported through ``bf16_pir_error.py``.
Writes ``gpu_acceptance.json`` and ``gpu_acceptance.md`` to ``--out``, after every section (a run killed
midway leaves what it measured). Exit status: 0 when every
correctness check passed and no section raised; 1 when a correctness check failed; 2 when a section
raised an unexpected error (recorded in the JSON).

    PYTHONPATH=src python benchmarks/gpu_acceptance.py --out gpu-results    # one GPU, under 8 minutes
    PYTHONPATH=src python benchmarks/gpu_acceptance.py --device cpu --small --out /tmp/acc  # ~20 s
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bf16_pir_error import bf16_errors, pir  # noqa: E402
from gpu_acceptance_report import markdown  # noqa: E402
from gpu_acceptance_speed import (  # noqa: E402
    MAX_LENGTH,
    PAD_ID,
    QWEN3_4B,
    RESPONSE,
    SMALL_QWEN3,
    TABLE6,
    TABLE6_AVERAGE,
    Clock,
    enable_checkpointing,
    free_memory,
    generation_section,
    max_response_section,
    qwen3_model,
    random_example,
    scoring_section,
    step_settings,
    steps_section,
)

from percontrast.modeling.load import load_model, resolve_device  # noqa: E402
from percontrast.modeling.response_forward import enable_response_forward, pair_logprobs  # noqa: E402
from percontrast.prompts.encoding import pad_pairs  # noqa: E402
from percontrast.training.losses import token_weights, weighted_ce  # noqa: E402
from percontrast.utils.errors import ConfigError  # noqa: E402
from percontrast.utils.run_info import git_commit, package_versions  # noqa: E402

FLOAT32_TOLERANCE = 1e-4  # device vs CPU, float32: log-probs, PIR, loss; gradients relative to max |grad|
# bf16 keeps 8 significant bits: each log-prob (a logit minus a log-sum-exp of logits of size ~10-30) moves
# by up to a few hundredths of a nat, both sides of PIR add up (SmolLM2 on CPU: max 0.27, mean 0.05,
# benchmarks/bf16_pir_error.py). A broken kernel or a wrong cast moves PIR by its whole range (several nats).
BF16_SANITY_NATS = 1.0
SECTIONS = ("correctness", "bf16", "steps", "scoring", "max_response", "generation")
BUDGET_S = {
    "model": 60,
    "correctness": 60,
    "bf16": 30,
    "steps": 150,
    "scoring": 45,
    "max_response": 120,
    "generation": 60,
}


def sharpen(model):
    """Scale the output layer by 40 (as the tests' ``sharpened_tiny``), so log-probs and PIR vary."""
    with torch.no_grad():
        model.get_output_embeddings().weight.mul_(40.0)
    return model


def check(checks: list[dict], name: str, value: float, tolerance: float) -> None:
    checks.append({"check": name, "value": value, "tolerance": tolerance, "passed": bool(value <= tolerance)})


# ------------------------------------------------------------------------------------- correctness


def perce_loss_and_grads(model, batch: dict) -> tuple[float, dict[str, torch.Tensor]]:
    """The PerCE loss of `PerCETrainer.compute_loss` (one process, tokens normalisation) and its gradients."""
    enable_response_forward(model)
    model.zero_grad(set_to_none=True)
    logp_with, _ = pair_logprobs(model, batch, "with")
    with torch.no_grad():
        logp_without, _ = pair_logprobs(model, batch, "without")
    weights, _ = token_weights(
        "perce", logp_with=logp_with, logp_without=logp_without, response_mask=batch["response_mask"]
    )
    loss = weighted_ce(logp_with, weights, batch["response_mask"])
    loss.backward()
    grads = {
        name: p.grad.detach().float().cpu() for name, p in model.named_parameters() if p.grad is not None
    }
    model.zero_grad(set_to_none=True)
    return loss.item(), grads


def correctness(models: dict, device: torch.device, checks: list[dict]) -> dict:
    """Device float32 against CPU float32 for each model (built on the CPU, copied to the device)."""
    torch.backends.cuda.matmul.allow_tf32 = False  # float32 means float32 here
    torch.backends.cudnn.allow_tf32 = False
    result = {}
    for name, (model, vocab) in models.items():
        batch = pad_pairs(
            [random_example((40 + 23 * i, 9 + 4 * i, 25 + 11 * i), vocab, i) for i in range(4)], PAD_ID
        )
        on_device = {key: value.to(device) for key, value in batch.items()}
        model_device = device_copy(model, device)
        logp_cpu, pir_cpu = pir(model, batch, autocast=False)
        logp_dev, pir_dev = (t.cpu() for t in pir(model_device, on_device, autocast=False))
        mask = batch["response_mask"].bool()
        check(
            checks,
            f"{name}: log-prob, {device.type} vs cpu",
            float((logp_dev - logp_cpu)[mask].abs().max()),
            FLOAT32_TOLERANCE,
        )
        check(
            checks,
            f"{name}: PIR, {device.type} vs cpu",
            float((pir_dev - pir_cpu)[mask].abs().max()),
            FLOAT32_TOLERANCE,
        )
        loss_cpu, grads_cpu = perce_loss_and_grads(model, batch)
        loss_dev, grads_dev = perce_loss_and_grads(model_device, on_device)
        check(
            checks, f"{name}: PerCE loss, {device.type} vs cpu", abs(loss_dev - loss_cpu), FLOAT32_TOLERANCE
        )
        scale = max(1.0, max(float(g.abs().max()) for g in grads_cpu.values()))
        worst = max(float((grads_dev[key] - grads_cpu[key]).abs().max()) for key in grads_cpu)
        check(
            checks,
            f"{name}: PerCE gradients / max(1, max|grad|), {device.type} vs cpu",
            worst / scale,
            FLOAT32_TOLERANCE,
        )
        result[name] = {
            "pir_range": float(pir_cpu[mask].abs().max()),
            "loss": loss_cpu,
            "response_tokens": int(mask.sum()),
        }
        del model_device
        free_memory(device)
    return result


def device_copy(model, device: torch.device):
    """A copy of the CPU model on ``device`` (the CPU original stays the reference)."""
    return copy.deepcopy(model).to(device)


def bf16_section(models: dict, device: torch.device, checks: list[dict]) -> dict:
    result = {}
    for name, (model, vocab) in models.items():
        batch = pad_pairs(
            [random_example((40 + 23 * i, 9 + 4 * i, 25 + 11 * i), vocab, i) for i in range(4)], PAD_ID
        )
        model_device = device_copy(model, device)
        rows = bf16_errors(model_device, {k: v.to(device) for k, v in batch.items()}, device.type)
        for row in rows:
            check(
                checks,
                f"{name}: PIR, {row['mode']} vs float32 (sanity)",
                row["pir_error_max"],
                BF16_SANITY_NATS,
            )
        result[name] = rows
        del model_device
        free_memory(device)
    return result


# ------------------------------------------------------------------------------------------ running

FULL_PLAN = dict(
    model=QWEN3_4B,
    correctness_model={**SMALL_QWEN3, "vocab_size": 151_936},
    table6=TABLE6,
    table6_average=TABLE6_AVERAGE,
    response=RESPONSE,
    max_length=MAX_LENGTH,
    warmup=1,
    steps=3,
    repeats=2,
    scoring_examples=16,
    generation_batch=8,
    generation_prompts=TABLE6_AVERAGE,
    new_tokens=128,
    resolution=256,
)
SMALL_PLAN = dict(  # the same code on a tiny configuration, lengths / 10: the default test suite runs it
    FULL_PLAN,
    model=SMALL_QWEN3,
    correctness_model=SMALL_QWEN3,
    table6={task: (w // 10, wo // 10) for task, (w, wo) in TABLE6.items()},
    table6_average=(136, 10),
    response=30,
    max_length=MAX_LENGTH // 10,
    steps=1,
    repeats=1,
    scoring_examples=2,
    generation_batch=2,
    generation_prompts=(136, 10),
    new_tokens=4,
    resolution=16,
)


def environment(device: torch.device, argv: list[str]) -> dict:
    info = {
        "device": str(device),
        "versions": package_versions(),
        "git_commit": git_commit(),
        "python": sys.version.split()[0],
        "argv": argv,
    }
    if device.type == "cuda":
        properties = torch.cuda.get_device_properties(device)
        info.update(
            gpu=properties.name,
            gpu_memory_gib=properties.total_memory / 2**30,
            capability=f"{properties.major}.{properties.minor}",
            cuda=torch.version.cuda,
        )
    return info


def run_section(report: dict, name: str, clock: Clock, function) -> object:
    """Run one section in its budget; an exception is recorded (status ``error``), not raised."""
    clock.start(BUDGET_S[name])
    started = time.perf_counter()
    try:
        result, status, note = function(), "done", ""
    except Exception as exc:  # noqa: BLE001 - recorded and turned into exit status 2
        result, status, note = None, "error", f"{type(exc).__name__}: {exc}"[:2000]
    if isinstance(result, dict) and "skipped" in result:
        status, note = "skipped", result["skipped"]
    elif "'skipped'" in repr(result):  # some measurements of the section were out of budget
        status, note = "partial", "some measurements skipped: out of budget"
    report["sections"][name] = {
        "status": status,
        "seconds": round(time.perf_counter() - started, 2),
        "note": note,
    }
    if result is not None:
        report[name] = result
    return result


def build_model(plan: dict, device: torch.device, into: dict) -> dict:
    """The Qwen3-like model of the speed sections (bfloat16, gradient checkpointing on) into ``into["qwen3"]``;
    returns what it is."""
    started = time.perf_counter()
    model = qwen3_model(plan["model"], device, torch.bfloat16)
    enable_checkpointing(model)
    into["qwen3"] = model
    return {
        "parameters": model.num_parameters(),
        "build_s": round(time.perf_counter() - started, 2),
        "dtype": "bfloat16",
        "attention": model.config._attn_implementation,
        "gradient_checkpointing": any(getattr(m, "gradient_checkpointing", False) for m in model.modules()),
    }


def write(report: dict, out: Path) -> None:
    """The JSON and the markdown as they stand (after every section)."""
    failed = [c["check"] for c in report["checks"] if not c["passed"]]
    errors = [name for name, s in report["sections"].items() if s["status"] == "error"]
    report["passed"] = not failed and not errors
    report["exit_status"] = 1 if failed else 2 if errors else 0
    out.mkdir(parents=True, exist_ok=True)
    (out / "gpu_acceptance.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    (out / "gpu_acceptance.md").write_text(markdown(report), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for gpu_acceptance.json and .md")
    parser.add_argument("--device", default="cuda", help="cuda (default), cuda:N or cpu")
    parser.add_argument("--small", action="store_true", help="tiny Qwen3 config and lengths / 10 (CPU tests)")
    parser.add_argument("--sections", nargs="+", default=list(SECTIONS), choices=SECTIONS)
    parser.add_argument(
        "--budget-s", type=float, default=400, help="no measurement starts after this many seconds"
    )
    args = parser.parse_args(argv)
    try:
        device = resolve_device(args.device)
    except ConfigError as exc:
        parser.error(str(exc))
    if device.type == "cuda" and torch.cuda.device_count() > 1:
        # PerCETrainer refuses a process that sees several GPUs (transformers would use DataParallel).
        parser.error(
            f"this process sees {torch.cuda.device_count()} GPUs; expose one: CUDA_VISIBLE_DEVICES=0"
        )
    plan = SMALL_PLAN if args.small else FULL_PLAN
    clock = Clock(args.budget_s)
    report: dict = {
        "environment": environment(device, sys.argv[1:] if argv is None else argv),
        "small": args.small,
        "checks": [],
        "sections": {},
    }
    report["plan"] = {key: value for key, value in plan.items()}
    checks = report["checks"]
    if {"correctness", "bf16"} & set(args.sections):
        tiny, _ = load_model("tiny", seed=0)
        qwen3 = qwen3_model(plan["correctness_model"], torch.device("cpu"), torch.float32)
        models = {
            "tiny": (sharpen(tiny), tiny.config.vocab_size),
            "qwen3-random": (sharpen(qwen3), qwen3.config.vocab_size),
        }
        for name, function in (
            ("correctness", lambda: correctness(models, device, checks)),
            ("bf16", lambda: bf16_section(models, device, checks)),
        ):
            if name in args.sections:
                run_section(report, name, clock, function)
                write(report, args.out)
    performance = [name for name in SECTIONS[2:] if name in args.sections]
    built: dict = {}
    if performance:
        run_section(report, "model", clock, lambda: build_model(plan, device, built))
    with tempfile.TemporaryDirectory() as tmp:
        model = built.get("qwen3")
        sections = {
            "steps": lambda: steps_section(model, step_settings(plan), device, clock, plan, tmp),
            "scoring": lambda: scoring_section(model, device, clock, plan),
            "generation": lambda: generation_section(model, device, clock, plan),
            "max_response": lambda: max_response_section(model, device, clock, plan, tmp),
        }
        for name in ("steps", "scoring", "generation", "max_response"):  # the open-ended search last
            if name not in performance:
                continue
            if model is None:
                report["sections"][name] = {
                    "status": "skipped",
                    "seconds": 0,
                    "note": "no model (see 'model')",
                }
            else:
                run_section(report, name, clock, sections[name])
            write(report, args.out)
    write(report, args.out)
    failed = [c["check"] for c in checks if not c["passed"]]
    errors = [name for name, s in report["sections"].items() if s["status"] == "error"]
    print(markdown(report))
    if failed:
        print(f"FAILED correctness checks: {'; '.join(failed)}", file=sys.stderr)
    if errors:
        print(f"sections that raised: {', '.join(errors)} (see gpu_acceptance.json)", file=sys.stderr)
    return report["exit_status"]


if __name__ == "__main__":
    raise SystemExit(main())
