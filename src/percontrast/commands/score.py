"""``percontrast score``: PerContrast token scores for a JSONL file of examples, and a heatmap."""

from __future__ import annotations

import argparse
import logging

logger = logging.getLogger(__name__)


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """The model flags shared by every subcommand that loads a model."""
    from percontrast.modeling import ALIASES, DEFAULT_MODEL

    parser.add_argument(
        "--model",
        default=DEFAULT_MODEL,
        help=f"alias ({', '.join(ALIASES)}), local directory or hub id (default: {DEFAULT_MODEL})",
    )
    parser.add_argument("--dtype", default=None, help="parameter dtype: float32 (default), bfloat16, float16")
    parser.add_argument("--device", default=None, help="cpu (default), cuda, cuda:1, ...")


def config_classes() -> dict[type, tuple[str, ...]]:
    """The dataclasses this command's flags come from, each with the fields that are not flags."""
    from percontrast.scoring_config import ScoreConfig

    return {ScoreConfig: ()}


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from percontrast.commands.config_flags import add_config_arguments
    from percontrast.scoring_config import ScoreConfig

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
    from percontrast.data.schema import read_examples, write_jsonl
    from percontrast.modeling import load_model
    from percontrast.outputs import check_outputs
    from percontrast.report.heatmap import write_heatmap
    from percontrast.scoring import score_examples
    from percontrast.scoring_config import ScoreConfig

    config = config_from_args(ScoreConfig, args)
    check_outputs(inputs={"--data": args.data}, outputs={"--out": args.out, "--html": args.html})
    examples = read_examples(args.data)
    model, tokenizer = load_model(args.model, dtype=args.dtype, device=args.device)
    scores = score_examples(model, tokenizer, examples, **config.score_kwargs())
    write_jsonl(args.out, scores)
    logger.info("wrote token scores of %d examples to %s", len(scores), args.out)
    if args.html:
        write_heatmap(scores, args.html, title=f"PerContrast token scores: {args.data} ({args.model})")
        logger.info("wrote heatmap to %s", args.html)
    return 0
