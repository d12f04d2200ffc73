"""``percontrast construct``: make an annotated persona QA set with a strong model (the paper's Figure 6).

Each persona goes to an OpenAI-compatible server with the Appendix D.2 construction prompt; parsable
replies whose keywords occur in the answer and whose answer has 5 to 20 words (the paper's rule) are written in the bundled set's format, the rest go to
``<out>.rejected.jsonl`` with their reason, and the counts are logged and written to ``<out>.report.json``.
Both JSONL files are appended to as each reply arrives: an interrupted run resumes where it stopped
when the same command is run again (the settings are recorded beside them and must match).
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from percontrast.commands import positive_int, temperature

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
    parser.add_argument(
        "--temperature", type=temperature, default=0.7, help="sampling temperature (default 0.7)"
    )
    parser.add_argument("--max-new-tokens", type=positive_int, default=256, help="reply length limit")
    parser.add_argument("--seed", type=int, default=0, help="seed sent to the server")
    parser.add_argument("--limit", type=int, default=None, help="use only the first N personas")
    return parser


def run(args: argparse.Namespace) -> int:
    from percontrast.data.synthetic import construct_dataset, read_personas
    from percontrast.errors import ConfigError, Interrupted
    from percontrast.evaluation.backends import OpenAIChat
    from percontrast.outputs import (
        JsonlAppender,
        atomic_write_json,
        check_outputs,
        check_run_settings,
        file_fingerprint,
        read_finished,
        settings_path,
    )

    if args.limit is not None and args.limit < 1:
        raise ConfigError(f"--limit {args.limit}: expected a positive number of personas")
    out = Path(args.out)
    rejected_path, report_path = out.with_suffix(".rejected.jsonl"), out.with_suffix(".report.json")
    check_outputs(
        inputs={"--personas": args.personas},
        outputs={
            "--out": out,
            "the set-aside replies beside --out": rejected_path,
            "the report beside --out": report_path,
            "the settings record beside --out": settings_path(out),
            "the settings record of the set-aside replies": settings_path(rejected_path),
        },
        resumable=("--out", "the set-aside replies beside --out"),
    )
    personas = read_personas(args.personas)[: args.limit]
    backend = OpenAIChat(args.url, args.api_model, api_key_env=args.key_env)
    # Everything that decides an item; --limit may grow between runs.
    settings = {
        "personas": f"{Path(args.personas).resolve()} (sha256 {file_fingerprint([args.personas], full=True)})",
        "url": args.url,
        "api_model": args.api_model,
        "temperature": args.temperature,
        "max_new_tokens": args.max_new_tokens,
        "seed": args.seed,
    }
    check_run_settings(out, settings, kind="construct")
    check_run_settings(rejected_path, settings, kind="construct")
    finished = read_finished(out) | read_finished(rejected_path)
    if finished:
        logger.info("resuming: %d personas already answered in %s and %s", len(finished), out, rejected_path)
    with JsonlAppender(out) as kept, JsonlAppender(rejected_path) as set_aside:
        try:
            _, report = construct_dataset(
                personas,
                backend,
                temperature=args.temperature,
                max_new_tokens=args.max_new_tokens,
                seed=args.seed,
                finished=finished,
                on_item=lambda item, keep: (kept if keep else set_aside).write(item),
            )
        except KeyboardInterrupt:
            raise Interrupted(
                f"the {kept.count + set_aside.count} replies received in this run are saved in "
                f"{out} and {rejected_path}; rerun the same command to resume"
            ) from None
    atomic_write_json(report_path, report.to_dict())
    logger.info(
        "kept %d of %d personas in %s; set aside %s (replies in %s)",
        report.n_kept,
        report.n_personas,
        out,
        dict(report.set_aside),
        rejected_path,
    )
    return 0
