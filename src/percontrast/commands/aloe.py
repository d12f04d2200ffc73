"""``percontrast aloe``: the ALOE multi-turn personalization benchmark -> AL(k) per turn.

The protocol is ALOE's own ``evaluation/eval_own.py`` (see `percontrast.evaluation.aloe`). Every
setting is a field of `AloeConfig` (``evaluation/aloe_config.py``): the flags below take their
defaults and help from it, and the experiment runner's ``aloe:`` section is the same dataclass. The
simulator and judge are its roles ``simulator`` (a `ChatModelConfig`: ``--simulator-*``) and ``judge``
(a `JudgeConfig`: ``--judge-*``), whose defaults are ALOE's official settings when they point at an
HTTP server (``gpt-4o-mini-2024-07-18``, 300 tokens, temperature 1.0); the model under test samples
with the paper's inference settings (temperature 0.4, 512 new tokens). Both ``percontrast aloe`` and the runner call
`evaluation.aloe.evaluate_aloe`.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from percontrast.commands import positive_int, temperature
from percontrast.commands.evaluate import add_chat_arguments
from percontrast.commands.generate import add_contrast_arguments
from percontrast.commands.score import add_model_arguments
from percontrast.utils.errors import ConfigError

if TYPE_CHECKING:
    from percontrast.evaluation.aloe_config import AloeConfig
    from percontrast.modeling.config import ChatModelConfig

logger = logging.getLogger(__name__)

NOT_FLAGS = ("average_from",)  # the runner's: the CLI reports the paper's AL(6..10)


def config_classes() -> dict[type, tuple[str, ...]]:
    """The dataclasses this command's flags come from, with the fields that are not flags (the simulator
    and the judge are roles: ``--simulator-*``, ``--judge-*``)."""
    from percontrast.evaluation.aloe_config import AloeConfig

    return {AloeConfig: NOT_FLAGS}


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from percontrast.commands.config_flags import add_config_arguments
    from percontrast.evaluation.aloe_config import AloeConfig

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
        exclude=("profiles", "personalities", *NOT_FLAGS),
        types={"temperature": temperature, "max_new_tokens": positive_int, "chunk_size": positive_int},
        show_default=True,
    )
    add_chat_arguments(parser, AloeConfig, "simulator")
    add_chat_arguments(parser, AloeConfig, "judge")
    add_contrast_arguments(parser)
    return parser


def aloe_config(args: argparse.Namespace) -> AloeConfig:
    """The `AloeConfig` of the parsed flags (its simulator and judge from ``--simulator-*``, ``--judge-*``)."""
    from percontrast.commands.config_flags import config_from_args
    from percontrast.evaluation.aloe_config import AloeConfig

    return config_from_args(AloeConfig, args)


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
        "simulator": backend_identity(config.simulator) or backend_identity(config.judge),
        "judge": backend_identity(config.judge),
    }
    summary = evaluate_aloe(config, args.out, lambda: aloe_backends(config, args), identity)
    print(aloe_table(summary), end="")
    logger.info("wrote %s, %s and the conversations %s", args.out, Path(args.out).with_suffix(".md"), saved)
    return 0


def backend_identity(config: ChatModelConfig) -> list | None:
    """What the settings record says about a chat model (None: it names none)."""
    from percontrast.modeling.load import model_identity

    if config.url:
        kwargs = config.chat_template_kwargs
        return [config.url, config.api_model] + ([kwargs] if kwargs else [])
    return [model_identity(config.model)] if config.model else None


def aloe_backends(config: AloeConfig, args: argparse.Namespace):
    """The model under test (``--model``), the user simulator (default: the judge's backend) and the
    judge's backend."""
    from percontrast.modeling.chat import TransformersChat, chat_backend
    from percontrast.modeling.load import load_model

    judge = chat_backend(config.judge, "judge")
    simulator = chat_backend(config.simulator, "simulator") or judge
    model = TransformersChat(*load_model(args.model, dtype=args.dtype, device=args.device), name=args.model)
    return model, simulator, judge
