"""Command-line flags generated from a config dataclass, as TRL's ``HfArgumentParser`` does.

A job's settings are defined once, as the fields of its ``*Config`` dataclass (name, type, default,
and ``metadata={"help": ...}``). `add_config_arguments` turns each field into a flag that keeps the
command's spelling (``--max-new-tokens`` for ``max_new_tokens`` unless a ``flag`` renames it), and
`config_from_args` turns the parsed flags back into the dataclass. The flag's ``dest`` is named after
the flag, as a hand-written one's would be (``--config`` -> ``args.config``).

Field metadata the helper reads besides ``help``: ``choices`` (a tuple of allowed values),
``metavar``, ``nargs`` (``"+"`` for a list of values) and ``flag`` (the flag's spelling, when it is not
the field's name). A ``bool`` field
that defaults to False becomes a ``store_true`` switch; one that defaults to True needs a ``flag``
(``--no-persona``), a switch whose value is the field's negation. A field without a default is a
required flag, or a positional argument when its ``flag`` has no leading dash.

A nested dataclass is a *role* when its field's metadata has a ``prefix``: one chat model configured
inside a job (``AloeConfig.judge``, ``AloeConfig.simulator``, ``IdentifyConfig.judge``,
``ConstructConfig.writer``). `add_role_arguments` turns its fields into ``--<prefix>-<name>`` flags
(``prefix`` ``""``: ``--<name>``) whose defaults are those of the field's ``default_factory`` (the
role's own, e.g. ALOE's 300-token judge), and `config_from_args` builds it back. The role's metadata
may also hold ``role`` (the ``{role}`` of the help texts; default: the field's name), ``title`` (the
flags' group), ``only`` (the nested fields that are flags) and ``flags`` (nested field -> its flag's
spelling where the command kept an older one, e.g. identify's ``--judge-max-new-tokens``). Other
nested dataclasses (`DecodingConfig.sampling`) are not flags: add their class separately.

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


def flag_name(item: dataclasses.Field, prefix: str | None = None, flags: dict[str, str] | None = None) -> str:
    """The flag of a field: its spelling in ``flags``, else its ``flag`` metadata, else ``--`` and the
    name with dashes (``--<prefix>-<name>`` with a prefix)."""
    if flags and item.name in flags:
        return flags[item.name]
    name = item.name.replace("_", "-")
    return f"--{prefix}-{name}" if prefix else item.metadata.get("flag", f"--{name}")


def flag_dest(item: dataclasses.Field, prefix: str | None = None, flags: dict[str, str] | None = None) -> str:
    """Where argparse keeps the flag's value: named after the flag, as a hand-written flag's is
    (``--turns`` -> ``turns``; ``--no-persona`` -> ``no_persona``, the field's negation)."""
    return flag_name(item, prefix, flags).lstrip("-").replace("-", "_")


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
    prefix: str | None = None,
    defaults: dict[str, Any] | None = None,
    help_values: dict[str, str] | None = None,
    unset_if_absent: bool = False,
    flags: dict[str, str] | None = None,
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
        prefix: flags ``--<prefix>-<name>`` (one dataclass for several roles: judge, simulator).
        defaults: defaults by field name that replace the dataclass's, where a command (ALOE) has its
            own, defined in its own config dataclass.
        help_values: ``str.format`` values of the help texts (``{role}``); ``{prefix}``,
            ``{flag_prefix}`` (``--<prefix>-``, or ``--`` without a prefix) and ``{default}`` are filled in.
        unset_if_absent: a flag left out leaves no attribute in the namespace (``argparse.SUPPRESS``),
            so `given_values` returns only the flags given: for presets that fill in the rest (``demo``).
            The help still names the dataclass's default.
        flags: field name -> the flag's spelling, where it is not ``--<prefix>-<name>`` (a role's).
    """
    hints = typing.get_type_hints(config_class)
    types, defaults, help_values = types or {}, defaults or {}, help_values or {}
    for item in config_fields(config_class, exclude):
        if only is not None and item.name not in set(only):
            continue
        flag = flag_name(item, prefix, flags)
        default = defaults.get(item.name, _default(item))
        kwargs: dict[str, Any] = {"help": item.metadata.get("help")}
        if help_values or prefix or unset_if_absent:
            flag_prefix = f"--{prefix}-" if prefix else "--"
            kwargs["help"] = kwargs["help"].format(
                prefix=prefix, flag_prefix=flag_prefix, default=default, **help_values
            )
        for key in ("choices", "metavar", "nargs"):
            if key in item.metadata:
                kwargs[key] = item.metadata[key]
        if not flag.startswith("-"):  # a positional argument
            parser.add_argument(flag, **kwargs)
            continue
        kind = _base_type(hints[item.name])
        if kind is bool:
            if is_negated(item) and flag == "--" + item.name.replace("_", "-"):
                raise TypeError(f"{config_class.__name__}.{item.name} defaults to True: give it a `flag`")
            if unset_if_absent:
                kwargs["default"] = argparse.SUPPRESS
            parser.add_argument(flag, dest=flag_dest(item, prefix, flags), action="store_true", **kwargs)
            continue
        kwargs["type"] = types.get(item.name, kind if kind in (int, float) else None)
        if default is dataclasses.MISSING or item.name in set(required):
            kwargs["required"] = True
        else:
            kwargs["default"] = argparse.SUPPRESS if unset_if_absent else default
            if (
                (show_default or unset_if_absent)
                and default is not None
                and "default" not in (kwargs["help"] or "")
            ):
                kwargs["help"] = f"{kwargs['help']} (default: {default})"
        parser.add_argument(flag, dest=flag_dest(item, prefix, flags), **kwargs)


def role_fields(config_class: type) -> list[dataclasses.Field]:
    """The fields of ``config_class`` that are roles: a nested dataclass whose metadata has a ``prefix``."""
    return [item for item in dataclasses.fields(config_class) if "prefix" in item.metadata]


@dataclasses.dataclass(frozen=True)
class RoleFlags:
    """How the flags of one role (a nested dataclass field) are spelled, and their defaults."""

    config_class: type  # the nested dataclass (ChatModelConfig, JudgeConfig)
    prefix: str | None  # --<prefix>-<name>; None: --<name>
    flags: dict[str, str]  # nested field -> its flag, where it is not --<prefix>-<name>
    only: tuple[str, ...] | None  # the nested fields that are flags (None: all)
    default: Any  # the nesting field's default_factory() (the role's defaults)
    role: str  # the {role} of the help texts
    title: str  # the flags' argument group

    def fields(self) -> list[dataclasses.Field]:
        """The nested fields that are flags."""
        return [
            item for item in config_fields(self.config_class) if self.only is None or item.name in self.only
        ]

    def dest(self, item: dataclasses.Field) -> str:
        return flag_dest(item, self.prefix, self.flags)


def role_flags(config_class: type, name: str) -> RoleFlags:
    """The `RoleFlags` of ``config_class``'s role field ``name``."""
    role = next((item for item in role_fields(config_class) if item.name == name), None)
    if role is None or role.default_factory is dataclasses.MISSING:
        raise TypeError(f"{config_class.__name__}.{name} is no role: a nested dataclass with a prefix")
    meta = role.metadata
    return RoleFlags(
        config_class=_base_type(typing.get_type_hints(config_class)[name]),
        prefix=meta["prefix"] or None,
        flags=dict(meta.get("flags", {})),
        only=tuple(meta["only"]) if "only" in meta else None,
        default=role.default_factory(),
        role=meta.get("role", name),
        title=meta.get("title", meta.get("role", name)),
    )


