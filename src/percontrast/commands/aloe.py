"""``percontrast aloe``: the ALOE multi-turn personalization benchmark -> AL(k) per turn.

The protocol is ALOE's own ``evaluation/eval_own.py`` (see `percontrast.evaluation.aloe`). The
simulator and judge flags default to ALOE's official settings when they point at an HTTP server
(``gpt-4o-mini-2024-07-18``, 300 tokens, temperature 1.0); the model under test defaults to the
paper's inference settings (temperature 0.4, 512 new tokens).
"""

from __future__ import annotations

import argparse
import logging

from percontrast.commands.evaluate import add_judge_arguments, build_chat_backend, build_judge
from percontrast.commands.score import add_model_arguments

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
        type=int,
        default=512,
        help="reply length of the model under test (default: 512, the paper's Appendix B)",
    )
    parser.add_argument(
        "--temperature",
        type=float,
        default=0.4,
        help="sampling temperature of the model under test (default: 0.4, the paper's; 0: greedy)",
    )
    parser.add_argument("--seed", type=int, default=0)
    official = dict(api_model=ALOE_API_MODEL, temperature=ALOE_TEMPERATURE, max_tokens=ALOE_MAX_TOKENS)
    add_judge_arguments(parser, prefix="simulator", role="user simulator", **official)
    add_judge_arguments(parser, **official)
    return parser


def run(args: argparse.Namespace) -> int:
    from percontrast.evaluation.aloe import AloeConfig, aloe_table, build_conversations, run_aloe, write_aloe
    from percontrast.evaluation.backends import TransformersChat
    from percontrast.modeling import load_model

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
    judge = build_judge(args, seed=args.seed)
    simulator = build_chat_backend(args, "simulator") or judge.backend
    model = TransformersChat(*load_model(args.model, dtype=args.dtype, device=args.device), name=args.model)
    logger.info(
        "ALOE: %d conversations x %d turns; simulator %s, judge %s (%s)",
        len(conversations),
        config.n_turns,
        simulator.name,
        judge.backend.name,
        judge.mode,
    )
    summary = run_aloe(model, simulator, judge, conversations, config)
    summary["simulator"] = simulator.name
    summary["judge"] = {"backend": judge.backend.name, "mode": judge.mode, "n_samples": judge.n_samples}
    write_aloe(summary, args.out)
    print(aloe_table(summary), end="")
    return 0
