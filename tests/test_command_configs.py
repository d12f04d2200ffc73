"""Every command's flags come from its config dataclass: same defaults, no field without a flag.

Each ``percontrast.commands.<name>`` module declares ``config_classes()`` -> ``{Config: fields that
are not flags}``; this builds the real parser of every subcommand and compares each flag's default
with its field's default, so a setting (default included) is defined in one place. Library functions
that keep keyword defaults for notebooks must agree with the dataclasses; and each command's ``run``
is held to "parse and call one library function".
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
            assert parser.get_default(dest) == expected, (
                f"{name}: the flag of {config_class.__name__}.{item.name} defaults to "
                f"{parser.get_default(dest)!r}, the field to {field_default(item)!r}"
            )


def library_defaults():
    from percontrast.data.build import build_examples
    from percontrast.data.config import DataConfig
    from percontrast.data.construct_config import ConstructConfig
    from percontrast.data.retrieval import make_retriever
    from percontrast.data.synthetic import construct_dataset
    from percontrast.evaluation.config import EvaluateConfig
    from percontrast.evaluation.files import evaluate_predictions
    from percontrast.evaluation.judge import Judge
    from percontrast.evaluation.judge_config import JudgeConfig
    from percontrast.identification import run_identification
    from percontrast.identification.config import IdentifyConfig
    from percontrast.modeling.chat import OpenAIChat
    from percontrast.scoring.config import ScoreConfig
    from percontrast.scoring.pir import score_examples

    data = DataConfig("lamp", "LaMP_4")
    return [
        (
            build_examples,
            {n: getattr(data, n) for n in ("k", "template", "max_length", "sample", "seed", "skip_invalid")},
        ),
        (
            make_retriever,
            {"name": data.retriever}
            | {
                n: getattr(data, n) for n in ("seed", "k", "random_with_replacement", "dense_model", "device")
            },
        ),
        (score_examples, ScoreConfig().score_kwargs()),
        (run_identification, IdentifyConfig().run_kwargs()),
        (evaluate_predictions, EvaluateConfig().evaluate_kwargs()),
        (
            Judge,
            {
                "n_samples": JudgeConfig.samples,
                "temperature": JudgeConfig.temperature,
                "max_new_tokens": JudgeConfig.max_tokens,
            },
        ),
        (OpenAIChat, {"api_key_env": JudgeConfig.key_env}),
        (
            construct_dataset,
            {k: getattr(ConstructConfig("u", "m"), k) for k in ("temperature", "max_new_tokens", "seed")},
        ),
    ]


def test_config_defaults_are_the_library_functions_defaults() -> None:
    """The library functions keep keyword defaults for notebooks: they must be the CLI's."""
    for function, kwargs in library_defaults():
        parameters = inspect.signature(function).parameters
        for name, value in kwargs.items():
            assert parameters[name].default == value, f"{function.__qualname__}({name}=...)"


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
        lambda config: config.api_model == "m" and config.temperature == 0.7,
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


def test_data_hub_config_flag_and_its_old_spelling():
    """`--config` meant a hub dataset config in `data` and a YAML file in `train`: `data` says --hub-config
    now, and still takes --config."""
    from percontrast.cli import build_parser

    parser = build_parser()
    for flag in ("--hub-config", "--config"):
        args = parser.parse_args(
            ["data", "longlamp", "--task", "product_review", "--out", "x.jsonl", flag, "c"]
        )
        assert args.hub_config == "c"