def add_role_arguments(
    parser: argparse.ArgumentParser,
    config_class: type,
    name: str,
    *,
    types: dict[str, Callable[[str], Any]] | None = None,
    required: Iterable[str] = (),
    show_default: bool = True,
) -> None:
    """The flags of the role ``name`` of ``config_class`` (``--<prefix>-<field>``), in a group of their
    own, defaulting to the role's defaults (the field's ``default_factory``)."""
    spec = role_flags(config_class, name)
    add_config_arguments(
        parser.add_argument_group(spec.title),
        spec.config_class,
        only=[item.name for item in spec.fields()],
        required=required,
        types=types,
        show_default=show_default,
        prefix=spec.prefix,
        defaults={item.name: getattr(spec.default, item.name) for item in dataclasses.fields(spec.default)},
        help_values={"role": spec.role},
        flags=spec.flags,
    )


def _default(item: dataclasses.Field) -> Any:
    """The field's default (a fresh one from its factory); MISSING when it has none."""
    if item.default_factory is not dataclasses.MISSING:
        return item.default_factory()
    return item.default


def given_values(
    config_class: type,
    args: argparse.Namespace,
    *,
    prefix: str | None = None,
    flags: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Field name -> value of every flag of ``config_class`` the namespace holds (with
    ``unset_if_absent``: the flags given on the command line)."""
    values = {}
    for item in config_fields(config_class):
        if hasattr(args, flag_dest(item, prefix, flags)):
            value = getattr(args, flag_dest(item, prefix, flags))
            values[item.name] = not value if is_negated(item) else value
    return values


def role_from_args(config_class: type, name: str, args: argparse.Namespace) -> Any:
    """The role ``name`` of ``config_class`` from its flags, the role's defaults filling in the rest
    (None: the namespace holds none of its flags)."""
    spec = role_flags(config_class, name)
    flags = {item.name for item in spec.fields()}
    given = given_values(spec.config_class, args, prefix=spec.prefix, flags=spec.flags)
    given = {key: value for key, value in given.items() if key in flags}
    if not given:
        return None
    values = {item.name: getattr(spec.default, item.name) for item in dataclasses.fields(spec.default)}
    return spec.config_class(**(values | given))


def config_from_args(
    config_class: type, args: argparse.Namespace, *, prefix: str | None = None, **values: Any
) -> Any:
    """``config_class`` from the parsed flags (``--<prefix>-*`` ones with a prefix), its roles from
    theirs (`role_from_args`); ``values`` set the fields that are not flags."""
    roles = {item.name: role_from_args(config_class, item.name, args) for item in role_fields(config_class)}
    roles = {name: role for name, role in roles.items() if role is not None and name not in values}
    return config_class(**(given_values(config_class, args, prefix=prefix) | roles | values))
