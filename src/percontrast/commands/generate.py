"""``percontrast generate``: answers for a JSONL of examples -> predictions JSONL (resumable)."""

from __future__ import annotations

import argparse
import logging

from percontrast.commands.score import add_model_arguments
from percontrast.errors import Interrupted

logger = logging.getLogger(__name__)


def add_sampling_arguments(parser: argparse.ArgumentParser, max_new_tokens: int = 512) -> None:
    """Decoding flags shared by `generate` and `aloe`."""
    parser.add_argument(
        "--max-new-tokens",
        type=int,
        default=max_new_tokens,
        help=f"most new tokens per answer (default: {max_new_tokens})",
    )
    parser.add_argument(
        "--temperature",
        type=float,
        default=0.4,
        help="sampling temperature (default: 0.4, the paper's)",
    )
    parser.add_argument("--greedy", action="store_true", help="greedy decoding instead of sampling")
    parser.add_argument("--seed", type=int, default=0, help="sampling seed (default: 0)")


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser("generate", help="generate answers for examples (batched, resumable)")
    add_model_arguments(parser)
    parser.add_argument("--data", required=True, help="JSONL of examples {id, persona, query, response}")
    parser.add_argument(
        "--out", required=True, help="predictions JSONL {id, prediction, reference}; existing ids are skipped"
    )
    parser.add_argument(
        "--template",
        default=None,
        help="prompt template name (default: each example's own `template` field, else persona_chat)",
    )
    parser.add_argument(
        "--no-persona", action="store_true", help="leave the persona out of the prompt (ablation)"
    )
    parser.add_argument("--batch-size", type=int, default=8, help="examples per generate call (default: 8)")
    parser.add_argument(
        "--backend",
        choices=["transformers", "vllm"],
        default="transformers",
        help="vllm needs the vllm package (GPU)",
    )
    add_sampling_arguments(parser)
    add_contrast_arguments(parser)
    return parser


def add_contrast_arguments(parser: argparse.ArgumentParser) -> None:
    """Persona-contrastive decoding flags (`percontrast.decoding`)."""
    parser.add_argument(
        "--contrast",
        type=float,
        default=0.0,
        metavar="A",
        help="persona-contrastive decoding: sample from log p_with + A * (log p_with - log p_without); "
        "the persona-free prompt runs alongside (about 2x the decoding cost). 0 (default): plain decoding",
    )
    parser.add_argument(
        "--plausibility",
        type=float,
        default=None,
        metavar="B",
        help="with contrast: keep only tokens whose with-persona probability is >= B times the best one's "
        "(B in (0, 1]; default: no constraint)",
    )


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from percontrast.data.schema import read_examples
    from percontrast.generation import (
        GenerationConfig,
        SamplingConfig,
        generate_predictions,
        generation_settings,
    )
    from percontrast.modeling import load_model
    from percontrast.outputs import check_outputs, check_run_settings, file_fingerprint, settings_path

    config = GenerationConfig(
        sampling=SamplingConfig(
            max_new_tokens=args.max_new_tokens,
            temperature=args.temperature,
            greedy=args.greedy,
            seed=args.seed,
        ),
        template=args.template,
        with_persona=not args.no_persona,
        batch_size=args.batch_size,
        backend=args.backend,
        contrast=args.contrast,
        plausibility=args.plausibility,
    )
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
