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
Writes ``gpu_acceptance.json`` and ``gpu_acceptance.md`` to ``--out``. Exit status: 0 when every
correctness check passed and no section raised; 1 when a correctness check failed; 2 when a section
raised an unexpected error (recorded in the JSON).

    PYTHONPATH=src python benchmarks/gpu_acceptance.py --out gpu-results       # one GPU, about 6 minutes
    PYTHONPATH=src python benchmarks/gpu_acceptance.py --device cpu --small --out /tmp/acc  # ~20 s
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bf16_pir_error import bf16_errors, pir  # noqa: E402
from decoding_slowdown import timed_generate  # noqa: E402
from score_throughput import bare_unit_forwards  # noqa: E402
from train_overhead import floor  # noqa: E402

from percontrast.collator import PairedCollator  # noqa: E402
from percontrast.encoding import EncodedExample, pad_pairs  # noqa: E402
from percontrast.generation import left_pad  # noqa: E402
from percontrast.logprobs import pair_logprobs  # noqa: E402
from percontrast.losses import token_weights, weighted_ce  # noqa: E402
from percontrast.modeling import load_model, resolve_device  # noqa: E402
from percontrast.run_info import git_commit, package_versions  # noqa: E402
from percontrast.scoring import score_units  # noqa: E402

FLOAT32_TOLERANCE = 1e-4  # device vs CPU, float32: log-probs, PIR, loss; gradients relative to max |grad|
# bf16 keeps 8 significant bits: each log-prob (a logit minus a log-sum-exp of logits of size ~10-30) moves
# by up to a few hundredths of a nat, both sides of PIR add up (SmolLM2 on CPU: max 0.27, mean 0.05,
# benchmarks/bf16_pir_error.py). A broken kernel or a wrong cast moves PIR by its whole range (several nats).
BF16_SANITY_NATS = 1.0
SECTIONS = ("correctness", "bf16", "steps", "scoring", "max_response", "generation")
BUDGET_S = {"correctness": 60, "bf16": 30, "steps": 150, "scoring": 45, "max_response": 120, "generation": 60}
PAD_ID = 0  # random token ids are drawn from 1..V-1

QWEN3_4B = dict(  # Qwen3-4B's config.json, less the weights
    hidden_size=2560,
    intermediate_size=9728,
    num_hidden_layers=36,
    num_attention_heads=32,
    num_key_value_heads=8,
    head_dim=128,
    vocab_size=151_936,
    max_position_embeddings=40_960,
    rope_parameters={"rope_type": "default", "rope_theta": 1_000_000.0},
    rms_norm_eps=1e-6,
    tie_word_embeddings=True,
)
SMALL_QWEN3 = dict(
    hidden_size=64,
    intermediate_size=128,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    head_dim=16,
    vocab_size=1000,
    max_position_embeddings=2048,
    tie_word_embeddings=False,
)
# Table 6 (Qwen3 tokens): prompt with persona, prompt without persona. The paper gives no response
# length; RESPONSE (300, as benchmarks/train_overhead.py) is our assumption.
TABLE6 = {"PAG": (975, 65), "PRW": (2063, 169), "PTW": (1055, 55)}
TABLE6_AVERAGE = (1364, 96)
MAX_LENGTH = 5000  # Table 7
RESPONSE = 300


class Clock:
    """Seconds left to the whole run and to the current section."""

    def __init__(self, total_s: float) -> None:
        self.end = time.monotonic() + total_s
        self.section_end = self.end

    def start(self, budget_s: float) -> None:
        self.section_end = min(self.end, time.monotonic() + budget_s)

    def left(self) -> float:
        return self.section_end - time.monotonic()


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def free_memory(device: torch.device) -> None:
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()


def random_ids(n: int, vocab: int, generator: torch.Generator) -> list[int]:
    return torch.randint(1, vocab, (n,), generator=generator).tolist()


def random_example(lengths: tuple[int, int, int], vocab: int, seed: int) -> EncodedExample:
    """An encoded example of random ids: (prompt with persona, prompt without, response) tokens."""
    generator = torch.Generator().manual_seed(seed)
    with_prompt, without_prompt, response = lengths
    return EncodedExample(
        str(seed),
        random_ids(with_prompt, vocab, generator),
        random_ids(without_prompt, vocab, generator),
        random_ids(response, vocab, generator),
        [],
        "",
        "",
    )


