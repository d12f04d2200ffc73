"""``percontrast data {lamp,longlamp}``: official benchmark files -> examples JSONL and a summary.

    percontrast data longlamp --task product_review --input product_review_user_test.jsonl \\
        --retriever contriever --k 4 --sample 500 --seed 0 --out test.jsonl      # the paper's setting
    percontrast data lamp --task LaMP_4 --input dev_questions.json --outputs dev_outputs.json \\
        --retriever bm25 --k 4 --out dev.jsonl                                   # offline

The defaults are the paper's: Contriever (``facebook/contriever``, from the hub or a local copy
given with ``--dense-model DIR``), k = 4, and LongLaMP's ``test`` split. Where Contriever cannot be
loaded the command stops and says so; ``--retriever minilm`` or ``bm25`` run offline.

The summary (counts; skipped records with reasons; truncation; mean prompt tokens with and without
persona, as the paper's Table 6) is logged and written next to ``--out`` as ``<out>.summary.json``.
"""

from __future__ import annotations

import argparse


def config_classes() -> dict[type, tuple[str, ...]]:
    """The dataclasses this command's flags come from, each with the fields that are not flags."""
    from percontrast.data.config import DataConfig

    return {DataConfig: ()}


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from percontrast.commands.config_flags import add_config_arguments
    from percontrast.data.config import DataConfig
    from percontrast.modeling.load import DEFAULT_MODEL

    parser = subparsers.add_parser(
        "data", help="build examples from LaMP / LongLaMP files (retrieval, prompts, truncation)"
    )
    add_config_arguments(parser, DataConfig)
    parser.add_argument(
        "--model",
        default=DEFAULT_MODEL,
        help="whose tokenizer measures and truncates ('none': no token lengths)",
    )
    parser.add_argument("--out", required=True, help="where to write the examples (JSONL)")
    parser.add_argument(
        "--summary", default=None, help="where to write the summary JSON (default: <out>.summary.json)"
    )
    return parser


def run(args: argparse.Namespace) -> int:
    from percontrast.commands.config_flags import config_from_args
    from percontrast.data.build import write_benchmark
    from percontrast.data.config import DataConfig

    config = config_from_args(DataConfig, args)
    summary = write_benchmark(config, args.out, model=args.model, summary_path=args.summary)
    print(summary.table())
    return 0
