"""``percontrast evaluate``: ROUGE, METEOR and the LLM judge on a predictions file -> metrics JSON."""

from __future__ import annotations

import argparse

from percontrast.commands import positive_int
from percontrast.commands import temperature as temperature_type


def chat_types() -> dict:
    """The argparse types of the chat-model fields (`ChatModelConfig`, `JudgeConfig`), whatever the role."""
    return {
        "chat_template_kwargs": chat_template_kwargs,
        "temperature": temperature_type,
        "max_tokens": positive_int,
        "samples": positive_int,
    }


def add_chat_arguments(parser: argparse.ArgumentParser, config_class: type, name: str, **kwargs) -> None:
    """The flags of a chat model that ``config_class`` holds as its role ``name`` (``EvaluateConfig.judge``:
    ``--judge-*``; ``AloeConfig.simulator``: ``--simulator-*``): `config_flags.add_role_arguments` with
    the chat fields' argparse types; ``kwargs`` go to it (``required``)."""
    from percontrast.commands.config_flags import add_role_arguments

    add_role_arguments(parser, config_class, name, types=chat_types(), **kwargs)


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


def config_classes() -> dict[type, tuple[str, ...]]:
    """The dataclasses this command's flags come from (its judge: ``--judge-<field>``, a role)."""
    from percontrast.evaluation.config import EvaluateConfig

    return {EvaluateConfig: ()}


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
    add_chat_arguments(parser, EvaluateConfig, "judge")
    return parser


def run(args: argparse.Namespace) -> int:
    from percontrast.commands.config_flags import config_from_args
    from percontrast.evaluation.config import EvaluateConfig
    from percontrast.evaluation.files import evaluate_file

    config = config_from_args(EvaluateConfig, args)
    _, table = evaluate_file(config, args.predictions, data=args.data, out=args.out)
    print(table, end="")
    return 0
