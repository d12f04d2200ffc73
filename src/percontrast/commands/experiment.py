"""``percontrast experiment``: run a grid of data -> train -> generate -> evaluate cells from a YAML.

    percontrast experiment configs/cpu/smollm2_spc.yaml            # run (resumes where it stopped)
    percontrast experiment configs/cpu/smollm2_spc.yaml --dry-run  # list cells and their steps
    percontrast experiment configs/paper/qwen3_4b.yaml --cell-index $SLURM_ARRAY_TASK_ID
    percontrast experiment CONFIG --count                           # number of cells (Slurm --array)

Results go to ``<output_dir>/results.jsonl``; ``percontrast report`` turns them into the paper's tables.
See docs/experiments.md.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

logger = logging.getLogger(__name__)


def config_classes() -> dict[type, tuple[str, ...]]:
    """The dataclasses this command's flags come from. None: every setting is in the experiment YAML (`experiments.config.ExperimentConfig`); the flags
    choose what to run (a cell, a dry run) and where."""
    return {}


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "experiment", help="run a grid of training + evaluation cells from a YAML config (resumable)"
    )
    parser.add_argument("config", help="experiment YAML (see configs/ and docs/experiments.md)")
    parser.add_argument("--dry-run", action="store_true", help="print the cells and their steps; run nothing")
    parser.add_argument("--count", action="store_true", help="print the number of cells and exit")
    parser.add_argument(
        "--cell-index",
        type=int,
        action="append",
        default=None,
        help="run only this cell (0-based; repeatable), e.g. $SLURM_ARRAY_TASK_ID",
    )
    parser.add_argument("--output-dir", default=None, help="override the config's output_dir")
    parser.add_argument("--report", action="store_true", help="write the reports when the grid is done")
    return parser


def run(args: argparse.Namespace) -> int:
    from percontrast.experiments.config import load_experiment_config
    from percontrast.experiments.grid import expand
    from percontrast.experiments.runner import RESULTS_NAME, dry_run, run_experiment

    overrides = {"output_dir": args.output_dir} if args.output_dir else None
    config = load_experiment_config(args.config, overrides)
    if args.count:
        print(len(expand(config)))
        return 0
    if args.dry_run:
        print(dry_run(config, args.cell_index))
        return 0
    summary = run_experiment(config, indices=args.cell_index)
    print(
        f"{summary.total} cells: {len(summary.ok)} run, {summary.skipped} already finished, "
        f"{len(summary.failed)} failed ({summary.seconds:.0f} s)"
    )
    for cell, error in summary.failed.items():
        print(f"  failed {cell}: {error.splitlines()[0]}")
    print(f"results: {Path(config.output_dir) / RESULTS_NAME}")
    if args.report:
        from percontrast.experiments.report import write_reports

        paths = write_reports(Path(config.output_dir) / RESULTS_NAME, Path(config.output_dir) / "report")
        print("reports: " + ", ".join(str(p) for p in paths))
    return 1 if summary.failed else 0
