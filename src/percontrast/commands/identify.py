"""``percontrast identify``: PerContrast vs word matching vs an LLM judge on an annotated persona QA set.

Writes results.json (precision / recall / F1 per method, AUROC of PIR, Figure 5's breakdown, per-example
details), a markdown table beside it, and optionally Figure 5 as a PNG.
"""

from __future__ import annotations

import argparse


def config_classes() -> dict[type, tuple[str, ...]]:
    """The dataclasses this command's flags come from, each with the fields that are not flags (the
    judge is a role: ``--judge-*``)."""
    from percontrast.identification.config import IdentifyConfig

    return {IdentifyConfig: ()}


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from percontrast.commands.config_flags import add_config_arguments
    from percontrast.commands.evaluate import add_chat_arguments
    from percontrast.commands.score import add_model_arguments
    from percontrast.identification.config import IdentifyConfig

    parser = subparsers.add_parser(
        "identify", help="which answer tokens carry the persona: PerContrast vs word matching vs LLM judge"
    )
    add_model_arguments(parser)
    parser.add_argument(
        "--data", default=None, help="annotated persona QA JSONL (default: the bundled 120-item dev set)"
    )
    parser.add_argument("--out", required=True, help="results JSON (a .md table is written beside it)")
    parser.add_argument("--plot", default=None, help="write Figure 5 (PIR ranges) as a PNG here")
    add_config_arguments(parser, IdentifyConfig)
    add_chat_arguments(parser, IdentifyConfig, "judge", show_default=False)
    return parser


def run(args: argparse.Namespace) -> int:
    from percontrast.commands.config_flags import config_from_args
    from percontrast.identification.config import IdentifyConfig
    from percontrast.identification.files import identify_files, tables

    check_arguments(args)
    config = config_from_args(IdentifyConfig, args)
    result = identify_files(
        config, args.model, args.data, args.out, plot=args.plot, dtype=args.dtype, device=args.device
    )
    print(tables(result))
    return 0


def check_arguments(args: argparse.Namespace) -> None:
    """Refuse bad values and colliding paths before the model is loaded (a Figure 5 format, too)."""
    import math

    from percontrast.utils.errors import ConfigError
    from percontrast.utils.files import check_outputs, sibling
    from percontrast.utils.plots import check_image_name

    if not math.isfinite(args.threshold):
        raise ConfigError(f"--threshold {args.threshold}: expected a finite PIR value (default 1)")
    if args.donors < 0:
        raise ConfigError(
            f"--donors {args.donors}: expected 0 (persona removed) or a positive number of personas"
        )
    check_image_name("--plot", args.plot)  # Figure 5 is saved in the format the name asks for
    check_outputs(
        inputs={"--data": args.data},
        outputs={
            "--out": args.out,
            "the markdown table beside --out": sibling(args.out, ".md"),
            "--plot": args.plot,
        },
    )
