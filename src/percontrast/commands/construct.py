"""``percontrast construct``: make an annotated persona QA set with a strong model (the paper's Figure 6).

Each persona goes to an OpenAI-compatible server with the Appendix D.2 construction prompt; parsable
replies whose keywords occur in the answer and whose answer has 5 to 20 words (the paper's rule) are written in the bundled set's format, the rest go to
``<out>.rejected.jsonl`` with their reason, and the counts are logged and written to ``<out>.report.json``.
Both JSONL files are appended to as each reply arrives: an interrupted run resumes where it stopped
when the same command is run again (the settings are recorded beside them and must match).
"""

from __future__ import annotations

import argparse


def config_classes() -> dict[type, tuple[str, ...]]:
    """The dataclasses this command's flags come from, each with the fields that are not flags (the
    construction model is a role: ``--url``, ``--api-model``, ...)."""
    from percontrast.data.construct_config import ConstructConfig

    return {ConstructConfig: ()}


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from percontrast.commands.config_flags import add_config_arguments
    from percontrast.commands.evaluate import add_chat_arguments
    from percontrast.data.construct_config import ConstructConfig

    parser = subparsers.add_parser(
        "construct", help="build an annotated persona QA set with a strong model behind an HTTP API"
    )
    parser.add_argument(
        "--personas", required=True, help="JSONL with a 'persona' (list of sentences) per line"
    )
    parser.add_argument(
        "--out", required=True, help="JSONL of kept items (read by `percontrast identify --data`)"
    )
    add_chat_arguments(parser, ConstructConfig, "writer", required=("url", "api_model"), show_default=False)
    add_config_arguments(parser, ConstructConfig)
    return parser


def run(args: argparse.Namespace) -> int:
    from percontrast.commands.config_flags import config_from_args
    from percontrast.data.construct_config import ConstructConfig
    from percontrast.data.synthetic import construct_files
    from percontrast.utils.errors import ConfigError

    if args.limit is not None and args.limit < 1:
        raise ConfigError(f"--limit {args.limit}: expected a positive number of personas")
    construct_files(config_from_args(ConstructConfig, args), args.personas, args.out)
    return 0
