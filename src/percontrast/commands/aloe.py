"""``percontrast aloe``: the ALOE multi-turn personalization benchmark -> AL(k) per turn."""

from __future__ import annotations

import argparse
import logging

from percontrast.commands.evaluate import add_judge_arguments, build_judge
from percontrast.commands.generate import add_contrast_arguments
from percontrast.commands.score import add_model_arguments
from percontrast.errors import ConfigError

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
    add_judge_arguments(parser)
    add_contrast_arguments(parser)
    return parser


def run(args: argparse.Namespace) -> int:
    from percontrast.evaluation.aloe import AloeConfig, aloe_table, build_conversations, run_aloe, write_aloe
    from percontrast.evaluation.backends import TransformersChat
    from percontrast.modeling import load_model

    if args.contrast or args.plausibility is not None:
        # Contrastive decoding compares the prompt with and without the persona; in ALOE the model
        # under test never sees the profile (the simulated user reveals it in the dialogue), so the
        # persona-free prompt is the prompt itself and the contrast would be zero. Refused, not ignored.
        raise ConfigError(
            "--contrast/--plausibility need a persona in the prompt to remove; ALOE's model under test "
            "sees only the dialogue (no profile), so there is nothing to contrast: drop the flags"
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
    model = TransformersChat(*load_model(args.model, dtype=args.dtype, device=args.device), name=args.model)
    judge = build_judge(args)
    simulator = (
        TransformersChat(*load_model(args.simulator_model), name=args.simulator_model)
        if args.simulator_model
        else judge.backend
    )
    summary = run_aloe(model, simulator, judge, conversations, config)
    write_aloe(summary, args.out)
    print(aloe_table(summary), end="")
    return 0
