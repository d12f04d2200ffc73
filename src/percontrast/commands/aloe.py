"""``percontrast aloe``: the ALOE multi-turn personalization benchmark -> AL(k) per turn.

The protocol is ALOE's own ``evaluation/eval_own.py`` (see `percontrast.evaluation.aloe`). The
simulator and judge flags default to ALOE's official settings when they point at an HTTP server
(``gpt-4o-mini-2024-07-18``, 300 tokens, temperature 1.0); the model under test defaults to the
paper's inference settings (temperature 0.4, 512 new tokens).
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from percontrast.commands import positive_int, temperature
from percontrast.commands.evaluate import add_judge_arguments, build_chat_backend, build_judge
from percontrast.commands.generate import add_contrast_arguments
from percontrast.commands.score import add_model_arguments
from percontrast.errors import ConfigError, Interrupted

logger = logging.getLogger(__name__)


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from percontrast.evaluation.aloe import ALOE_API_MODEL, ALOE_MAX_TOKENS, ALOE_TEMPERATURE

    parser = subparsers.add_parser(
        "aloe",
        help="ALOE as its authors run it: a simulated user chats for 10 turns, a judge scores each reply",
    )
    add_model_arguments(parser)
    parser.add_argument("--profiles", required=True, help="ALOE profile_eval.jsonl (a JSON string per line)")
    parser.add_argument(
        "--personalities", required=True, help="ALOE personality_eval.jsonl (a JSON string per line)"
    )
    parser.add_argument(
        "--out", required=True, help="summary JSON (conversations .jsonl and .md table beside it)"
    )
    parser.add_argument(
        "--n-profiles", type=int, default=None, help="profiles used, the first ones (default: all, as ALOE)"
    )
    parser.add_argument(
        "--n-personalities", type=int, default=5, help="personalities used (default: the first 5, as ALOE)"
    )
    parser.add_argument("--turns", type=int, default=10, help="rounds per conversation (default: 10)")
    parser.add_argument(
        "--max-new-tokens",
        type=positive_int,
        default=512,
        help="reply length of the model under test (default: 512, the paper's Appendix B)",
    )
    parser.add_argument(
        "--temperature",
        type=temperature,
        default=0.4,
        help="sampling temperature of the model under test (default: 0.4, the paper's; 0: greedy)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--chunk-size",
        type=int,
        default=10,
        help="conversations run in lock-step at a time; each finished one is saved at once and a rerun "
        "resumes after it (default: 10)",
    )
    official = dict(api_model=ALOE_API_MODEL, temperature=ALOE_TEMPERATURE, max_tokens=ALOE_MAX_TOKENS)
    add_judge_arguments(parser, prefix="simulator", role="user simulator", **official)
    add_judge_arguments(parser, **official)
    add_contrast_arguments(parser)
    return parser


def run(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from percontrast.commands.generate import model_identity
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
        file_fingerprint,
        read_finished,
        settings_path,
    )

    if args.contrast or args.plausibility is not None:
        # Contrastive decoding compares the prompt with and without the persona; in ALOE the model
        # under test never sees the profile (the simulated user reveals it in the dialogue), so the
        # persona-free prompt is the prompt itself and the contrast would be zero. Refused, not ignored.
        raise ConfigError(
            "--contrast/--plausibility need a persona in the prompt to remove; ALOE's model under test "
            "sees only the dialogue (no profile), so there is nothing to contrast: drop the flags"
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
        resumable=("the conversations file beside --out",),
    )
    config = AloeConfig(
        n_profiles=args.n_profiles,
        n_personalities=args.n_personalities,
        n_turns=args.turns,
        max_new_tokens=args.max_new_tokens,
        temperature=args.temperature,
        simulator_max_new_tokens=args.simulator_max_tokens,
        simulator_temperature=args.simulator_temperature,
        seed=args.seed,
        average_from=min(6, args.turns),
    )
    conversations = build_conversations(args.profiles, args.personalities, config)

    # Everything that decides a conversation's content; the grid size may grow between runs.
    def backend_identity(prefix: str) -> list | None:
        url, api_model, local = (getattr(args, f"{prefix}_{key}") for key in ("url", "api_model", "model"))
        if url:
            return [url, api_model]
        return [model_identity(local)] if local else None

    settings = {
        key: value for key, value in asdict(config).items() if key not in ("n_profiles", "n_personalities")
    } | {
        "model": model_identity(args.model),
        "dtype": args.dtype,
        "simulator": backend_identity("simulator"),
        "judge": backend_identity("judge"),
        "judge_mode": args.judge_mode,
        "judge_samples": args.judge_samples,
        "judge_temperature": args.judge_temperature,
        "judge_max_tokens": args.judge_max_tokens,
        "profiles": f"{Path(args.profiles).resolve()} (sha256 {file_fingerprint([args.profiles], full=True)})",
        "personalities": f"{Path(args.personalities).resolve()} "
        f"(sha256 {file_fingerprint([args.personalities], full=True)})",
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
    judge_info: dict = {}
    simulator_name = None
    if todo:
        from percontrast.evaluation.backends import TransformersChat
        from percontrast.modeling import load_model

        judge = build_judge(args, seed=args.seed)
        simulator = build_chat_backend(args, "simulator") or judge.backend
        model = TransformersChat(
            *load_model(args.model, dtype=args.dtype, device=args.device), name=args.model
        )
        simulator_name = simulator.name
        judge_info = {"backend": judge.backend.name, "mode": judge.mode, "n_samples": judge.n_samples}
        logger.info(
            "ALOE: %d conversations x %d turns; simulator %s, judge %s (%s)",
            len(todo),
            config.n_turns,
            simulator.name,
            judge.backend.name,
            judge.mode,
        )
        with JsonlAppender(saved) as appender:
            try:
                for start in range(0, len(todo), args.chunk_size):
                    chunk = todo[start : start + args.chunk_size]
                    run_aloe(model, simulator, judge, chunk, config)
                    for conversation in chunk:
                        appender.write(asdict(conversation))
                        finished[conversation.id] = asdict(conversation)
            except KeyboardInterrupt:
                raise Interrupted(
                    f"{len(finished)} of {len(conversations)} conversations are saved in {saved}; "
                    "rerun the same command to resume"
                ) from None
    summary = summarise([Conversation(**finished[c.id]) for c in conversations], config)
    if simulator_name is not None:
        summary["simulator"] = simulator_name
        summary["judge"] = judge_info
    else:  # everything was already finished: the settings recorded with the conversations say who ran them
        summary["simulator"] = settings["simulator"] or settings["judge"]
        summary["judge"] = {
            "backend": settings["judge"],
            "mode": args.judge_mode,
            "n_samples": args.judge_samples,
        }
    write_aloe(summary, args.out, write_conversations=False)
    print(aloe_table(summary), end="")
    logger.info("wrote %s, %s and the conversations %s", args.out, Path(args.out).with_suffix(".md"), saved)
    return 0
