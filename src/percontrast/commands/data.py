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
import logging
from pathlib import Path

logger = logging.getLogger(__name__)


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from percontrast.data.retrieval import CONTRIEVER, DEFAULT_RETRIEVER, RETRIEVERS
    from percontrast.modeling import DEFAULT_MODEL

    parser = subparsers.add_parser(
        "data", help="build examples from LaMP / LongLaMP files (retrieval, prompts, truncation)"
    )
    parser.add_argument("benchmark", choices=["lamp", "longlamp"], help="which benchmark the files come from")
    parser.add_argument(
        "--task",
        required=True,
        help="LaMP: LaMP_2..LaMP_7; LongLaMP: abstract_generation, product_review, topic_writing",
    )
    parser.add_argument(
        "--input",
        default=None,
        help="LaMP questions JSON; LongLaMP rows (.json, .jsonl, .parquet); LongLaMP without it: the hub",
    )
    parser.add_argument("--outputs", default=None, help="LaMP outputs JSON (the golds)")
    parser.add_argument(
        "--config",
        default=None,
        help="LongLaMP hub config, e.g. product_review_temporal (default: <task>_user)",
    )
    parser.add_argument(
        "--split",
        default="test",
        help="LongLaMP hub split: train, val or test (default: test, where the paper's test examples come from)",
    )
    parser.add_argument(
        "--retriever",
        choices=RETRIEVERS,
        default=DEFAULT_RETRIEVER,
        help=f"how the profile is ranked (default: {DEFAULT_RETRIEVER}, the paper's; needs the hub or "
        "--dense-model DIR; offline: minilm or bm25)",
    )
    parser.add_argument(
        "--dense-model",
        default=None,
        help=f"contriever: a local copy of {CONTRIEVER} (a directory); dense: the encoder (a directory, "
        "a hub id, or minilm/contriever)",
    )
    parser.add_argument(
        "--random-with-replacement",
        action="store_true",
        help="random: draw k items with replacement, as the official random.choices (default: k distinct)",
    )
    parser.add_argument("--device", default="cpu", help="where a dense encoder runs (default: cpu)")
    parser.add_argument(
        "--k", type=int, default=4, help="profile items per example (default: 4, as the paper)"
    )
    parser.add_argument("--template", default=None, help="prompt template (default: the task's, see docs)")
    parser.add_argument(
        "--model",
        default=DEFAULT_MODEL,
        help="whose tokenizer measures and truncates ('none': no token lengths)",
    )
    parser.add_argument(
        "--max-length", type=int, default=None, help="truncate the persona so prompt + response fit"
    )
    parser.add_argument(
        "--sample",
        type=int,
        default=None,
        help="keep a seeded sample of N records (paper: 2000 train, 500 test)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of --sample and of the random retriever")
    parser.add_argument(
        "--skip-invalid", action="store_true", help="skip and count bad records instead of stopping"
    )
    parser.add_argument("--out", required=True, help="where to write the examples (JSONL)")
    parser.add_argument(
        "--summary", default=None, help="where to write the summary JSON (default: <out>.summary.json)"
    )
    return parser


def run(args: argparse.Namespace) -> int:
    from percontrast.data.build import build_benchmark
    from percontrast.data.schema import write_jsonl
    from percontrast.errors import DataError
    from percontrast.outputs import atomic_write_json, check_outputs

    summary_path = Path(args.summary or f"{args.out}.summary.json")
    check_outputs(
        inputs={"--input": args.input, "--outputs": args.outputs},
        outputs={"--out": args.out, "--summary": summary_path},
    )
    tokenizer = None
    if args.model != "none":
        from percontrast.modeling import load_model

        _, tokenizer = load_model(args.model)
    examples, summary = build_benchmark(
        args.benchmark,
        args.task,
        args.input,
        outputs_path=args.outputs,
        config=args.config,
        split=args.split,
        retriever=args.retriever,
        k=args.k,
        template=args.template,
        tokenizer=tokenizer,
        max_length=args.max_length,
        sample=args.sample,
        seed=args.seed,
        skip_invalid=args.skip_invalid,
        dense_model=args.dense_model,
        random_with_replacement=args.random_with_replacement,
        device=args.device,
    )
    record = summary.to_dict() | {"model": args.model, "max_length": args.max_length, "input": args.input}
    if not examples:
        # An earlier --out keeps its own summary: the two must describe the same examples.
        if Path(args.out).exists():
            where = f"{args.out} and {summary_path} are left as they were"
        else:
            atomic_write_json(summary_path, record)
            where = f"nothing written to {args.out}, the reasons are in {summary_path}"
        raise DataError(f"no example was kept (skipped: {summary.skipped or 'none'}); {where}")
    write_jsonl(args.out, examples)  # first: a failed write leaves both files as they were
    atomic_write_json(summary_path, record)
    logger.info("wrote %d examples to %s (summary: %s)", len(examples), args.out, summary_path)
    logger.info(
        "skipped: %s; truncated: %d examples, %d items dropped",
        summary.skipped or "none",
        summary.examples_truncated,
        summary.items_dropped,
    )
    print(summary.table())
    return 0
