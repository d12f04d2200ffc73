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
    """The dataclasses this command's flags come from. None of its own: each flag overrides one field of a `demo.DemoConfig` preset (default, --quick,
    --full), so every flag defaults to None, the preset's value; the defaults are defined once, there."""
    return {}


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "demo",
        help="the whole method on the embedded model: heatmap, identification, CE vs PerCE, HTML report",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--model",
        default=None,
        help="model alias or path (default: smollm2-135m-instruct; tiny with --quick)",
    )
    parser.add_argument(
        "--out-dir",
        default="percontrast_demo",
        help="where to write report.html, heatmap.html, scores.jsonl, comparison.json (default: percontrast_demo)",
    )
    size = parser.add_mutually_exclusive_group()
    size.add_argument(
        "--full",
        action="store_true",
        help="longer training, all held-out examples, seeds 0 1 2, intervals (65-80 min on 2 CPU cores)",
    )
    size.add_argument("--quick", action="store_true", help="a seconds-long smoke run (numbers mean nothing)")
    parser.add_argument("--seeds", type=int, nargs="+", default=None, help="training seeds")
    parser.add_argument("--train-steps", type=int, default=None, help="optimizer steps per training run")
    parser.add_argument("--batch-size", type=int, default=None, help="examples per optimizer step")
    parser.add_argument("--learning-rate", type=float, default=None, help="learning rate (full fine-tune)")
    parser.add_argument("--history", type=int, default=None, help="prior messages kept in the prompt")
    parser.add_argument("--max-length", type=int, default=None, help="longest sequence (persona truncated)")
    parser.add_argument("--n-eval", type=int, default=None, help="held-out replies scored by likelihood")
    parser.add_argument(
        "--n-generate", type=int, default=None, help="of those, replies generated for ROUGE-L / METEOR"
    )
    parser.add_argument("--max-new-tokens", type=positive_int, default=None, help="longest generated reply")
    parser.add_argument("--eval-batch-size", type=int, default=None, help="examples per scoring batch")
    parser.add_argument(
        "--identify-limit", type=int, default=None, help="identify on the first N annotated items only"
    )
    parser.add_argument("--no-identify", action="store_true", help="skip the identification step")
    parser.add_argument("--bootstrap", type=int, default=None, help="bootstrap resamples for intervals")
    parser.add_argument(
        "--keep-models", action="store_true", help="keep the fine-tuned weights under OUT_DIR/runs"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    return parser


def config_from_args(args: argparse.Namespace):
    """The `DemoConfig` the flags ask for: the preset, then every flag given."""
    from percontrast.demo import DemoConfig
    from percontrast.utils.errors import ConfigError

    out_dir = Path(args.out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError(
            f"--out-dir {out_dir} is a file, not a directory; give a directory (it is created if missing)"
        )
    preset = "full" if args.full else "quick" if args.quick else "default"
    config = DemoConfig.preset_config(
        preset,
        model=args.model,
        out_dir=str(out_dir),
        seeds=tuple(args.seeds) if args.seeds else None,
        train_steps=args.train_steps,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        history=args.history,
        max_length=args.max_length,
        n_eval=args.n_eval,
        n_generate=args.n_generate,
        max_new_tokens=args.max_new_tokens,
        eval_batch_size=args.eval_batch_size,
        identify_limit=args.identify_limit,
        identify=False if args.no_identify else None,
        bootstrap=args.bootstrap,
        keep_models=True if args.keep_models else None,
        progress=False if args.no_progress else None,
    )
    return config


def run(args: argparse.Namespace) -> int:
    from percontrast.demo import run_demo

    run_demo(config_from_args(args), say=print)
    return 0
