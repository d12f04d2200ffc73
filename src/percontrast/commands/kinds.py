"""``percontrast kinds``: Figure 1 quantified, the PIR of scores files by kind of token (issue 21, section 2).

    percontrast kinds --scores SPC=spc_scores.jsonl --scores PQA=pqa_scores.jsonl --out kinds.json --plot kinds.png

Each ``--scores`` file (written by ``percontrast score``) is one task, named once; see
`percontrast.analysis.token_kinds`. Files written with ``--pir-form ratio`` are read as log PIR (from each record's
log-probs, exactly); files without the ``pir_form`` field hold log PIR, ``score``'s default.
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
        help="a scores JSONL of `percontrast score`, named (each task once); repeatable. Ratio-form files "
        "(--pir-form ratio) are read as log PIR, from each record's log-probs; files without pir_form are log PIR",
    )
    parser.add_argument("--out", required=True, help="where to write the JSON tables")
    parser.add_argument("--plot", default=None, help="also write a PNG (a .png name)")
    return parser


def run(args: argparse.Namespace) -> int:
    from percontrast.analysis.token_kinds import kind_table, kinds_png, markdown_table
    from percontrast.commands.groups import parse_models
    from percontrast.utils.errors import ConfigError
    from percontrast.utils.files import atomic_write_json, check_outputs
    from percontrast.utils.plots import check_image_name

    files = parse_models(args.scores, flag="--scores", form="TASK=FILE")
    seen: dict[str, str] = {}
    for name, path in files:
        if name in seen:
            raise ConfigError(
                f"--scores: task {name!r} is given twice ({seen[name]} and {path}); give each file its own name"
            )
        seen[name] = path
    check_image_name("--plot", args.plot, formats=("png",))  # kinds_png writes PNG bytes
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


def _score_records(path: str) -> list[dict]:
    """The records of a scores file (`percontrast score --out`), checked (`token_kinds.scores_record`: PIR
    as log PIR); anything else, or no record at all, is a one-line error."""
    from percontrast.analysis.token_kinds import scores_record
    from percontrast.utils.errors import DataError
    from percontrast.utils.jsonl import iter_jsonl

    records = [scores_record(record, path=path, line=line) for line, record in iter_jsonl(path)]
    if not records:
        raise DataError("no scores records; give a file written by `percontrast score --out`", path=path)
    return records
