"""``percontrast aloe``: the ALOE multi-turn personalization benchmark -> AL(k) per turn.

The protocol is ALOE's own ``evaluation/eval_own.py`` (see `percontrast.evaluation.aloe`). Every
setting is a field of `AloeConfig` (``evaluation/aloe_config.py``): the flags below take their
defaults and help from it, and the experiment runner's ``aloe:`` section is the same dataclass. The
simulator and judge default to ALOE's official settings when they point at an HTTP server
(``gpt-4o-mini-2024-07-18``, 300 tokens, temperature 1.0); the model under test to the paper's
inference settings (temperature 0.4, 512 new tokens). Both ``percontrast aloe`` and the runner call
`evaluation.aloe.evaluate_aloe`.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from percontrast.commands import positive_int, temperature
from percontrast.commands.evaluate import add_judge_arguments, build_chat_backend
from percontrast.commands.generate import add_contrast_arguments
from percontrast.commands.score import add_model_arguments
from percontrast.utils.errors import ConfigError

if TYPE_CHECKING:
    from percontrast.evaluation.aloe_config import AloeConfig

logger = logging.getLogger(__name__)

# AloeConfig fields whose flags add_judge_arguments builds (-> their dest), or that are no flag (None).
BACKEND_FIELDS = {
    "simulator_max_new_tokens": "simulator_max_tokens",
    "simulator_temperature": "simulator_temperature",
    "judge_max_new_tokens": "judge_max_tokens",
    "judge_temperature": "judge_temperature",
    "judge_mode": "judge_mode",
    "judge_samples": "judge_samples",
}
NOT_FLAGS = {"average_from": None}  # the runner's: the CLI reports the paper's AL(6..10)


def config_classes() -> dict[type, dict[str, str | None]]:
    """The dataclasses this command's flags come from, with the fields whose flags are built apart."""
    from percontrast.evaluation.aloe_config import AloeConfig

    return {AloeConfig: BACKEND_FIELDS | NOT_FLAGS}


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from percontrast.commands.config_flags import add_config_arguments
    from percontrast.evaluation.aloe_config import ALOE_API_MODEL, AloeConfig, aloe_default

    parser = subparsers.add_parser(
        "aloe",
        help="ALOE as its authors run it: a simulated user chats for 10 turns, a judge scores each reply",
    )
    add_model_arguments(parser)
    add_config_arguments(
        parser, AloeConfig, only=("profiles", "personalities"), required=("profiles", "personalities")
    )
    parser.add_argument(
        "--out", required=True, help="summary JSON (conversations .jsonl and .md table beside it)"
    )
    add_config_arguments(
        parser,
        AloeConfig,
        exclude=("profiles", "personalities", *BACKEND_FIELDS, *NOT_FLAGS),
        types={"temperature": temperature, "max_new_tokens": positive_int, "chunk_size": positive_int},
        show_default=True,
    )
    add_judge_arguments(
        parser,
        prefix="simulator",
        role="user simulator",
        api_model=ALOE_API_MODEL,
        temperature=aloe_default("simulator_temperature"),
        max_tokens=aloe_default("simulator_max_new_tokens"),
    )
    add_judge_arguments(
        parser,
        api_model=ALOE_API_MODEL,
        temperature=aloe_default("judge_temperature"),
        max_tokens=aloe_default("judge_max_new_tokens"),
    )
    add_contrast_arguments(parser)
    return parser


def aloe_config(args: argparse.Namespace) -> AloeConfig:
    """The `AloeConfig` of the parsed flags."""
    from percontrast.commands.config_flags import config_from_args
    from percontrast.evaluation.aloe_config import AloeConfig

    return config_from_args(
        AloeConfig, args, **{name: getattr(args, dest) for name, dest in BACKEND_FIELDS.items()}
    )


def run(args: argparse.Namespace) -> int:
    from percontrast.evaluation.aloe import aloe_table, conversations_path, evaluate_aloe
    from percontrast.modeling.load import model_identity
    from percontrast.utils.files import check_outputs, settings_path

    if args.contrast or args.plausibility is not None:
        # Contrastive decoding compares the prompt with and without the persona; in ALOE the model
        # under test never sees the profile (the simulated user reveals it in the dialogue), so the
        # persona-free prompt is the prompt itself and the contrast would be zero. Refused, not ignored.
        raise ConfigError(
            "--contrast/--plausibility need a persona in the prompt to remove; ALOE's model under test "
            "sees only the dialogue (no profile), so there is nothing to contrast: drop the flags"
        )
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
    config = aloe_config(args)
    identity = {
        "model": model_identity(args.model),
        "dtype": args.dtype,
        "simulator": backend_identity(args, "simulator") or backend_identity(args, "judge"),
        "judge": backend_identity(args, "judge"),
    }
    summary = evaluate_aloe(config, args.out, lambda: aloe_backends(args), identity)
    print(aloe_table(summary), end="")
    logger.info("wrote %s, %s and the conversations %s", args.out, Path(args.out).with_suffix(".md"), saved)
    return 0


def backend_identity(args: argparse.Namespace, prefix: str) -> list | None:
    """What the settings record says about the ``--<prefix>-*`` chat model (None: not given)."""
    from percontrast.modeling.load import model_identity

    url, api_model, local = (getattr(args, f"{prefix}_{key}") for key in ("url", "api_model", "model"))
    if url:
        kwargs = getattr(args, f"{prefix}_chat_template_kwargs")
        return [url, api_model] + ([kwargs] if kwargs else [])
    return [model_identity(local)] if local else None


def aloe_backends(args: argparse.Namespace):
    """The model under test, the user simulator (default: the judge) and the judge of the flags."""
    from percontrast.modeling.chat import TransformersChat
    from percontrast.modeling.load import load_model

    judge = build_chat_backend(args, "judge")
    simulator = build_chat_backend(args, "simulator") or judge
    model = TransformersChat(*load_model(args.model, dtype=args.dtype, device=args.device), name=args.model)
    return model, simulator, judge
