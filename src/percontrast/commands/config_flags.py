"""Command-line flags generated from a config dataclass, as TRL's ``HfArgumentParser`` does.

A job's settings are defined once, as the fields of its ``*Config`` dataclass (name, type, default,
and ``metadata={"help": ...}``). `add_config_arguments` turns each field into a flag that keeps the
command's spelling (``--max-new-tokens`` for ``max_new_tokens`` unless ``flags`` renames it), and
`config_from_args` turns the parsed flags back into the dataclass. The flag's ``dest`` is named after
the flag, as a hand-written one's would be (``--config`` -> ``args.config``).

Field metadata the helper reads besides ``help``: ``choices`` (a tuple of allowed values),
``metavar``, and ``flag`` (the flag's spelling, when it is not the field's name). A ``bool`` field that defaults to
False becomes a ``store_true`` switch; one that defaults to True needs a ``flag`` (``--no-persona``),
a switch whose value is the field's negation. A field without a default is a required flag, or a positional argument
when its ``flag`` has no leading dash.

    add_config_arguments(parser, DataConfig)
    config = config_from_args(DataConfig, args)
"""

from __future__ import annotations

import argparse
import dataclasses
import types as builtin_types
import typing
from collections.abc import Callable, Iterable
from typing import Any


def _base_type(annotation: Any) -> Any:
    """``int`` of ``int | None`` (argparse converts the text; None stays the default)."""
    if typing.get_origin(annotation) in (typing.Union, builtin_types.UnionType):
        args = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        return args[0] if len(args) == 1 else str
    return annotation


def config_fields(config_class: type, exclude: Iterable[str] = ()) -> list[dataclasses.Field]:
    """The fields of ``config_class`` that are flags (nested dataclasses and ``exclude`` left out)."""
    hints = typing.get_type_hints(config_class)
    return [
        item
        for item in dataclasses.fields(config_class)
        if item.name not in set(exclude) and not dataclasses.is_dataclass(_base_type(hints[item.name]))
    ]


def flag_name(item: dataclasses.Field) -> str:
    """The flag of a field: its ``flag`` metadata, else ``--`` and the name with dashes."""
    return item.metadata.get("flag", "--" + item.name.replace("_", "-"))


def flag_dest(item: dataclasses.Field) -> str:
    """Where argparse keeps the flag's value: named after the flag, as a hand-written flag's is
    (``--turns`` -> ``turns``; ``--no-persona`` -> ``no_persona``, the field's negation)."""
    return flag_name(item).lstrip("-").replace("-", "_")


def is_negated(item: dataclasses.Field) -> bool:
    """A bool field that defaults to True: its flag (``--no-persona``) sets it to False."""
    return item.default is True


def add_config_arguments(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup,
    config_class: type,
    *,
    exclude: Iterable[str] = (),
    only: Iterable[str] | None = None,
    required: Iterable[str] = (),
    types: dict[str, Callable[[str], Any]] | None = None,
    show_default: bool = False,
) -> None:
    """Add one flag per field of ``config_class`` to ``parser``.

    Args:
        parser: the subcommand's parser (or an argument group of it).
        config_class: the dataclass; its fields' defaults and help are the flags'.
        exclude: fields that are not flags (set by the command itself, or by the experiment runner).
        only: when given, just these fields (a few flags shared with another command).
        required: fields the command needs although the dataclass has a default for them.
        types: argparse types by field name, where the annotation is too loose (``positive_int``).
        show_default: end each help text that does not name its default with ``(default: ...)``.
    """
    hints = typing.get_type_hints(config_class)
    types = types or {}
    for item in config_fields(config_class, exclude):
        if only is not None and item.name not in set(only):
            continue
        flag = flag_name(item)
        kwargs: dict[str, Any] = {"help": item.metadata.get("help")}
        for key in ("choices", "metavar"):
            if key in item.metadata:
                kwargs[key] = item.metadata[key]
        if not flag.startswith("-"):  # a positional argument
            parser.add_argument(flag, **kwargs)
            continue
        kind = _base_type(hints[item.name])
        if kind is bool:
            if is_negated(item) and flag == "--" + item.name.replace("_", "-"):
                raise TypeError(f"{config_class.__name__}.{item.name} defaults to True: give it a `flag`")
            parser.add_argument(flag, dest=flag_dest(item), action="store_true", **kwargs)
            continue
        kwargs["type"] = types.get(item.name, kind if kind in (int, float) else None)
        no_default = item.default is dataclasses.MISSING and item.default_factory is dataclasses.MISSING
        if no_default or item.name in set(required):
            kwargs["required"] = True
        else:
            default = item.default_factory() if item.default is dataclasses.MISSING else item.default
            kwargs["default"] = default
            if show_default and "default" not in (kwargs["help"] or ""):
                kwargs["help"] = f"{kwargs['help']} (default: {default})"
        parser.add_argument(flag, dest=flag_dest(item), **kwargs)


def config_from_args(config_class: type, args: argparse.Namespace, **values: Any) -> Any:
    """``config_class`` from the parsed flags; ``values`` set the fields that are not flags."""
    for item in config_fields(config_class):
        if item.name in values or not hasattr(args, flag_dest(item)):
            continue
        value = getattr(args, flag_dest(item))
        values[item.name] = not value if is_negated(item) else value
    return config_class(**values)
