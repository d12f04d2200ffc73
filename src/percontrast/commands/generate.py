"""``percontrast generate``: answers for a JSONL of examples -> predictions JSONL (resumable)."""

from __future__ import annotations

import argparse

from percontrast.commands.score import add_model_arguments


def config_classes() -> dict[type, tuple[str, ...]]:
    """The dataclasses this command's flags come from, each with the fields that are not flags."""
    from percontrast.generation.config import DecodingConfig, SamplingConfig

    return {SamplingConfig: (), DecodingConfig: ()}


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from percontrast.commands.config_flags import add_config_arguments
    from percontrast.generation.config import DecodingConfig, SamplingConfig

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
    """Persona-contrastive decoding flags (`percontrast.generation.contrastive`), shared with `aloe`."""
    from percontrast.commands.config_flags import add_config_arguments
    from percontrast.generation.config import DecodingConfig

    add_config_arguments(parser, DecodingConfig, only=CONTRAST_FIELDS)


def run(args: argparse.Namespace) -> int:
    from percontrast.commands.config_flags import config_from_args
    from percontrast.generation.config import DecodingConfig, SamplingConfig
    from percontrast.generation.files import generate_file

    config = config_from_args(DecodingConfig, args, sampling=config_from_args(SamplingConfig, args))
    generate_file(config, args.model, args.data, args.out, dtype=args.dtype, device=args.device)
    return 0
