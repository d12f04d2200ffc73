"""``percontrast report RESULTS``: the paper's tables (markdown, HTML, plots) from a results table alone.

percontrast report runs/experiments/cpu-smollm2/results.jsonl --out runs/experiments/cpu-smollm2/report
"""

from __future__ import annotations

import argparse


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "report", help="the paper's tables (markdown + HTML + plots) from results.jsonl"
    )
    parser.add_argument("results", help="results.jsonl written by `percontrast experiment`")
    parser.add_argument("--out", default=None, help="output folder (default: report/ beside the results)")
    return parser


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from percontrast.experiments.report import write_reports

    results = Path(args.results)
    out = Path(args.out) if args.out else results.parent / "report"
    paths = write_reports(results, out)
    print("\n".join(str(path) for path in paths))
    return 0