def qwen3_model(config_values: dict, device: torch.device, dtype: torch.dtype, seed: int = 0):
    """A randomly initialised Qwen3 causal LM built in code on ``device`` (SDPA attention)."""
    from transformers import AutoModelForCausalLM, Qwen3Config

    config = Qwen3Config(**config_values, pad_token_id=PAD_ID, bos_token_id=1, eos_token_id=2)
    torch.manual_seed(seed)
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(config, dtype=dtype, attn_implementation="sdpa")
    return model.eval()


def enable_checkpointing(model) -> None:
    """Gradient checkpointing of every decoder layer (transformers >= 5.25 renamed it activation checkpointing)."""
    kwargs = {"use_reentrant": False}
    if hasattr(model, "activation_checkpointing_enable"):
        model.activation_checkpointing_enable(activation_checkpointing_kwargs=kwargs)
    else:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)


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
        model_device = _copy_to(model, device)
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


def _copy_to(model, device: torch.device):
    import copy

    return copy.deepcopy(model).to(device)


def bf16_section(models: dict, device: torch.device, checks: list[dict]) -> dict:
    result = {}
    for name, (model, vocab) in models.items():
        batch = pad_pairs(
            [random_example((40 + 23 * i, 9 + 4 * i, 25 + 11 * i), vocab, i) for i in range(4)], PAD_ID
        )
        model_device = _copy_to(model, device)
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


# ------------------------------------------------------------------------------- the paper's shape


def make_trainer(model, loss: str, device: torch.device, output_dir: str):
    """A `PerCETrainer` whose ``training_step`` is what `percontrast train` runs per micro-batch."""
    from percontrast.perce_config import PerCEConfig
    from percontrast.training import PerCETrainer

    config = PerCEConfig(
        output_dir=output_dir,
        loss=loss,
        report_to="none",
        use_cpu=device.type == "cpu",
        disable_tqdm=True,
        probe_steps=0,
        dataloader_pin_memory=False,
    )
    return PerCETrainer(model=model, args=config)


def measure_step(
    trainer, model, lengths: tuple[int, int, int], device: torch.device, warmup: int, steps: int
) -> dict:
    """Median seconds and peak memory of ``training_step`` (forward + backward, batch 1); CUDA OOM is caught."""
    batch = PairedCollator(pad_id=PAD_ID)([random_example(lengths, model.config.vocab_size, 0)])
    count = batch["response_mask"].sum()
    times, peaks = [], []
    out_of_memory = False
    try:
        for step in range(warmup + steps):
            model.zero_grad(set_to_none=True)
            if device.type == "cuda":
                torch.cuda.reset_peak_memory_stats(device)
            synchronize(device)
            started = time.perf_counter()
            trainer.training_step(model, batch, num_items_in_batch=count)
            synchronize(device)
            if step >= warmup:
                times.append(time.perf_counter() - started)
                peaks.append(
                    torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None
                )
    except torch.cuda.OutOfMemoryError:
        out_of_memory = True  # handled after the except block, once the traceback's tensors are released
    model.zero_grad(set_to_none=True)
    free_memory(device)
    if out_of_memory:
        return {"out_of_memory": True}
    step_s = statistics.median(times)
    return {
        "step_s": step_s,
        "tokens_per_s": (lengths[0] + lengths[2]) / step_s,
        "peak_gib": max(peaks, default=None),
    }


def steps_section(
    model, settings: dict, device: torch.device, clock: Clock, plan: dict, tmp: str
) -> list[dict]:
    trainers = {loss: make_trainer(model, loss, device, tmp) for loss in ("ce", "perce")}
    rows = []
    for name, lengths in settings.items():
        row = {"setting": name, "lengths": list(lengths), "time_floor": floor(lengths)}
        for loss, trainer in trainers.items():
            row[loss] = (
                measure_step(trainer, model, lengths, device, plan["warmup"], plan["steps"])
                if clock.left() > 0
                else {"skipped": "out of budget"}
            )
        ce, perce = row["ce"], row["perce"]
        if "step_s" in ce and "step_s" in perce:
            row["time_ratio"] = perce["step_s"] / ce["step_s"]
            if ce["peak_gib"]:
                row["memory_ratio"] = perce["peak_gib"] / ce["peak_gib"]
        rows.append(row)
    model.eval()
    return rows


