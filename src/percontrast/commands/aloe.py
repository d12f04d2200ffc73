"""``percontrast aloe``: the ALOE multi-turn personalization benchmark -> AL(k) per turn."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from percontrast.commands.evaluate import add_judge_arguments, build_judge
from percontrast.commands.score import add_model_arguments

logger = logging.getLogger(__name__)


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "aloe", help="ALOE: simulated users reveal a persona over 10 turns; the judge scores each reply"
    )
    add_model_arguments(parser)
    parser.add_argument("--profiles", required=True, help="ALOE profile_eval.jsonl (a JSON string per line)")
    parser.add_argument(
        "--personalities", required=True, help="ALOE personality_eval.jsonl (a JSON string per line)"
    )
    parser.add_argument(
        "--out", required=True, help="summary JSON (conversations .jsonl and .md table beside it)"
    )
    parser.add_argument("--n-profiles", type=int, default=20, help="profiles used (default: 20)")
    parser.add_argument(
        "--n-personalities", type=int, default=5, help="personalities used (default: the first 5)"
    )
    parser.add_argument("--turns", type=int, default=10, help="rounds per conversation (default: 10)")
    parser.add_argument(
        "--max-new-tokens", type=int, default=256, help="reply length of the model under test"
    )
    parser.add_argument(
        "--temperature",
        type=float,
        default=0.4,
        help="sampling temperature of the model under test (0: greedy)",
    )
    parser.add_argument(
        "--simulator-model", default=None, help="user simulator (default: the judge's backend)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--chunk-size",
        type=int,
        default=10,
        help="conversations run in lock-step at a time; each finished one is saved at once and a rerun "
        "resumes after it (default: 10)",
    )
    add_judge_arguments(parser)
    return parser


def run(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from percontrast.commands.generate import model_identity
    from percontrast.errors import ConfigError
    from percontrast.evaluation.aloe import (
        AloeConfig,
        Conversation,
        aloe_table,
        build_conversations,
        conversations_path,
        run_aloe,
        summarise,
        write_aloe,
    )
    from percontrast.outputs import (
        JsonlAppender,
        check_outputs,
        check_run_settings,
        read_finished,
        settings_path,
    )

    if args.chunk_size < 1:
        raise ConfigError(f"--chunk-size must be a positive integer, got {args.chunk_size}")
    saved = conversations_path(args.out)
    check_outputs(
        inputs={"--profiles": args.profiles, "--personalities": args.personalities},
        outputs={
            "--out": args.out,
            "the conversations file beside --out": saved,
            "the settings record beside --out": settings_path(saved),
            "the markdown table beside --out": Path(args.out).with_suffix(".md"),
        },
    )
    config = AloeConfig(
        n_profiles=args.n_profiles,
        n_personalities=args.n_personalities,
        n_turns=args.turns,
        max_new_tokens=args.max_new_tokens,
        temperature=args.temperature,
        seed=args.seed,
        average_from=min(6, args.turns),
    )
    conversations = build_conversations(args.profiles, args.personalities, config)
    # Everything that decides a conversation's content; the grid size may grow between runs.
    settings = {
        key: value for key, value in asdict(config).items() if key not in ("n_profiles", "n_personalities")
    } | {
        "model": model_identity(args.model),
        "dtype": args.dtype,
        "simulator": args.simulator_model and model_identity(args.simulator_model),
        "judge": [args.judge_url, args.judge_api_model, model_identity(args.judge_model)]
        if not args.judge_url
        else [args.judge_url, args.judge_api_model],
        "judge_mode": args.judge_mode,
        "judge_samples": args.judge_samples,
        "profiles": str(Path(args.profiles).resolve()),
        "personalities": str(Path(args.personalities).resolve()),
        "chunk_size": args.chunk_size,
    }
    check_run_settings(saved, settings, kind="aloe")
    finished = read_finished(saved)
    todo = [c for c in conversations if c.id not in finished]
    if finished:
        logger.info(
            "resuming: %d of %d conversations already in %s",
            len(conversations) - len(todo),
            len(conversations),
            saved,
        )
    if todo:
        from percontrast.evaluation.backends import TransformersChat
        from percontrast.modeling import load_model

        model = TransformersChat(
            *load_model(args.model, dtype=args.dtype, device=args.device), name=args.model
        )
        judge = build_judge(args)
        simulator = (
            TransformersChat(*load_model(args.simulator_model), name=args.simulator_model)
            if args.simulator_model
            else judge.backend
        )
        with JsonlAppender(saved) as appender:
            for start in range(0, len(todo), args.chunk_size):
                chunk = todo[start : start + args.chunk_size]
                run_aloe(model, simulator, judge, chunk, config)
                for conversation in chunk:
                    appender.write(asdict(conversation))
                    finished[conversation.id] = asdict(conversation)
    summary = summarise([Conversation(**finished[c.id]) for c in conversations], config)
    write_aloe(summary, args.out, write_conversations=False)
    print(aloe_table(summary), end="")
    return 0
