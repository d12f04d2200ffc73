"""``percontrast report RESULTS``: the paper's tables (markdown, HTML, plots) from a results table alone.

percontrast report runs/experiments/cpu-smollm2/results.jsonl --out runs/experiments/cpu-smollm2/report
"""

from __future__ import annotations

import argparse


def config_classes() -> dict[type, tuple[str, ...]]:
    """The dataclasses this command's flags come from. None: it takes a results file and an output folder, no settings."""
    return {}


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "report", help="the paper's tables (markdown + HTML + plots) from results.jsonl"
    )
    parser.add_argument("results", help="results.jsonl written by `percontrast experiment`")
    parser.add_argument("--out", default=None, help="output folder (default: report/ beside the results)")
    parser.add_argument(
        "--score-replies",
        action="store_true",
        help="first write the per-example ROUGE/METEOR of cells whose predictions lack them (cells of a grid "
        "run before they were kept; METEOR reads WordNet): the paired reply differences need them",
    )
    return parser


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from percontrast.experiments.report import write_reports
    from percontrast.experiments.store import read_results
    from percontrast.utils.errors import DataError
    from percontrast.utils.files import check_outputs

    results = Path(args.results)
    out = Path(args.out) if args.out else results.parent / "report"
    check_outputs(inputs={"results": results})
    if out.exists() and not out.is_dir():
        raise DataError(f"--out {out} is a file; give a folder for the report")
    records = read_results(results)
    if not any(record["kind"] in ("metric", "cell") for record in records):
        raise DataError(
            "no metric or cell record: not the results of `percontrast experiment`", path=str(results)
        )
    if args.score_replies:
        from percontrast.experiments.steps import score_missing_replies

        counts = score_missing_replies(results.parent, ["rouge", "meteor"])
        print(f"per-example reply scores: {counts['scored']} written, {counts['present']} already there")
    paths = write_reports(results, out)
    print("\n".join(str(path) for path in paths))
    return 0