def scoring_section(model, device: torch.device, clock: Clock, plan: dict) -> dict:
    """`score_units` on both prompts of Table 6-shaped random examples, against the bare decoder."""
    model.eval()
    vocab, prompts, responses = model.config.vocab_size, [], []
    for task, (with_prompt, without_prompt) in enumerate(plan["table6"].values()):
        for i in range(plan["scoring_examples"]):
            example = random_example((with_prompt, without_prompt, plan["response"]), vocab, 1000 * task + i)
            prompts += [example.prompt_with_ids, example.prompt_without_ids]
            responses += [example.response_ids] * 2
    tokens = sum(map(len, responses)) // 2
    score_units(model, prompts[:2], responses[:2], PAD_ID, progress=False)  # warm-up
    rows = []
    for _ in range(plan["repeats"]):
        if clock.left() <= 0:
            break
        synchronize(device)
        started = time.perf_counter()
        score_units(model, prompts, responses, PAD_ID, progress=False)
        synchronize(device)
        scored = time.perf_counter() - started
        with torch.no_grad():
            bare_unit_forwards(model, prompts, responses, PAD_ID, 16, 8192)  # score_units' defaults
        synchronize(device)
        bare = time.perf_counter() - started - scored
        rows.append(
            {
                "score_tokens_per_s": tokens / scored,
                "bare_tokens_per_s": tokens / bare,
                "bare_ratio": bare / scored,
            }
        )
    if not rows:
        return {"skipped": "out of budget"}
    return {
        "examples": len(prompts) // 2,
        "response_tokens": tokens,
        **{key: statistics.median(row[key] for row in rows) for key in rows[0]},
        "repeats": len(rows),
    }


def generation_section(model, device: torch.device, clock: Clock, plan: dict) -> dict:
    """Greedy decoding of exactly ``new_tokens`` per row, plain and persona-contrastive, alternating."""
    from transformers import GenerationConfig

    model.eval()
    generator = torch.Generator().manual_seed(0)
    vocab, (with_prompt, without_prompt) = model.config.vocab_size, plan["generation_prompts"]
    rows = range(plan["generation_batch"])
    batch = left_pad([random_ids(with_prompt - 7 * r, vocab, generator) for r in rows], PAD_ID, device)
    without = left_pad([random_ids(without_prompt - r, vocab, generator) for r in rows], PAD_ID, device)

    def config(new_tokens: int) -> GenerationConfig:
        return GenerationConfig(
            do_sample=False,
            max_new_tokens=new_tokens,
            min_new_tokens=new_tokens,
            pad_token_id=PAD_ID,
            eos_token_id=2,
        )

    for contrast in (False, True):  # warm-up
        timed_generate(model, batch, without, config(2), contrast)
    times: dict[bool, list[float]] = {False: [], True: []}
    for _ in range(plan["repeats"]):
        for contrast in (False, True):
            if clock.left() > 0:
                times[contrast].append(
                    timed_generate(model, batch, without, config(plan["new_tokens"]), contrast)
                )
    if not times[True]:
        return {"skipped": "out of budget"}
    new = plan["generation_batch"] * plan["new_tokens"]
    plain, contrastive = new / statistics.median(times[False]), new / statistics.median(times[True])
    return {
        "batch": plan["generation_batch"],
        "prompt_tokens": [with_prompt, without_prompt],
        "new_tokens": plan["new_tokens"],
        "plain_tokens_per_s": plain,
        "contrastive_tokens_per_s": contrastive,
        "tokens_per_s_ratio": contrastive / plain,
        "repeats": len(times[True]),
    }


