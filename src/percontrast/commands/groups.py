"""``percontrast groups``: NLL and PIR by token group for several models on one data file (issue 21).

    percontrast groups --model base=smollm2-135m-instruct --model ce=runs/ce --model perce=runs/perce \\
        --data test.jsonl --out groups.json --plot groups.png

A name given several times (``--model ce=runs/ce_s0 --model ce=runs/ce_s1``) is one model with several
seeds. The groups are defined once, from ``--reference`` (default: the first model), see
`percontrast.analysis.token_groups`.
"""

from __future__ import annotations

import argparse
import logging

from percontrast.utils.errors import ConfigError

logger = logging.getLogger(__name__)


def config_classes() -> dict[type, tuple[str, ...]]:
    """The dataclasses this command's flags come from, each with the fields that are not flags."""
    from percontrast.analysis.config import GroupsConfig

    return {GroupsConfig: ()}


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from percontrast.analysis.config import GroupsConfig
    from percontrast.commands.config_flags import add_config_arguments

    parser = subparsers.add_parser(
        "groups",
        help="NLL and PIR per token group (annotated personal words, personal by a reference model, rest)",
    )
    parser.add_argument(
        "--model",
        action="append",
        required=True,
        metavar="NAME=MODEL",
        help="a model to compare (alias or directory), named; repeat the name for seeds; the first is the baseline",
    )
    parser.add_argument(
        "--data", required=True, help="JSONL of examples, or of annotated persona QA (personal_spans)"
    )
    parser.add_argument("--out", required=True, help="where to write the JSON summary")
    parser.add_argument("--plot", default=None, help="also write a PNG of NLL per group")
    add_config_arguments(parser, GroupsConfig)
    parser.add_argument("--dtype", default=None, help="parameter dtype: float32 (default), bfloat16, float16")
    parser.add_argument("--device", default=None, help="cpu (default), cuda, ...")
    return parser


def parse_models(values: list[str]) -> list[tuple[str, str]]:
    """``NAME=MODEL`` strings as pairs; a bare ``MODEL`` is named by itself."""
    pairs = []
    for value in values:
        name, sep, path = value.partition("=")
        if not sep:
            name, path = value, value
        if not name or not path:
            raise ConfigError(f"--model takes NAME=MODEL, got {value!r}")
        pairs.append((name, path))
    return pairs


def read_data(path: str):
    """Annotated persona QA records (``answer`` and ``personal_spans``) or plain examples."""
    from percontrast.data.persona_qa import read_persona_qa
    from percontrast.data.schema import read_examples
    from percontrast.utils.jsonl import iter_jsonl

    first = next((record for _, record in iter_jsonl(path)), {})  # bad bytes or JSON: a one-line DataError
    keys = set(first) if isinstance(first, dict) else set()
    return read_persona_qa(path) if {"answer", "personal_spans"} <= keys else read_examples(path)


def run(args: argparse.Namespace) -> int:
    from percontrast.analysis.config import GroupsConfig
    from percontrast.analysis.token_groups import groups_file
    from percontrast.commands.config_flags import config_from_args

    config = config_from_args(GroupsConfig, args)
    groups_file(config, parse_models(args.model), read_data, args.data, args.out, plot=args.plot,
                dtype=args.dtype, device=args.device)  # fmt: skip
    return 0
