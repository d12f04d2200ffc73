"""One module per CLI subcommand: ``add_parser(subparsers)`` and ``run(args) -> int``.

The argparse types below are shared by the subcommands' flags: a bad value is argparse's one-line
error naming the flag (exit 2), before anything runs.
"""

from __future__ import annotations

import argparse
import math


def positive_int(text: str) -> int:
    """An integer >= 1 (token counts, sizes)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def temperature(text: str) -> float:
    """A sampling temperature: a finite number >= 0 (0: greedy)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"expected a finite temperature >= 0, got {text}")
    return value
