"""``percontrast generate``: answers for a JSONL of examples -> predictions JSONL (resumable)."""

from __future__ import annotations

import argparse
import logging

from percontrast.commands.score import add_model_arguments
from percontrast.errors import Interrupted

logger = logging.getLogger(__name__)


def config_classes() -> dict[type, tuple[str, ...]]:
    """The dataclasses this command's flags come from, each with the fields that are not flags."""
    from percontrast.generation_config import DecodingConfig, SamplingConfig

    return {SamplingConfig: (), DecodingConfig: ()}


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from percontrast.commands.config_flags import add_config_arguments
    from percontrast.generation_config import DecodingConfig, SamplingConfig

    parser = subparsers.add_parser("generate", help="generate answers for examples (batched, resumable)")
    add_model_arguments(parser)
    parser.add_argument("--data", required=True, help="JSONL of examples {id, persona, query, response}")
    parser.add_argument(
        "--out", required=True, help="predictions JSONL {id, prediction, reference}; existing ids are skipped"
    )
    add_config_arguments(parser, DecodingConfig, exclude=CONTRAST_FIELDS)
    add_config_arguments(parser, SamplingConfig)
    add_contrast_arguments(parser)
    return parser


CONTRAST_FIELDS = ("contrast", "plausibility")


def add_contrast_arguments(parser: argparse.ArgumentParser) -> None:
    """Persona-contrastive decoding flags (`percontrast.decoding`), shared with `aloe`."""
    from percontrast.commands.config_flags import add_config_arguments
    from percontrast.generation_config import DecodingConfig

    add_config_arguments(parser, DecodingConfig, only=CONTRAST_FIELDS)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from percontrast.commands.config_flags import config_from_args
    from percontrast.data.schema import read_examples
    from percontrast.generation import generate_predictions, generation_settings
    from percontrast.generation_config import DecodingConfig, SamplingConfig
    from percontrast.modeling import load_model
    from percontrast.outputs import check_outputs, check_run_settings, file_fingerprint, settings_path

    config = config_from_args(DecodingConfig, args, sampling=config_from_args(SamplingConfig, args))
    check_outputs(
        inputs={"--data": args.data},
        outputs={"--out": args.out, "the settings record beside --out": settings_path(args.out)},
        resumable=("--out",),
    )
    settings = generation_settings(
        config,
        model=model_identity(args.model),
        dtype=args.dtype,
        data=f"{Path(args.data).resolve()} (sha256 {file_fingerprint([args.data], full=True)})",
    )
    check_run_settings(args.out, settings, kind="generate")  # before the model is loaded
    examples = read_examples(args.data)
    if args.backend == "vllm":
        model, tokenizer = args.model, _vllm_tokenizer(args.model)
    else:
        model, tokenizer = load_model(args.model, dtype=args.dtype, device=args.device)
    try:
        stats = generate_predictions(model, tokenizer, examples, args.out, config, settings=settings)
    except KeyboardInterrupt:
        from percontrast.outputs import read_finished

        raise Interrupted(
            f"{len(read_finished(args.out))} of {len(examples)} predictions are saved in {args.out}; "
            "rerun the same command to resume"
        ) from None
    logger.info(
        "%d generated, %d already there (resumed); %d new tokens at %.1f tokens/s -> %s",
        stats.generated,
        stats.skipped,
        stats.new_tokens,
        stats.tokens_per_second,
        args.out,
    )
    return 0


def _vllm_tokenizer(spec: str):
    """The tokenizer of a model vLLM loads itself: a directory or a hub id, not one of our aliases."""
    from transformers import AutoTokenizer

    from percontrast.errors import ConfigError
    from percontrast.modeling import ALIASES

    if spec in ALIASES:
        raise ConfigError(
            f"--backend vllm --model {spec}: vLLM loads the model itself and does not know percontrast's "
            "aliases; give a model directory or hub id, or use --backend transformers"
        )
    try:
        return AutoTokenizer.from_pretrained(spec)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"--model {spec}: no tokenizer could be loaded for vLLM ({exc})") from None


def model_identity(spec: str) -> str:
    """The model as recorded with an output: the alias or hub id, or for a local one its absolute path
    and a fingerprint of its weights (a model retrained in the same folder is another model)."""
    from pathlib import Path

    from percontrast.outputs import file_fingerprint

    path = Path(spec).expanduser()
    if not path.exists():
        return spec
    weights = (
        [path]
        if path.is_file()
        else sorted(
            p for p in path.iterdir() if p.suffix in (".safetensors", ".bin", ".gguf", ".pt") and p.is_file()
        )
    )
    return f"{path.resolve()} (weights {file_fingerprint(weights)})"
