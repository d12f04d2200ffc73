"""``percontrast score``: PerContrast token scores for a JSONL file of examples, and a heatmap."""

from __future__ import annotations

import argparse


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """The model flags shared by every subcommand that loads a model."""
    from percontrast.modeling.load import ALIASES, DEFAULT_MODEL

    parser.add_argument(
        "--model",
        default=DEFAULT_MODEL,
        help=f"alias ({', '.join(ALIASES)}), local directory or hub id (default: {DEFAULT_MODEL})",
    )
    parser.add_argument("--dtype", default=None, help="parameter dtype: float32 (default), bfloat16, float16")
    parser.add_argument("--device", default=None, help="cpu (default), cuda, cuda:1, ...")


def config_classes() -> dict[type, tuple[str, ...]]:
    """The dataclasses this command's flags come from, each with the fields that are not flags."""
    from percontrast.scoring.config import ScoreConfig

    return {ScoreConfig: ()}


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from percontrast.commands.config_flags import add_config_arguments
    from percontrast.scoring.config import ScoreConfig

    parser = subparsers.add_parser(
        "score", help="score every response token by its Personal Influence Ratio (PIR)"
    )
    add_model_arguments(parser)
    parser.add_argument("--data", required=True, help="JSONL of examples {id, persona, query, response}")
    parser.add_argument("--out", required=True, help="where to write token scores (JSONL)")
    parser.add_argument("--html", default=None, help="also write an HTML heatmap here")
    add_config_arguments(parser, ScoreConfig)
    return parser


def run(args: argparse.Namespace) -> int:
    from percontrast.commands.config_flags import config_from_args
    from percontrast.scoring.config import ScoreConfig
    from percontrast.scoring.files import score_file

    config = config_from_args(ScoreConfig, args)
    score_file(config, args.model, args.data, args.out, html=args.html, dtype=args.dtype, device=args.device)
    return 0
