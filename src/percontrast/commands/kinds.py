"""``percontrast kinds``: Figure 1 quantified, the PIR of scores files by kind of token (issue 21, section 2).

    percontrast kinds --scores SPC=spc_scores.jsonl --scores PQA=pqa_scores.jsonl --out kinds.json --plot kinds.png

Each ``--scores`` file (written by ``percontrast score``) is one task; see `percontrast.analysis.token_kinds`.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

logger = logging.getLogger(__name__)


def config_classes() -> dict[type, tuple[str, ...]]:
    """The dataclasses this command's flags come from: none, it takes scores files and output paths only."""
    return {}


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "kinds",
        help="share of positive PIR mass and mean PIR by kind of token (persona words, function words, ...)",
    )
    parser.add_argument(
        "--scores",
        action="append",
        required=True,
        metavar="TASK=FILE",
        help="a scores JSONL, named; repeatable",
    )
    parser.add_argument("--out", required=True, help="where to write the JSON tables")
    parser.add_argument("--plot", default=None, help="also write a PNG")
    return parser


def run(args: argparse.Namespace) -> int:
    from percontrast.analysis.token_kinds import kind_table, kinds_png, markdown_table
    from percontrast.commands.groups import parse_models
    from percontrast.utils.files import atomic_write_json, check_outputs

    files = parse_models(args.scores)
    check_outputs(
        inputs={f"--scores {name}": path for name, path in files},
        outputs={"--out": args.out, "--plot": args.plot},
    )
    tables = {name: kind_table(_score_records(path)) for name, path in files}
    table = markdown_table(tables)
    print(table)
    atomic_write_json(args.out, {"tasks": tables, "files": dict(files), "table": table})
    if args.plot:
        Path(args.plot).write_bytes(kinds_png(tables))
        logger.info("wrote %s", args.plot)
    return 0


SCORE_FIELDS = ("prompt_with", "prompt_without", "response", "offsets", "pir")


def _score_records(path: str) -> list[dict]:
    """The records of a scores file (`percontrast score --out`); anything else is a one-line error."""
    from percontrast.utils.errors import DataError
    from percontrast.utils.jsonl import iter_jsonl

    records = []
    for line, record in iter_jsonl(path):
        missing = [key for key in SCORE_FIELDS if not isinstance(record, dict) or key not in record]
        if missing:
            raise DataError(
                f"not a scores record (missing {missing}); give files written by `percontrast score --out`",
                path=path,
                line=line,
            )
        records.append(record)
    return records
