"""Every command's flags come from its config dataclass: same defaults, no field without a flag.

Each ``percontrast.commands.<name>`` module declares ``config_classes()`` -> ``{Config: fields that
are not flags}``; this builds the real parser of every subcommand and compares each flag's default
with its field's default (a role's, ``AloeConfig.judge``: with its field's ``default_factory``'s), so a
setting (default included) is defined in one place. The library entry points take the same dataclass
(`score_examples`, `run_identification`, `evaluate_predictions`), so they have no defaults of their own
to compare; and each command's ``run`` is held to "parse and call one library function".
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import inspect

import pytest

from percontrast.cli import SUBCOMMANDS, build_parser
from percontrast.commands.config_flags import (
    add_config_arguments,
    config_fields,
    config_from_args,
    flag_dest,
    is_negated,
    role_fields,
    role_flags,
)


def subcommand_parser(name: str) -> argparse.ArgumentParser:
    """The parser of ``percontrast <name>`` (train: its own HfArgumentParser, which takes the flags)."""
    module = importlib.import_module(f"percontrast.commands.{name}")
    if hasattr(module, "build_parser"):
        return module.build_parser()
    parser = build_parser()
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return subparsers.choices[name]


def field_default(item: dataclasses.Field):
    if item.default_factory is not dataclasses.MISSING:
        return item.default_factory()
    return item.default


@pytest.mark.parametrize("name", SUBCOMMANDS)
def test_every_flag_defaults_to_its_dataclass_field(name: str) -> None:
    module = importlib.import_module(f"percontrast.commands.{name}")
    assert hasattr(module, "config_classes"), (
        f"percontrast.commands.{name} declares no config_classes(): say which dataclasses its flags "
        "come from ({} when it takes only file paths)"
    )
    parser = subcommand_parser(name)
    hf_parser = hasattr(module, "build_parser")
    dests = {action.dest for action in parser._actions}
    for config_class, not_flags in module.config_classes().items():
        # not_flags: fields that are no flag (None), or whose flag is built apart under another dest
        renamed = dict(not_flags) if isinstance(not_flags, dict) else dict.fromkeys(not_flags)
        for item in dataclasses.fields(config_class):
            if item.name not in {f.name for f in config_fields(config_class)}:
                continue  # a nested dataclass: listed on its own
            expected = field_default(item)
            if hf_parser:  # HfArgumentParser: dest is the field's name, --no_x is a second flag
                dest = renamed.get(item.name, item.name)
            else:
                dest = renamed.get(item.name, flag_dest(item))
                expected = not expected if is_negated(item) else expected
            if dest is None:
                continue
            assert dest in dests, f"{name}: {config_class.__name__}.{item.name} has no flag"
            if item.default is dataclasses.MISSING and item.default_factory is dataclasses.MISSING:
                continue  # required: no default to compare
            if parser.get_default(dest) is argparse.SUPPRESS:  # unset_if_absent: a preset fills it in
                action = next(a for a in parser._actions if a.dest == dest)
                default = field_default(item)
                if default is not None and not isinstance(default, bool):
                    shown = " ".join(map(str, default)) if isinstance(default, tuple) else str(default)
                    assert f"default: {shown}" in action.help, (
                        f"{name}: the help of {config_class.__name__}.{item.name} must name its default "
                        f"{shown}: {action.help!r}"
                    )
                continue
            assert parser.get_default(dest) == expected, (
                f"{name}: the flag of {config_class.__name__}.{item.name} defaults to "
                f"{parser.get_default(dest)!r}, the field to {field_default(item)!r}"
            )
        for role in role_fields(config_class):  # a nested chat model: --<prefix>-<field>
            spec = role_flags(config_class, role.name)
            assert spec.fields(), f"{name}: {config_class.__name__}.{role.name} has no flag"
            for item in spec.fields():
                where = f"{config_class.__name__}.{role.name}.{item.name}"
                assert spec.dest(item) in dests, f"{name}: {where} has no flag"
                assert parser.get_default(spec.dest(item)) == getattr(spec.default, item.name), (
                    f"{name}: the flag of {where} defaults to {parser.get_default(spec.dest(item))!r}, the "
                    f"role to {getattr(spec.default, item.name)!r}"
                )


@dataclasses.dataclass
class Toy:
    path: str = dataclasses.field(metadata={"help": "a positional", "flag": "path"})
    size: int = dataclasses.field(default=3, metadata={"help": "a size"})
    name: str | None = dataclasses.field(default=None, metadata={"help": "a name", "flag": "--label"})
    mode: str = dataclasses.field(default="a", metadata={"help": "a mode", "choices": ("a", "b")})
    fast: bool = dataclasses.field(default=False, metadata={"help": "a switch"})
    with_x: bool = dataclasses.field(default=True, metadata={"help": "no x", "flag": "--no-x"})
    ratio: float | None = dataclasses.field(default=None, metadata={"help": "a ratio", "metavar": "R"})


def test_flags_round_trip_into_the_dataclass() -> None:
    parser = argparse.ArgumentParser()
    add_config_arguments(parser, Toy)
    assert config_from_args(Toy, parser.parse_args(["p"])) == Toy("p")
    args = parser.parse_args(
        ["p", "--size", "5", "--label", "n", "--mode", "b", "--fast", "--no-x", "--ratio", "0.5"]
    )
    assert config_from_args(Toy, args) == Toy("p", 5, "n", "b", True, False, 0.5)
    with pytest.raises(SystemExit):
        parser.parse_args(["p", "--mode", "c"])
    assert "--ratio R" in parser.format_help() and "--label LABEL" in parser.format_help()
    assert (args.label, args.no_x) == ("n", True)  # dests follow the flags, as hand-written ones


@dataclasses.dataclass
class Voice:
    words: int = dataclasses.field(default=5, metadata={"help": "words of the {role}"})
    loud: bool = dataclasses.field(default=False, metadata={"help": "a switch"})
    tone: str = dataclasses.field(default="calm", metadata={"help": "not a flag"})


@dataclasses.dataclass
class Show:
    size: int = dataclasses.field(default=3, metadata={"help": "a size"})
    host: Voice = dataclasses.field(
        default_factory=lambda: Voice(words=9),  # the role's own default, stated once
        metadata={
            "help": "a role",
            "prefix": "host",
            "only": ("words", "loud"),
            "flags": {"words": "--host-n"},
        },
    )


def test_a_role_s_flags_default_to_its_factory_and_round_trip() -> None:
    from percontrast.commands.config_flags import add_role_arguments

    parser = argparse.ArgumentParser()
    add_config_arguments(parser, Show)
    add_role_arguments(parser, Show, "host")
    assert parser.get_default("host_n") == 9 and "words of the host" in parser.format_help()
    assert "--host-tone" not in parser.format_help()
    assert config_from_args(Show, parser.parse_args([])) == Show()
    args = parser.parse_args(["--host-n", "2", "--host-loud", "--size", "4"])
    assert config_from_args(Show, args) == Show(size=4, host=Voice(words=2, loud=True))
    plain = argparse.ArgumentParser()
    add_config_arguments(plain, Show)  # no role flags: the role keeps its factory's value
    assert config_from_args(Show, plain.parse_args([])).host == Voice(words=9)


# Lines a command's run() may take: read the flags, call one library function, say what it wrote.
RUN_LINES = 40


@pytest.mark.parametrize("name", SUBCOMMANDS)
def test_every_command_runs_one_library_function(name: str) -> None:
    module = importlib.import_module(f"percontrast.commands.{name}")
    lines = len(inspect.getsource(module.run).splitlines())
    assert lines <= RUN_LINES, (
        f"percontrast.commands.{name}.run is {lines} lines: commands parse flags and call one library "
        "function; move the logic into the library"
    )


class _Summary:
    """What a faked library function returns: enough for the command to print."""

    def table(self) -> str:
        return "table"

    markdown_table = breakdown_table = table

    def __iter__(self):  # evaluate_file returns (metrics, table)
        return iter(({}, "table"))


# command line -> the library function its run() hands the parsed config to, the config's class, a check
ONE_CALL = [
    (
        ["evaluate", "--predictions", "p.jsonl", "--metrics", "rouge", "--partial"],
        "percontrast.evaluation.files.evaluate_file",
        "EvaluateConfig",
        lambda config: config.metrics == "rouge" and config.partial and config.rouge_tokenizer == "default",
    ),
    (
        ["identify", "--out", "r.json", "--methods", "percontrast,word_match", "--donors", "2"],
        "percontrast.identification.files.identify_files",
        "IdentifyConfig",
        lambda config: config.method_list == ("percontrast", "word_match") and config.donors == 2,
    ),
    (
        ["score", "--data", "d.jsonl", "--out", "s.jsonl", "--pir-form", "ratio"],
        "percontrast.scoring.files.score_file",
        "ScoreConfig",
        lambda config: config.pir_form == "ratio" and config.batch_size == 16,
    ),
    (
        ["data", "lamp", "--task", "LaMP_4", "--out", "x.jsonl", "--k", "2"],
        "percontrast.data.build.write_benchmark",
        "DataConfig",
        lambda config: config.k == 2 and config.benchmark == "lamp",
    ),
    (
        ["generate", "--data", "d.jsonl", "--out", "p.jsonl", "--greedy"],
        "percontrast.generation.files.generate_file",
        "DecodingConfig",
        lambda config: config.sampling.greedy and config.with_persona,
    ),
    (
        [
            "construct",
            "--personas",
            "p.jsonl",
            "--out",
            "o.jsonl",
            "--url",
            "http://127.0.0.1:1/v1",
            "--api-model",
            "m",
        ],
        "percontrast.data.synthetic.construct_files",
        "ConstructConfig",
        lambda config: config.writer.api_model == "m" and config.writer.temperature == 0.7,
    ),
]


@pytest.mark.parametrize(("argv", "target", "config_name", "check"), ONE_CALL)
def test_run_hands_its_config_to_one_library_function(
    argv, target, config_name, check, monkeypatch, tmp_path
) -> None:
    from percontrast.cli import main

    monkeypatch.chdir(tmp_path)  # the relative paths above: nothing is written, but checks look there
    module_name, function_name = target.rsplit(".", 1)
    calls = []

    def fake(config, *args, **kwargs):
        calls.append(config)
        return _Summary()

    monkeypatch.setattr(importlib.import_module(module_name), function_name, fake)
    assert main(argv) == 0
    assert len(calls) == 1 and type(calls[0]).__name__ == config_name
    assert check(calls[0])


def test_data_hub_config_flag():
    """`--config` meant a hub dataset config in `data` and a YAML file in `train`: `data` says --hub-config,
    and the old spelling is gone (0.x; CHANGELOG.md)."""
    from percontrast.cli import build_parser

    parser = build_parser()
    args = parser.parse_args(
        ["data", "longlamp", "--task", "product_review", "--out", "x.jsonl", "--hub-config", "c"]
    )
    assert args.hub_config == "c"
    with pytest.raises(SystemExit):
        parser.parse_args(
            ["data", "longlamp", "--task", "product_review", "--out", "x.jsonl", "--config", "c"]
        )
