"""``percontrast evaluate``: ROUGE, METEOR and the LLM judge on a predictions file -> metrics JSON."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

logger = logging.getLogger(__name__)


def add_judge_arguments(parser: argparse.ArgumentParser) -> None:
    """Judge flags shared by `evaluate` and `aloe`."""
    group = parser.add_argument_group("judge")
    group.add_argument(
        "--judge-model",
        default="smollm2-135m-instruct",
        help="local judge model (default: smollm2-135m-instruct)",
    )
    group.add_argument(
        "--judge-url",
        default=None,
        help="OpenAI-compatible API root (e.g. http://127.0.0.1:8000/v1); overrides --judge-model",
    )
    group.add_argument("--judge-api-model", default=None, help="model name sent to --judge-url")
    group.add_argument(
        "--judge-key-env", default="OPENAI_API_KEY", help="environment variable holding the API key"
    )
    group.add_argument(
        "--judge-mode",
        choices=["probability", "sample"],
        default=None,
        help="default: probability (local), sample (HTTP)",
    )
    group.add_argument("--judge-samples", type=int, default=1, help="samples per judgement in sample mode")


def build_judge(args: argparse.Namespace):
    from percontrast.evaluation.backends import OpenAIChat, TransformersChat
    from percontrast.evaluation.judge import Judge

    if args.judge_url:
        if not args.judge_api_model:
            from percontrast.errors import ConfigError

            raise ConfigError("--judge-url needs --judge-api-model, the model name the server expects")
        backend = OpenAIChat(args.judge_url, args.judge_api_model, api_key_env=args.judge_key_env)
    else:
        from percontrast.modeling import load_model

        backend = TransformersChat(*load_model(args.judge_model), name=args.judge_model)
    return Judge(backend, mode=args.judge_mode, n_samples=args.judge_samples)


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "evaluate", help="ROUGE-1/L, METEOR and LLM-judge scores of a predictions file"
    )
    parser.add_argument("--predictions", required=True, help="JSONL {id, prediction, reference}")
    parser.add_argument(
        "--metrics", default="rouge,meteor", help="comma list of rouge, meteor, judge (default: rouge,meteor)"
    )
    parser.add_argument(
        "--data",
        default=None,
        help="the examples JSONL the predictions came from (ids checked; needed by the judge)",
    )
    parser.add_argument("--out", default=None, help="metrics JSON (a .md table is written beside it)")
    parser.add_argument(
        "--bootstrap", action="store_true", help="also report evaluate's bootstrap ROUGE (seeded)"
    )
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed (default: 0)")
    parser.add_argument(
        "--benchmark",
        choices=["lamp", "longlamp"],
        default=None,
        help="whose rule for empty predictions applies: lamp scores every pair (empty = 0), longlamp drops "
        "pairs with a '' side (default: from --data's task; lamp when unknown)",
    )
    parser.add_argument(
        "--partial",
        action="store_true",
        help="with --data, score only the predicted examples instead of failing on missing ids "
        "(the output is labelled partial)",
    )
    add_judge_arguments(parser)
    return parser


def run(args: argparse.Namespace) -> int:
    from percontrast.evaluation.report import evaluate_predictions, markdown_table, parse_metrics

    metrics = parse_metrics(args.metrics)
    judge = build_judge(args) if "judge" in metrics else None
    result = evaluate_predictions(
        args.predictions,
        metrics,
        data_path=args.data,
        judge=judge,
        bootstrap=args.bootstrap,
        seed=args.seed,
        benchmark=args.benchmark,
        partial=args.partial,
    )
    table = markdown_table(result)
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        out.with_suffix(".md").write_text(table, encoding="utf-8")
        logger.info("wrote %s and %s", out, out.with_suffix(".md"))
    print(table, end="")
    return 0
