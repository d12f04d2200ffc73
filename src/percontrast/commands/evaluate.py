"""``percontrast evaluate``: ROUGE, METEOR and the LLM judge on a predictions file -> metrics JSON."""

from __future__ import annotations

import argparse

from percontrast.commands import positive_int
from percontrast.commands import temperature as temperature_type


def add_judge_arguments(
    parser: argparse.ArgumentParser,
    *,
    api_model: str | None = None,
    temperature: float | None = None,
    max_tokens: int | None = None,
    prefix: str = "judge",
    role: str = "judge",
) -> None:
    """Flags of one chat model played by a local model or an HTTP server (``--judge-*``, ``--simulator-*``).

    The flags are `JudgeConfig`'s fields (the judge) or `ChatModelConfig`'s (another role).

    Args:
        parser: where the flags go.
        api_model: default of ``--<prefix>-api-model`` (the model name sent to the server).
        temperature: default sampling temperature of its replies (None: the dataclass's).
        max_tokens: default reply length in tokens (None: the dataclass's).
        prefix: flag prefix.
        role: what the model does, for the help texts.
    """
    from percontrast.commands.config_flags import add_config_arguments
    from percontrast.evaluation.judge_config import ChatModelConfig, JudgeConfig

    overrides = {"api_model": api_model, "temperature": temperature, "max_tokens": max_tokens}
    add_config_arguments(
        parser.add_argument_group(role),
        JudgeConfig if prefix == "judge" else ChatModelConfig,
        prefix=prefix,
        types={
            "chat_template_kwargs": chat_template_kwargs,
            "temperature": temperature_type,
            "max_tokens": positive_int,
        },
        defaults={name: value for name, value in overrides.items() if value is not None},
        help_values={"role": role},
        show_default=True,
    )


def chat_template_kwargs(text: str) -> dict:
    """``--*-chat-template-kwargs``: a JSON object, e.g. ``{"enable_thinking": false}``."""
    import json

    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"not JSON ({exc.msg}): {text!r}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(
            f'expected a JSON object such as {{"enable_thinking": false}}, got {text!r}'
        )
    return value


def chat_config(args: argparse.Namespace, prefix: str = "judge"):
    """The `JudgeConfig` (``judge``) or `ChatModelConfig` (another role) of the ``--<prefix>-*`` flags."""
    from percontrast.commands.config_flags import config_from_args
    from percontrast.evaluation.judge_config import ChatModelConfig, JudgeConfig

    return config_from_args(JudgeConfig if prefix == "judge" else ChatModelConfig, args, prefix=prefix)


def build_chat_backend(args: argparse.Namespace, prefix: str = "judge"):
    """The chat backend the ``--<prefix>-*`` flags name: an HTTP server, else a local model (or None)."""
    return chat_config(args, prefix).backend(prefix)


def config_classes() -> dict[type, tuple[str, ...] | dict[str, str]]:
    """The dataclasses this command's flags come from (the judge's: ``--judge-<field>``)."""
    from dataclasses import fields

    from percontrast.evaluation.config import EvaluateConfig
    from percontrast.evaluation.judge_config import JudgeConfig

    return {
        EvaluateConfig: (),
        JudgeConfig: {item.name: f"judge_{item.name}" for item in fields(JudgeConfig)},
    }


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from percontrast.commands.config_flags import add_config_arguments
    from percontrast.evaluation.config import EvaluateConfig

    parser = subparsers.add_parser(
        "evaluate",
        help="ROUGE-1/L, METEOR and LLM-judge scores of a predictions file (judge: Table 10's prompts, 1-5)",
    )
    parser.add_argument("--predictions", required=True, help="JSONL {id, prediction, reference}")
    parser.add_argument(
        "--data",
        default=None,
        help="the examples JSONL the predictions came from (ids checked; needed by the judge)",
    )
    parser.add_argument("--out", default=None, help="metrics JSON (a .md table is written beside it)")
    add_config_arguments(parser, EvaluateConfig)
    add_judge_arguments(parser)
    return parser


def run(args: argparse.Namespace) -> int:
    from percontrast.commands.config_flags import config_from_args
    from percontrast.evaluation.config import EvaluateConfig
    from percontrast.evaluation.files import evaluate_file

    config = config_from_args(EvaluateConfig, args)
    _, table = evaluate_file(
        config, args.predictions, data=args.data, out=args.out, judge=chat_config(args, "judge")
    )
    print(table, end="")
    return 0
