"""``percontrast construct``: make an annotated persona QA set with a strong model (the paper's Figure 6).

Each persona goes to an OpenAI-compatible server with the Appendix D.2 construction prompt; parsable
replies whose keywords occur in the answer and whose answer has 5 to 20 words (the paper's rule) are written in the bundled set's format, the rest go to
``<out>.rejected.jsonl`` with their reason, and the counts are logged and written to ``<out>.report.json``.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

logger = logging.getLogger(__name__)


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "construct", help="build an annotated persona QA set with a strong model behind an HTTP API"
    )
    parser.add_argument(
        "--personas", required=True, help="JSONL with a 'persona' (list of sentences) per line"
    )
    parser.add_argument(
        "--out", required=True, help="JSONL of kept items (read by `percontrast identify --data`)"
    )
    parser.add_argument(
        "--url", required=True, help="OpenAI-compatible API root, e.g. http://127.0.0.1:8000/v1"
    )
    parser.add_argument("--api-model", required=True, help="model name the server expects")
    parser.add_argument(
        "--key-env", default="OPENAI_API_KEY", help="environment variable holding the API key"
    )
    parser.add_argument("--temperature", type=float, default=0.7, help="sampling temperature (default 0.7)")
    parser.add_argument("--max-new-tokens", type=int, default=256, help="reply length limit")
    parser.add_argument("--seed", type=int, default=0, help="seed sent to the server")
    parser.add_argument("--limit", type=int, default=None, help="use only the first N personas")
    return parser


def run(args: argparse.Namespace) -> int:
    from percontrast.data.schema import write_jsonl
    from percontrast.data.synthetic import construct_dataset, read_personas
    from percontrast.evaluation.backends import OpenAIChat

    personas = read_personas(args.personas)[: args.limit]
    backend = OpenAIChat(args.url, args.api_model, api_key_env=args.key_env)
    records, report = construct_dataset(
        personas, backend, temperature=args.temperature, max_new_tokens=args.max_new_tokens, seed=args.seed
    )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_jsonl(out, records)
    write_jsonl(out.with_suffix(".rejected.jsonl"), report.rejected)
    out.with_suffix(".report.json").write_text(
        json.dumps(report.to_dict(), indent=2) + "\n", encoding="utf-8"
    )
    logger.info(
        "kept %d of %d personas in %s; set aside %s (replies in %s)",
        report.n_kept,
        report.n_personas,
        out,
        dict(report.set_aside),
        out.with_suffix(".rejected.jsonl"),
    )
    return 0
