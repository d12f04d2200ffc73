"""How long ``percontrast --help`` and each ``percontrast COMMAND --help`` take, and their peak memory.

Issue 27: building the parser imported the whole stack (3.1 s and 429 MiB for ``percontrast --help``,
median of 5 on an idle 2-core machine). The config modules the flags come from now import neither torch
nor transformers, so the parser is built from them alone. ``train`` is the exception: its flags are
``transformers.TrainingArguments``' (PerCEConfig subclasses it), so ``train --help`` imports transformers.

Each command runs in a fresh process, ``--repeats`` times, interleaved; the table gives the median wall
time and the median peak resident memory (the child's ``ru_maxrss``), and the last line the ratio of
``percontrast --help`` to a bare ``python -c pass`` (the interpreter's own start-up).

    python benchmarks/cli_startup.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

COMMANDS = [
    [],
    ["score"],
    ["identify"],
    ["data"],
    ["construct"],
    ["generate"],
    ["evaluate"],
    ["aloe"],
    ["groups"],
    ["kinds"],
    ["report"],
    ["experiment"],
    ["demo"],
    ["train"],
]


def measure(argv: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of one run of ``argv`` in a new process."""
    started = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        os.execv(argv[0], argv)
    _, status, usage = os.wait4(pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(argv)} failed")
    return seconds, usage.ru_maxrss / 1024  # KiB on Linux


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    entry = [sys.executable, "-m", "percontrast.cli"]
    runs = {" ".join(["percontrast", *c, "--help"]): entry + [*c, "--help"] for c in COMMANDS}
    runs["python -c pass (baseline)"] = [sys.executable, "-c", "pass"]
    times: dict[str, list[float]] = {name: [] for name in runs}
    memory: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(args.repeats):
        for name, argv in runs.items():
            seconds, mib = measure(argv)
            times[name].append(seconds)
            memory[name].append(mib)
    print(f"{'command':42} {'median s':>9} {'median MiB':>11}   (runs: {args.repeats})")
    for name in runs:
        print(f"{name:42} {statistics.median(times[name]):9.3f} {statistics.median(memory[name]):11.0f}")
    ratio = statistics.median(times["percontrast --help"]) / statistics.median(
        times["python -c pass (baseline)"]
    )
    print(f"help_over_bare_python={ratio:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
