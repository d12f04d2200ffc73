"""``percontrast generate``'s run: an examples file -> a predictions file, resumable, with its settings.

`generate_file` checks the paths, records the settings that decide the predictions beside ``out``
(a rerun with other settings is refused before the model is loaded), loads the model (or hands a
model name to vLLM), and calls `generation.generate_predictions`, which skips the ids already in
``out``. Ctrl-C says how many predictions are saved and how to resume.

    generate_file(DecodingConfig(), "smollm2-135m-instruct", "test.jsonl", "preds.jsonl")
"""

from __future__ import annotations

import logging
from pathlib import Path

from percontrast.generation.config import DecodingConfig
from percontrast.generation.generate import GenerationStats, generate_predictions, generation_settings
from percontrast.modeling.load import ALIASES, load_model, model_identity
from percontrast.utils.errors import ConfigError, Interrupted
from percontrast.utils.files import (
    check_outputs,
    check_run_settings,
    file_fingerprint,
    read_finished,
    settings_path,
)

logger = logging.getLogger(__name__)


def generate_file(
    config: DecodingConfig,
    model_spec: str,
    data: str,
    out: str,
    *,
    dtype: str | None = None,
    device: str | None = None,
) -> GenerationStats:
    """Predictions for every example of ``data`` appended to ``out`` (ids already there are kept).

    Args:
        config: decoding settings.
        model_spec: an alias, a local directory or a hub id.
        data: the examples JSONL.
        out: the predictions JSONL (its settings record is written beside it).
        dtype, device: where and how the transformers backend loads the model.
    """
    from percontrast.data.schema import read_examples

    check_outputs(
        inputs={"--data": data},
        outputs={"--out": out, "the settings record beside --out": settings_path(out)},
        resumable=("--out",),
    )
    settings = generation_settings(
        config,
        model=model_identity(model_spec),
        dtype=dtype,
        data=f"{Path(data).resolve()} (sha256 {file_fingerprint([data], full=True)})",
    )
    check_run_settings(out, settings, kind="generate")  # before the model is loaded
    examples = read_examples(data)
    if config.backend == "vllm":
        model, tokenizer = model_spec, vllm_tokenizer(model_spec)
    else:
        model, tokenizer = load_model(model_spec, dtype=dtype, device=device)
    try:
        stats = generate_predictions(model, tokenizer, examples, out, config, settings=settings)
    except KeyboardInterrupt:
        raise Interrupted(
            f"{len(read_finished(out))} of {len(examples)} predictions are saved in {out}; "
            "rerun the same command to resume"
        ) from None
    logger.info(
        "%d generated, %d already there (resumed); %d new tokens at %.1f tokens/s -> %s",
        stats.generated,
        stats.skipped,
        stats.new_tokens,
        stats.tokens_per_second,
        out,
    )
    return stats


def vllm_tokenizer(spec: str):
    """The tokenizer of a model vLLM loads itself: a directory or a hub id, not one of our aliases."""
    from transformers import AutoTokenizer

    if spec in ALIASES:
        raise ConfigError(
            f"--backend vllm --model {spec}: vLLM loads the model itself and does not know percontrast's "
            "aliases; give a model directory or hub id, or use --backend transformers"
        )
    try:
        return AutoTokenizer.from_pretrained(spec)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"--model {spec}: no tokenizer could be loaded for vLLM ({exc})") from None