def largest_fitting(fits, high: int, resolution: int, clock: Clock) -> dict:
    """Binary search for the largest n <= ``high`` with ``fits(n)`` (monotone), to ``resolution``, in budget."""
    good, bad, tries, n = 0, None, [], high
    while clock.left() > 0:
        fitted = fits(n)
        tries.append({"n": n, "fits": fitted})
        good, bad = (n, bad) if fitted else (good, n)
        n = max(good + resolution, (good + (bad or good)) // 2 // resolution * resolution)
        if bad is None or n >= bad:
            break
    complete = bad is None and good == high or bad is not None and bad - good <= resolution
    return {
        "largest_fit": good or None,
        "smallest_failure": bad,
        "limit": high,
        "complete": complete,
        "tries": tries,
    }


def max_response_section(model, device: torch.device, clock: Clock, plan: dict, tmp: str) -> dict:
    """The longest response of one PerCE step (batch 1, Table 6's average prompts), up to the context."""
    trainer = make_trainer(model, "perce", device, tmp)
    with_prompt, without_prompt = plan["table6_average"]
    measured: dict[int, dict] = {}

    def fits(response: int) -> bool:
        measured[response] = measure_step(
            trainer, model, (with_prompt, without_prompt, response), device, 0, 1
        )
        return "step_s" in measured[response]

    high = model.config.max_position_embeddings - with_prompt
    result = largest_fitting(fits, high, plan["resolution"], clock)
    for attempt in result["tries"]:
        attempt.update(measured[attempt["n"]])
    model.eval()
    return {"prompt_tokens": [with_prompt, without_prompt], **result}


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


def step_settings(plan: dict) -> dict[str, tuple[int, int, int]]:
    """Table 6's three tasks and the 5,000-token maximum (prompt with persona filling it)."""
    settings = {task: (w, wo, plan["response"]) for task, (w, wo) in plan["table6"].items()}
    settings[f"max {plan['max_length']}"] = (
        plan["max_length"] - plan["response"],
        plan["table6_average"][1],
        plan["response"],
    )
    return settings


def environment(device: torch.device) -> dict:
    info = {
        "device": str(device),
        "versions": package_versions(),
        "git_commit": git_commit(),
        "python": sys.version.split()[0],
        "argv": sys.argv,
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


def _number(value: object, digits: int = 3) -> str:
    return f"{value:.{digits}g}" if isinstance(value, float) else "-" if value is None else str(value)


def markdown(report: dict) -> str:
    """The report as markdown tables (the JSON holds everything)."""
    env = report["environment"]
    lines = [
        f"# GPU acceptance: {'PASSED' if report['passed'] else 'FAILED'} (exit status {report['exit_status']})",
        "",
        f"{env.get('gpu', env['device'])}, torch {env['versions']['torch']}, transformers "
        f"{env['versions']['transformers']}, commit {env['git_commit']}"
        + (", --small" if report["small"] else ""),
        "",
        "| section | status | seconds | note |",
        "|---|---|---:|---|",
        *(
            f"| {name} | {s['status']} | {s['seconds']} | {s['note']} |"
            for name, s in report["sections"].items()
        ),
    ]
    if report["checks"]:
        lines += ["", "| check | value | tolerance | passed |", "|---|---:|---:|---|"]
        lines += [
            f"| {c['check']} | {c['value']:.3g} | {c['tolerance']:g} | {c['passed']} |"
            for c in report["checks"]
        ]
    if "bf16" in report:
        lines += [
            "",
            "| model | mode | PIR range (fp32) | log-prob error, max | PIR error, max | PIR error, mean | bound |",
        ]
        lines += ["|---|---|---:|---:|---:|---:|---:|"]
        for name, rows in report["bf16"].items():
            lines += [
                f"| {name} | {r['mode']} | {r['pir_range']:.2f} | {r['logp_error_max']:.3f} | {r['pir_error_max']:.3f} "
                f"| {r['pir_error_mean']:.4f} | {r['bound']:.3f} |"
                for r in rows
            ]
    if "model" in report:
        model = report["model"]
        lines += [
            "",
            f"Qwen3-like model: {model['parameters'] / 1e9:.3g} B parameters, bfloat16, built in {model['build_s']} s.",
        ]
    if "steps" in report:
        lines += [
            "",
            "| setting | prompt w. / w.o. / response | CE s | PerCE s | time ratio (floor) | CE peak GiB | PerCE peak GiB "
            "| memory ratio | CE tok/s | PerCE tok/s |",
            "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for row in report["steps"]:
            ce, perce = row["ce"], row["perce"]
            lines.append(
                f"| {row['setting']} | {' / '.join(map(str, row['lengths']))} | {_number(ce.get('step_s'))} "
                f"| {_number(perce.get('step_s'))} | {_number(row.get('time_ratio'))} ({row['time_floor']:.3f}) "
                f"| {_number(ce.get('peak_gib'))} | {_number(perce.get('peak_gib'))} | {_number(row.get('memory_ratio'))} "
                f"| {_number(ce.get('tokens_per_s'), 4)} | {_number(perce.get('tokens_per_s'), 4)} |"
            )
    if "scoring" in report and "bare_ratio" in report["scoring"]:
        s = report["scoring"]
        lines += [
            "",
            "| scoring: examples | response tokens | score_units tok/s | bare forwards tok/s | bare ratio |",
        ]
        lines += ["|---:|---:|---:|---:|---:|"]
        lines.append(
            f"| {s['examples']} | {s['response_tokens']} | {s['score_tokens_per_s']:.4g} | {s['bare_tokens_per_s']:.4g} "
            f"| {s['bare_ratio']:.3f} |"
        )
    if "generation" in report and "plain_tokens_per_s" in report["generation"]:
        g = report["generation"]
        lines += [
            "",
            "| generation: batch | prompt w. / w.o. | new tokens | plain tok/s | contrastive tok/s | ratio |",
        ]
        lines += ["|---:|---|---:|---:|---:|---:|"]
        lines.append(
            f"| {g['batch']} | {' / '.join(map(str, g['prompt_tokens']))} | {g['new_tokens']} | {g['plain_tokens_per_s']:.4g} "
            f"| {g['contrastive_tokens_per_s']:.4g} | {g['tokens_per_s_ratio']:.3f} |"
        )
    if "max_response" in report:
        m = report["max_response"]
        lines += [
            "",
            f"Largest PerCE response (batch 1, prompts {' / '.join(map(str, m['prompt_tokens']))}, limit {m['limit']}): "
            f"{m['largest_fit']} fits, {m['smallest_failure']} does not; search complete: {m['complete']}. Tries: "
            + ", ".join(
                f"{t['n']} {'fits' if t['fits'] else 'OOM'}"
                + (f" ({t['step_s']:.2f} s, {_number(t.get('peak_gib'))} GiB)" if t["fits"] else "")
                for t in m["tries"]
            ),
        ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for gpu_acceptance.json and .md")
    parser.add_argument("--device", default="cuda", help="cuda (default), cuda:N or cpu")
    parser.add_argument("--small", action="store_true", help="tiny Qwen3 config and lengths / 10 (CPU tests)")
    parser.add_argument("--sections", nargs="+", default=list(SECTIONS), choices=SECTIONS)
    parser.add_argument("--budget-s", type=float, default=420, help="the whole run's time budget, seconds")
    args = parser.parse_args(argv)
    device = resolve_device(args.device)
    plan = SMALL_PLAN if args.small else FULL_PLAN
    clock = Clock(args.budget_s)
    report: dict = {"environment": environment(device), "small": args.small, "checks": [], "sections": {}}
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
    performance = [name for name in SECTIONS[2:] if name in args.sections]
    if performance:
        with tempfile.TemporaryDirectory() as tmp:
            started = time.perf_counter()
            model = qwen3_model(plan["model"], device, torch.bfloat16)
            enable_checkpointing(model)
            report["model"] = {
                "parameters": model.num_parameters(),
                "build_s": round(time.perf_counter() - started, 2),
                "dtype": "bfloat16",
                "attention": model.config._attn_implementation,
                "gradient_checkpointing": any(
                    getattr(m, "gradient_checkpointing", False) for m in model.modules()
                ),
            }
            sections = {
                "steps": lambda: steps_section(model, step_settings(plan), device, clock, plan, tmp),
                "scoring": lambda: scoring_section(model, device, clock, plan),
                "generation": lambda: generation_section(model, device, clock, plan),
                "max_response": lambda: max_response_section(model, device, clock, plan, tmp),
            }
            for name in ("steps", "scoring", "generation", "max_response"):  # the open-ended search last
                if name in performance:
                    run_section(report, name, clock, sections[name])
    failed = [c["check"] for c in checks if not c["passed"]]
    errors = [name for name, s in report["sections"].items() if s["status"] == "error"]
    report["passed"] = not failed and not errors
    report["exit_status"] = 1 if failed else 2 if errors else 0
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "gpu_acceptance.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    (args.out / "gpu_acceptance.md").write_text(markdown(report), encoding="utf-8")
    print(markdown(report))
    if failed:
        print(f"FAILED correctness checks: {'; '.join(failed)}", file=sys.stderr)
    if errors:
        print(f"sections that raised: {', '.join(errors)} (see gpu_acceptance.json)", file=sys.stderr)
    return report["exit_status"]


if __name__ == "__main__":
    raise SystemExit(main())
