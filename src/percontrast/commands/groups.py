"""``percontrast groups``: NLL and PIR by token group for several models on one data file (issue 21).

    percontrast groups --model base=smollm2-135m-instruct --model ce=runs/ce --model perce=runs/perce \\
        --data test.jsonl --out groups.json --plot groups.png

A name given several times (``--model ce=runs/ce_s0 --model ce=runs/ce_s1``) is one model with several
seeds. The groups are defined once, from ``--reference`` (default: the first model), see
`percontrast.token_groups`.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from percontrast.errors import ConfigError

logger = logging.getLogger(__name__)


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from percontrast.token_groups import DEFAULT_THRESHOLD

    parser = subparsers.add_parser(
        "groups",
        help="NLL and PIR per token group (annotated personal words, personal by a reference model, rest)",
    )
    parser.add_argument(
        "--model",
        action="append",
        required=True,
        metavar="NAME=MODEL",
        help="a model to compare (alias or directory), named; repeat the name for seeds; the first is the baseline",
    )
    parser.add_argument(
        "--data", required=True, help="JSONL of examples, or of annotated persona QA (personal_spans)"
    )
    parser.add_argument("--out", required=True, help="where to write the JSON summary")
    parser.add_argument("--plot", default=None, help="also write a PNG of NLL per group")
    parser.add_argument(
        "--reference",
        default=None,
        help="model name (or alias/directory) whose PIR defines the groups (default: the first)",
    )
    parser.add_argument(
        "--threshold",
        type=float,
        default=DEFAULT_THRESHOLD,
        help="reference PIR above which a token is personal",
    )
    parser.add_argument(
        "--baseline", default=None, help="model differences are taken from (default: the first)"
    )
    parser.add_argument("--template", default=None, help="prompt template (default: each example's own)")
    parser.add_argument(
        "--max-length", type=int, default=None, help="truncate the persona so prompt+response fits"
    )
    parser.add_argument("--batch-size", type=int, default=16, help="most sequences per forward")
    parser.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples (0: no intervals)")
    parser.add_argument("--dtype", default=None, help="parameter dtype: float32 (default), bfloat16, float16")
    parser.add_argument("--device", default=None, help="cpu (default), cuda, ...")
    return parser


def parse_models(values: list[str]) -> list[tuple[str, str]]:
    """``NAME=MODEL`` strings as pairs; a bare ``MODEL`` is named by itself."""
    pairs = []
    for value in values:
        name, sep, path = value.partition("=")
        if not sep:
            name, path = value, value
        if not name or not path:
            raise ConfigError(f"--model takes NAME=MODEL, got {value!r}")
        pairs.append((name, path))
    return pairs


def read_data(path: str):
    """Annotated persona QA records (``answer`` and ``personal_spans``) or plain examples."""
    from percontrast.data.persona_qa import read_persona_qa
    from percontrast.data.schema import read_examples

    with open(path, encoding="utf-8") as handle:
        first = next((line for line in handle if line.strip()), "{}")
    try:
        keys = set(json.loads(first))
    except (json.JSONDecodeError, TypeError):
        keys = set()
    return read_persona_qa(path) if {"answer", "personal_spans"} <= keys else read_examples(path)


def run(args: argparse.Namespace) -> int:
    from percontrast.outputs import atomic_write_json, check_outputs
    from percontrast.token_groups import groups_png, markdown_table, measure_groups, summarize_groups

    check_outputs(inputs={"--data": args.data}, outputs={"--out": args.out, "--plot": args.plot})
    models = parse_models(args.model)
    examples = read_data(args.data)
    groups, sums = measure_groups(
        models,
        examples,
        reference=args.reference,
        threshold=args.threshold,
        template=args.template,
        max_length=args.max_length,
        batch_size=args.batch_size,
        dtype=args.dtype,
        device=args.device,
    )
    summary = summarize_groups(groups, sums, baseline=args.baseline, n_bootstrap=args.bootstrap)
    summary.update(
        data=str(args.data),
        model_paths=[list(pair) for pair in models],
        template=args.template,
        max_length=args.max_length,
    )
    table = markdown_table(summary)
    print(table)
    atomic_write_json(args.out, summary | {"table": table})
    logger.info("wrote %s", args.out)
    if args.plot:
        Path(args.plot).write_bytes(groups_png(summary))
        logger.info("wrote %s", args.plot)
    return 0
