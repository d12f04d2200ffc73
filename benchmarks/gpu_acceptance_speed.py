"""The speed half of benchmarks/gpu_acceptance.py: a randomly initialised Qwen3-4B-like model built in
code, CE and PerCE training steps, scoring against bare forwards, plain and persona-contrastive decoding,
and the longest response a PerCE step fits. Every measurement synchronises CUDA around its clock and
reads peaks with ``torch.cuda.max_memory_allocated`` after ``reset_peak_memory_stats``; CUDA
out-of-memory is caught and recorded; a `Clock` bounds each section (what does not fit is recorded as
skipped). Not run alone: `gpu_acceptance.main` calls it.
"""

from __future__ import annotations

import gc
import statistics
import time

import torch
from decoding_slowdown import timed_generate
from score_throughput import bare_unit_forwards
from train_overhead import floor

from percontrast.generation.generate import left_pad
from percontrast.prompts.encoding import EncodedExample
from percontrast.scoring.pir import score_units
from percontrast.training.collator import PairedCollator

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


def make_trainer(model, loss: str, device: torch.device, output_dir: str):
    """A `PerCETrainer` whose ``training_step`` is what `percontrast train` runs per micro-batch."""
    from percontrast.training.config import PerCEConfig
    from percontrast.training.trainer import PerCETrainer

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
    cuda = device.type == "cuda"
    times, peaks, resident = [], [], None  # resident: memory held before a step (the weights; grads are None)
    out_of_memory = False
    try:
        for step in range(warmup + steps):
            model.zero_grad(set_to_none=True)
            if cuda:
                torch.cuda.reset_peak_memory_stats(device)
                resident = torch.cuda.memory_allocated(device) / 2**30
            synchronize(device)
            started = time.perf_counter()
            trainer.training_step(model, batch, num_items_in_batch=count)
            synchronize(device)
            if step >= warmup:
                times.append(time.perf_counter() - started)
                if cuda:
                    peaks.append(torch.cuda.max_memory_allocated(device) / 2**30)
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
        "step_extra_gib": max(peaks) - resident if peaks else None,  # peak above the weights
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
                row["extra_memory_ratio"] = perce["step_extra_gib"] / ce["step_extra_gib"]
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


def step_settings(plan: dict) -> dict[str, tuple[int, int, int]]:
    """Table 6's three tasks and the 5,000-token maximum (prompt with persona filling it)."""
    settings = {task: (w, wo, plan["response"]) for task, (w, wo) in plan["table6"].items()}
    settings[f"max {plan['max_length']}"] = (
        plan["max_length"] - plan["response"],
        plan["table6_average"][1],
        plan["response"],
    )
    return settings
