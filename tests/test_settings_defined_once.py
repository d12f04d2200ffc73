"""No setting has two definitions (issue 27): a field name that appears in two config dataclasses with
different defaults is either one concept written twice (a bug: the copies drift, as the experiment's
retriever default did) or two concepts that share a name, listed below with the reason.

The flags' defaults are held to their fields by tests/test_command_configs.py; restated fields that must
agree (an experiment task's data settings and `DataConfig`'s) are checked here too.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import pkgutil
from collections import defaultdict

import percontrast

# name -> why the classes that define it mean different things by it (each class keeps its own default).
SHARED_NAMES = {
    "batch_size": "each job's own batch: scoring, generation, QA, the demo",
    "benchmark": "evaluate's optional benchmark name vs the data builder's required one",
    "bootstrap": "evaluate's switch (bool) vs the resample counts of identify, groups and the demo",
    "clip_max": "a grid cell's axis (required) vs PerCEConfig's default M",
    "clip_min": "a grid cell's axis (required) vs PerCEConfig's default m",
    "history": "the demo's short SPC prompts (2) vs an experiment task's (6)",
    "judge": "each job's judge with its role's defaults, stated once in its default_factory: evaluate's "
    "Table 10 judge, ALOE's (the protocol's 300 tokens, gpt-4o-mini), identify's greedy keyword lists; "
    "the experiment's optional section (None: off)",
    "learning_rate": "a grid cell's axis (required) vs the demo's",
    "learning_rates": "the grid's axis (required) vs a task's optional override",
    "loss": "a grid cell's axis (required) vs PerCEConfig's default",
    "max_length": "each job's own limit: training's 5000 (the paper's), the demo's 256, none elsewhere",
    "max_new_tokens": "the model under test's reply length: generation's 512 (the paper's) vs the demo's 24",
    "metrics": "evaluate's comma list (a flag) vs the experiment's YAML list",
    "mode": "launch mode (single, torchrun, accelerate) vs the judge's scoring mode",
    "model": "a chat model may be unset (the judge's by default) vs the models that default to SmolLM2",
    "seed": "each job's own seed (sampling, data sample, construct, evaluate's bootstrap); required in a cell",
    "seeds": "the grid's list vs the demo's tuple",
    "task": "a cell's task key vs a benchmark task name",
    "tasks": "the grid's task keys, the experiment's task sections, the QA tasks",
    "temperature": "the model under test's sampling (0.4, the paper's) vs a chat model's (1.0, the API default)",
}


def config_classes() -> list[type]:
    """Every dataclass defined in a percontrast config module."""
    found = set()
    for info in pkgutil.walk_packages(percontrast.__path__, "percontrast."):
        if not info.name.endswith("config"):
            continue
        module = importlib.import_module(info.name)
        for value in vars(module).values():
            if (
                inspect.isclass(value)
                and dataclasses.is_dataclass(value)
                and value.__module__ == module.__name__
            ):
                found.add(value)
    return sorted(found, key=lambda cls: cls.__qualname__)


def own_fields(cls: type) -> list[dataclasses.Field]:
    """The fields ``cls`` defines itself (not those it inherits unchanged; PerCEConfig: not
    transformers' TrainingArguments')."""
    annotations = vars(cls).get("__annotations__", {})
    return [item for item in dataclasses.fields(cls) if item.name in annotations]


def default(item: dataclasses.Field):
    if item.default is not dataclasses.MISSING:
        return item.default
    if item.default_factory is not dataclasses.MISSING:
        return item.default_factory()
    return "<required>"


def test_the_config_classes_are_found():
    names = {cls.__name__ for cls in config_classes()}
    assert {
        "DataConfig",
        "PerCEConfig",
        "DecodingConfig",
        "ChatModelConfig",
        "TaskConfig",
        "DemoConfig",
    } <= names


def test_no_setting_has_two_definitions():
    defaults: dict[str, dict[str, object]] = defaultdict(dict)
    for cls in config_classes():
        for item in own_fields(cls):
            defaults[item.name][cls.__qualname__] = default(item)
    drifted = {
        name: by_class
        for name, by_class in defaults.items()
        if len({repr(value) for value in by_class.values()}) > 1 and name not in SHARED_NAMES
    }
    assert not drifted, (
        "fields defined in several config classes with different defaults (take the default from the one "
        "definition, or list the name in SHARED_NAMES with why the meanings differ):\n"
        + "\n".join(f"{name}: {by_class}" for name, by_class in sorted(drifted.items()))
    )
    stale = sorted(
        name for name in SHARED_NAMES if len({repr(v) for v in defaults.get(name, {}).values()}) < 2
    )
    assert not stale, f"SHARED_NAMES lists names that no longer differ: {stale}"


def test_an_experiment_task_restates_the_data_settings_with_their_defaults():
    from percontrast.data.config import DataConfig
    from percontrast.experiments.config import TaskConfig

    data = {item.name: default(item) for item in dataclasses.fields(DataConfig)}
    task = {item.name: default(item) for item in dataclasses.fields(TaskConfig)}
    same_meaning = {
        "retriever": "retriever",
        "dense_model": "dense_model",
        "k": "k",
        "max_length": "max_length",
    }
    same_meaning |= {"data_seed": "seed", "test_split": "split", "hub_config": "hub_config"}
    for task_name, data_name in same_meaning.items():
        assert task[task_name] == data[data_name], f"TaskConfig.{task_name} != DataConfig.{data_name}"
