"""The ``percontrast`` command line: one subcommand per module in `percontrast.commands`.

Each subcommand module defines ``add_parser(subparsers)`` and ``run(args) -> int`` and calls one
library function, so notebooks and tests call what the CLI calls. Heavy imports (torch,
transformers) happen inside ``run`` so ``percontrast --help`` stays fast.

    percontrast demo
    percontrast score --model smollm2-135m-instruct --data ex.jsonl --out scores.jsonl --html heatmap.html
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from percontrast.utils.errors import Interrupted, PercontrastError

# Subcommand name -> module under percontrast.commands (registration order is the help order).
SUBCOMMANDS = [
    "demo",
    "score",
    "groups",
    "kinds",
    "identify",
    "construct",
    "data",
    "train",
    "generate",
    "evaluate",
    "aloe",
    "experiment",
    "report",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="percontrast", description="Token-level personalization of LLMs: PerContrast and PerCE."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS:
        module = importlib.import_module(f"percontrast.commands.{name}")
        sub = module.add_parser(subparsers)
        sub.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv``, run the subcommand, and return its exit code (2 on bad input, 130 on Ctrl-C)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(name)s: %(message)s"
    )
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except Interrupted as exc:
        print(f"percontrast {args.command}: interrupted: {exc}", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print(f"percontrast {args.command}: interrupted", file=sys.stderr)
        return 130
    except PercontrastError as exc:
        print(f"percontrast {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        # The one place where file-system errors become one line: a directory given as a file, a
        # missing folder, no permission. Errors without a file name are bugs: let them show.
        if exc.filename is None:
            raise
        print(f"percontrast {args.command}: error: {exc.filename}: {exc.strerror}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
