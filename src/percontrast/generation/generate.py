"""Batched generation: ``percontrast generate`` turns a JSONL of examples into a predictions file.

Each example is rendered with its prompt template (with persona by default, as the personalized
model sees it; ``with_persona=False`` is the ablation), tokenized with `prompts.encoding.tokenize_prompt`,
left-padded with explicit attention masks and passed to ``model.generate``. The defaults are the
paper's sampling: temperature 0.4 and at most 512 new tokens (pure temperature sampling: no top-k,
top-p 1). ``greedy=True`` decodes greedily.

The output is ``{"id", "prediction", "reference"}`` per line, in input order, appended and flushed
after every batch; a rerun skips the ids already written (resume). Sampling is seeded per batch with
``seed + index of the batch's first example``, so a resumed run with the same batch size draws what an
uninterrupted one would (the batch size is not part of the recorded settings; greedy output does not
depend on it).

With ``contrast`` (and ``plausibility``) set, generation is persona-contrastive
(`percontrast.generation.contrastive`): the persona-free prompt runs alongside with its own KV cache and each step
samples from ``log p_with + a * (log p_with - log p_without)``; ``contrast=0`` without plausibility is
plain generation, untouched.

An optional vLLM backend (``backend="vllm"``, for GPU users; not installed by default) takes the same
token ids.

    percontrast generate --model smollm2-135m-instruct --data test.jsonl --out preds.jsonl
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import PreTrainedModel
from transformers.tokenization_utils_base import PreTrainedTokenizerBase

from percontrast.data.schema import Example, iter_jsonl
from percontrast.generation.config import BACKENDS, DecodingConfig, SamplingConfig  # noqa: F401 (re-exported)
from percontrast.generation.contrastive import ContrastConfig, PersonaContrastProcessor
from percontrast.modeling.load import max_context
from percontrast.prompts.encoding import fit_prompt
from percontrast.utils.errors import ConfigError, DataError
from percontrast.utils.files import JsonlAppender, check_run_settings, repair_jsonl_tail

logger = logging.getLogger(__name__)


@dataclass
class GenerationStats:
    """What a run did: examples generated and skipped, tokens, time."""

    generated: int = 0
    skipped: int = 0
    new_tokens: int = 0
    seconds: float = 0.0

    @property
    def tokens_per_second(self) -> float:
        return self.new_tokens / self.seconds if self.seconds > 0 else 0.0


def left_pad(
    prompts: list[list[int]], pad_id: int, device: torch.device | str = "cpu"
) -> dict[str, torch.Tensor]:
    """Left-pad token id lists: ``input_ids`` and ``attention_mask`` (B, T), 0 on padding."""
    width = max(len(ids) for ids in prompts)
    input_ids = torch.full((len(prompts), width), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(prompts), width), dtype=torch.long)
    for row, ids in enumerate(prompts):
        input_ids[row, width - len(ids) :] = torch.tensor(ids, dtype=torch.long)
        attention_mask[row, width - len(ids) :] = 1
    return {"input_ids": input_ids.to(device), "attention_mask": attention_mask.to(device)}


@torch.no_grad()
def generate_from_ids(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    prompts: list[list[int]],
    sampling: SamplingConfig,
    seed: int | None = None,
    contrast: ContrastConfig | None = None,
    prompts_without: list[list[int]] | None = None,
) -> tuple[list[str], int]:
    """Generate one continuation per prompt (one left-padded batch).

    Args:
        prompts: token ids of each prompt, no padding.
        seed: seeds torch's generator before sampling (default ``sampling.seed``).
        contrast: persona-contrastive decoding settings (None or inactive: plain generation).
        prompts_without: the persona-free prompt of each row (needed when ``contrast`` is active).

    Returns:
        The decoded continuations (special tokens removed, cut at EOS) and the number of new
        tokens generated up to and including each row's EOS.
    """
    if not prompts or any(not ids for ids in prompts):
        raise ValueError("every prompt needs at least one token")
    check_fits_context(
        [len(ids) for ids in prompts], sampling.max_new_tokens, max_context(model, tokenizer), "prompt"
    )
    batch = left_pad(prompts, tokenizer.pad_token_id, model.device)
    processors = []
    if contrast is not None and contrast.active:
        if prompts_without is None or len(prompts_without) != len(prompts):
            raise ValueError("contrastive decoding needs one persona-free prompt per prompt")
        without = left_pad(prompts_without, tokenizer.pad_token_id, model.device)
        processors.append(
            PersonaContrastProcessor(model, without["input_ids"], without["attention_mask"], contrast)
        )
    torch.manual_seed(sampling.seed if seed is None else seed)
    output = model.generate(
        **batch, generation_config=sampling.hf_config(tokenizer), logits_processor=processors or None
    )  # (B, T + new)
    new_ids = output[:, batch["input_ids"].shape[1] :]
    texts, n_tokens = [], 0
    for row in new_ids.tolist():
        if tokenizer.eos_token_id in row:
            row = row[: row.index(tokenizer.eos_token_id) + 1]
        n_tokens += len(row)
        texts.append(tokenizer.decode(row, skip_special_tokens=True))
    return texts, n_tokens


def check_fits_context(prompt_lengths: list[int], max_new_tokens: int, context: int, what: str) -> None:
    """Refuse prompts that, with ``max_new_tokens`` new tokens, exceed the model's context.

    Past its context a model still produces text, from positions it was never trained on: an error
    is better than a silently wrong answer.
    """
    longest = max(prompt_lengths, default=0)
    if longest + max_new_tokens > context:
        raise DataError(
            f"a {what} of {longest} tokens plus max_new_tokens={max_new_tokens} exceeds the model's context "
            f"({context} tokens); lower max_new_tokens or shorten the input"
        )


def done_ids(path: str | Path, known_ids: set[str]) -> set[str]:
    """Ids already in an output file (for resuming); ids unknown to the data are an error."""
    path = Path(path)
    if not path.exists():
        return set()
    done: set[str] = set()
    for line, record in iter_jsonl(path):
        if not isinstance(record, dict) or not isinstance(record.get("id"), str):
            raise DataError(
                "expected a prediction record with a string id", path=str(path), line=line, field="id"
            )
        if not isinstance(record.get("prediction"), str):
            raise DataError(
                "not a prediction record (no string 'prediction'): is --out another kind of file?",
                path=str(path),
                line=line,
                field="prediction",
            )
        if record["id"] not in known_ids:
            raise DataError(
                f"id {record['id']!r} is not in the data: is this output file from another data file?",
                path=str(path),
                line=line,
                field="id",
            )
        done.add(record["id"])
    return done


def render_prompts(
    examples: list[Example],
    tokenizer: PreTrainedTokenizerBase,
    template: str | None,
    with_persona: bool,
    max_prompt_tokens: int | None = None,
) -> list[list[int]]:
    """Prompt token ids of each example (with or without persona), each with its own template unless
    ``template`` names one (`prompts.registry.resolve_template`).

    With ``max_prompt_tokens``, a longer prompt with persona is fitted by the policy training and scoring
    use (`prompts.encoding.fit_prompt`: lowest-ranked persona items first, the query never cut, and an example
    whose persona would be cut away entirely refused with a `PersonaLostError`); the count is logged.
    """
    prompts, truncated = [], 0
    for example in examples:
        ids, report = fit_prompt(
            example, tokenizer, template, with_persona=with_persona, max_prompt_tokens=max_prompt_tokens
        )
        truncated += report is not None
        prompts.append(ids)
    if truncated:
        logger.warning(
            "persona truncated in %d of %d prompts to leave room for max_new_tokens within the context",
            truncated,
            len(examples),
        )
    return prompts


def generation_settings(config: DecodingConfig, **extra: object) -> dict:
    """What decides the content of a predictions file: recorded beside it, checked on resume.

    ``batch_size`` is left out (a resume may need a smaller one); ``extra`` adds the model and dtype.
    """
    sampling = config.sampling
    settings = {
        "template": config.template,
        "with_persona": config.with_persona,
        "backend": config.backend,
        "greedy": sampling.greedy,
        "temperature": None if sampling.greedy else sampling.temperature,
        "max_new_tokens": sampling.max_new_tokens,
        "seed": sampling.seed,
        "contrast": config.contrast,
        "plausibility": config.plausibility,
    }
    return settings | extra


def generate_predictions(
    model: PreTrainedModel | str,
    tokenizer: PreTrainedTokenizerBase,
    examples: list[Example],
    out: str | Path,
    config: DecodingConfig | None = None,
    progress: bool = True,
    settings: dict | None = None,
) -> GenerationStats:
    """Generate an answer for every example not yet in ``out`` and append them there.

    Args:
        model: the model (transformers backend) or its path / hub id (vLLM backend).
        tokenizer: its tokenizer.
        examples: the examples, in output order.
        out: the predictions JSONL; existing ids are skipped.
        config: generation settings (default: the paper's sampling).
        progress: show a progress bar.
        settings: when given (the CLI gives them), the settings that make the file, recorded in
            ``<out>.settings.json``; resuming under other settings is refused
            (`utils.files.check_run_settings`). See `generation_settings`.
    """
    from tqdm.auto import tqdm

    config = config or DecodingConfig()
    out = Path(out)
    todo = _pending(examples, out, settings)
    stats = GenerationStats(skipped=len(examples) - len(todo))
    if not todo:
        return stats
    out.parent.mkdir(parents=True, exist_ok=True)
    prompts, prompts_without = _generation_prompts(model, tokenizer, [example for _, example in todo], config)
    contrast = config.contrast_config
    generate_batch = _vllm_generator(model, tokenizer, config) if config.backend == "vllm" else None
    bar = tqdm(total=len(examples), initial=stats.skipped, desc="generate", unit="ex", disable=not progress)
    started = time.perf_counter()
    with JsonlAppender(out) as appender:
        for start in range(0, len(todo), config.batch_size):
            batch = todo[start : start + config.batch_size]
            batch_prompts = prompts[start : start + config.batch_size]
            seed = config.sampling.seed + batch[0][0]
            if generate_batch is not None:
                texts, n_tokens = generate_batch(batch_prompts, seed)
            else:
                texts, n_tokens = generate_from_ids(
                    model,
                    tokenizer,
                    batch_prompts,
                    config.sampling,
                    seed=seed,
                    contrast=contrast,
                    prompts_without=(
                        prompts_without[start : start + config.batch_size] if prompts_without else None
                    ),
                )
            for (_, example), text in zip(batch, texts, strict=True):
                appender.write({"id": example.id, "prediction": text, "reference": example.response})
            stats.generated += len(batch)
            stats.new_tokens += n_tokens
            bar.update(len(batch))
    stats.seconds = time.perf_counter() - started
    bar.close()
    logger.info(
        "generated %d answers, %d tokens, %.1f tokens/s",
        stats.generated,
        stats.new_tokens,
        stats.tokens_per_second,
    )
    return stats


def _pending(examples: list[Example], out: Path, settings: dict | None) -> list[tuple[int, Example]]:
    """``(index, example)`` of the examples not yet in ``out`` (a resume); the file's settings are checked
    and a torn last record is dropped first."""
    if settings is not None:
        check_run_settings(out, settings, kind="generate")
    repair_jsonl_tail(out)  # a torn last record (a killed write) is dropped and reported
    done = done_ids(out, {example.id for example in examples})
    todo = [(index, example) for index, example in enumerate(examples) if example.id not in done]
    if len(todo) < len(examples):
        logger.info(
            "resuming: %d of %d examples already in %s", len(examples) - len(todo), len(examples), out
        )
    return todo


def _generation_prompts(
    model: PreTrainedModel | str,
    tokenizer: PreTrainedTokenizerBase,
    examples: list[Example],
    config: DecodingConfig,
) -> tuple[list[list[int]], list[list[int]] | None]:
    """The prompts (the persona truncated to leave ``max_new_tokens`` within the context) and, for
    contrastive decoding, the persona-free prompts."""
    context = max_context(model, tokenizer) if not isinstance(model, str) else None
    if context is not None and config.sampling.max_new_tokens >= context:
        raise ConfigError(
            f"max_new_tokens={config.sampling.max_new_tokens} leaves no room for a prompt in the model's "
            f"context ({context} tokens)"
        )
    prompts = render_prompts(
        examples,
        tokenizer,
        config.template,
        config.with_persona,
        max_prompt_tokens=None if context is None else context - config.sampling.max_new_tokens,
    )
    prompts_without = (
        render_prompts(examples, tokenizer, config.template, with_persona=False)
        if config.contrast_config.active
        else None
    )
    return prompts, prompts_without


def _vllm_generator(model: PreTrainedModel | str, tokenizer: PreTrainedTokenizerBase, config: DecodingConfig):
    """A ``(prompts, seed) -> (texts, n_tokens)`` function backed by vLLM (optional dependency)."""
    try:
        from vllm import LLM, SamplingParams
    except ImportError:
        raise ConfigError(
            "backend 'vllm' needs the vllm package (GPU): `pip install vllm`; or use --backend transformers"
        ) from None
    if not isinstance(model, str):
        raise ConfigError(
            "the vllm backend loads the model itself: pass a local directory or hub id, not a loaded model"
        )
    engine = LLM(model=model, seed=config.sampling.seed)
    sampling = config.sampling

    def generate(prompts: list[list[int]], seed: int) -> tuple[list[str], int]:
        params = SamplingParams(
            temperature=0.0 if sampling.greedy else sampling.temperature,
            top_p=1.0,
            max_tokens=sampling.max_new_tokens,
            seed=seed,
        )
        outputs = engine.generate([{"prompt_token_ids": ids} for ids in prompts], params, use_tqdm=False)
        texts = [output.outputs[0].text for output in outputs]
        return texts, sum(len(output.outputs[0].token_ids) for output in outputs)

    return generate
