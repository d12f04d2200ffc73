"""``percontrast demo``: the whole method on the embedded default model, offline, on CPU.

Scores the bundled persona answers (token heatmap), identifies personal tokens on the bundled annotated
set (PerContrast vs word matching vs an LLM judge), fine-tunes SmolLM2-135M-Instruct with CE and PerCE on
a small personalization task and compares them on held-out personas, and writes one HTML report. About
10 minutes on 2 CPU cores; ``--full`` runs the comparison longer over three seeds with intervals;
``--quick`` is a seconds-long smoke run (for ``--model tiny``). The work is `percontrast.demo.run_demo`.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from percontrast.commands import positive_int

logger = logging.getLogger(__name__)


def demo_examples_path() -> Path:
    from percontrast.demo.pipeline import demo_examples_path as path

    return path()


def config_classes() -> dict[type, tuple[str, ...]]:
    """The dataclasses this command's flags come from, each with the fields that are not flags: every
    `DemoConfig` field but ``preset`` (chosen by --full / --quick). A flag left out keeps the preset's
    value, so the flags are unset by default (``unset_if_absent``) and their help names the default."""
    from percontrast.demo.config import DemoConfig

    return {DemoConfig: ("preset",)}


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from percontrast.commands.config_flags import add_config_arguments
    from percontrast.demo.config import DemoConfig

    parser = subparsers.add_parser(
        "demo",
        help="the whole method on the embedded model: heatmap, identification, CE vs PerCE, HTML report",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    size = parser.add_mutually_exclusive_group()
    size.add_argument(
        "--full",
        action="store_true",
        help="longer training, all held-out examples, seeds 0 1 2, intervals (65-80 min on 2 CPU cores)",
    )
    size.add_argument("--quick", action="store_true", help="a seconds-long smoke run (numbers mean nothing)")
    settings = parser.add_argument_group(
        "settings", "a flag left out keeps the preset's value; the defaults shown are the default preset's"
    )
    add_config_arguments(
        settings,
        DemoConfig,
        exclude=("preset",),
        types={name: positive_int for name in POSITIVE},
        unset_if_absent=True,
    )
    return parser


# Sizes whose bad values argparse refuses in one line before anything runs (DemoConfig checks the rest).
POSITIVE = ("train_steps", "batch_size", "history", "n_eval", "max_new_tokens", "eval_batch_size")


def config_from_args(args: argparse.Namespace):
    """The `DemoConfig` the flags ask for: the preset, then every flag given."""
    from percontrast.commands.config_flags import given_values
    from percontrast.demo.config import DemoConfig
    from percontrast.utils.errors import ConfigError

    values = given_values(DemoConfig, args)
    out_dir = Path(values.get("out_dir", DemoConfig.out_dir))
    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError(
            f"--out-dir {out_dir} is a file, not a directory; give a directory (it is created if missing)"
        )
    preset = "full" if args.full else "quick" if args.quick else "default"
    return DemoConfig.preset_config(preset, **values)


def run(args: argparse.Namespace) -> int:
    from percontrast.demo.pipeline import run_demo

    run_demo(config_from_args(args), say=print)
    return 0
