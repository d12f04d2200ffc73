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


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "score", help="score every response token by its Personal Influence Ratio (PIR)"
    )
    add_model_arguments(parser)
    parser.add_argument("--data", required=True, help="JSONL of examples {id, persona, query, response}")
    parser.add_argument("--out", required=True, help="where to write token scores (JSONL)")
    parser.add_argument("--html", default=None, help="also write an HTML heatmap here")
    parser.add_argument(
        "--template",
        default=None,
        help="prompt template name (default: each example's own `template` field, else persona_chat)",
    )
    parser.add_argument(
        "--pir-form",
        choices=["log", "ratio"],
        default="log",
        help="log: Eq. 2 of the paper (default); ratio: exp of it",
    )
    parser.add_argument("--batch-size", type=int, default=16, help="most sequences per forward")
    parser.add_argument("--max-batch-tokens", type=int, default=8192, help="most padded tokens per forward")
    parser.add_argument(
        "--max-length", type=int, default=None, help="truncate the persona so prompt+response fits"
    )
    return parser


def run(args: argparse.Namespace) -> int:
    from percontrast.data.schema import read_examples, write_jsonl
    from percontrast.modeling import load_model
    from percontrast.outputs import check_outputs
    from percontrast.report.heatmap import write_heatmap
    from percontrast.scoring import score_examples

    check_outputs(inputs={"--data": args.data}, outputs={"--out": args.out, "--html": args.html})
    examples = read_examples(args.data)
    model, tokenizer = load_model(args.model, dtype=args.dtype, device=args.device)
    scores = score_examples(
        model,
        tokenizer,
        examples,
        template=args.template,
        pir_form=args.pir_form,
        max_batch_size=args.batch_size,
        max_batch_tokens=args.max_batch_tokens,
        max_length=args.max_length,
    )
    write_jsonl(args.out, scores)
    logger.info("wrote token scores of %d examples to %s", len(scores), args.out)
    if args.html:
        write_heatmap(scores, args.html, title=f"PerContrast token scores: {args.data} ({args.model})")
        logger.info("wrote heatmap to %s", args.html)
    return 0
