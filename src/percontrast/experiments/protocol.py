"""The resolved protocol of an experiment config, per paper table: what ``--dry-run`` prints first.

Every setting that decides a reported number is listed by the table it fills: prompts by name, the
models, temperatures, token limits, the test split, learning rates. Values are read from the loaded
config and the library's own defaults (`AloeConfig`, `Judge`), never restated here, so the list is
what a run would do. ``docs/experiments.md`` holds the same table for ``configs/paper/qwen3_4b.yaml``
with the paper's or ``eval_own.py``'s line beside each row, and a test keeps the two equal.

    from percontrast.experiments.protocol import protocol_table
    print(protocol_table(load_experiment_config("configs/paper/qwen3_4b.yaml")))
"""

from __future__ import annotations

from percontrast.experiments.config import ExperimentConfig, JudgeSettings, TaskConfig
from percontrast.utils.tables import markdown_table

Row = tuple[str, str, str]  # (tables, setting, value)
THINKING = "chat template, enable_thinking=False"


def _tables(config: ExperimentConfig) -> str:
    """The paper tables the grid's in-domain / cross-task numbers fill."""
    sources = {task.source for task in config.tasks.values()}
    tables = []
    if "longlamp" in sources:
        tables.append("12" if len(config.grid.clips) > 1 else "1")
        if len(config.grid.learning_rates) > 1:
            tables.append("2")
        if config.evaluation.cross_task:
            tables.append("3")
    if "lamp" in sources:
        tables.append("5")
    if "persona_chat" in sources:
        tables.append("SPC (ours)")
    return "Table " + ", ".join(tables) if tables else "grid"


def _task_rows(where: str, name: str, task: TaskConfig, config: ExperimentConfig) -> list[Row]:
    from percontrast.data.lamp import LAMP_TASKS
    from percontrast.data.longlamp import LONGLAMP_TASKS
    from percontrast.prompts import benchmarks as prompts
    from percontrast.prompts.registry import get_template

    label = config.task_label(name)
    if task.source == "persona_chat":
        data = f"bundled Synthetic-Persona-Chat next reply, history {task.history}"
        template = "persona_dialogue_chat"
    else:
        spec = (LONGLAMP_TASKS if task.source == "longlamp" else LAMP_TASKS)[task.task]
        template = prompts.DEFAULT_TEMPLATES[spec.name]
        train = task.train_input or f"{task.hub_config} [{task.train_split}]"
        test = task.test_input or f"{task.hub_config} [{task.test_split}]"
        data = (
            f"train {task.train_sample or 'all'} of {train}, test {task.test_sample or 'all'} of {test}; "
            f"{task.retriever} top-{task.k}, persona cut to {task.max_length or 'no'} tokens"
        )
    kind = get_template(template).kind
    template += f" ({THINKING})" if kind == "chat" else " (plain text)"
    rates = ", ".join(f"{lr:g}" for lr in (task.learning_rates or config.grid.learning_rates))
    return [
        (where, f"{label} data", data),
        (where, f"{label} prompt", template),
        (where, f"{label} learning rates", rates),
    ]


def _grid_rows(config: ExperimentConfig) -> list[Row]:
    where, training, generation = _tables(config), config.training, config.generation
    launch = config.launch
    batch = (
        training.get("per_device_train_batch_size", 8)
        * training.get("gradient_accumulation_steps", 1)
        * launch.nproc
    )
    clips = "; ".join(f"({m:g}, {big_m:g})" for m, big_m in config.grid.clips)
    rows = [
        (where, "models", ", ".join(config.grid.models)),
        (where, "losses", ", ".join(config.grid.losses) + f"; PerCE clip (m, M): {clips}"),
        (where, "seeds", ", ".join(map(str, config.grid.seeds))),
    ]
    if len(config.grid.learning_rates) > 1 or any(t.learning_rates for t in config.tasks.values()):
        rows.append(
            (
                where,
                "learning rate reported",
                "per model, loss and task: the best in-domain ROUGE-L of the grid",
            )
        )
    for name in config.grid.tasks:
        rows += _task_rows(where, name, config.tasks[name], config)
    for name in config.tasks:
        if name not in config.grid.tasks:  # a target only (cross-task)
            rows += _task_rows(where, name, config.tasks[name], config)[:2]
    rows += [
        (
            where,
            "training",
            f"{_length(training)}, {_setting(training, 'optim')} "
            f"betas ({_setting(training, 'adam_beta1')}, {_setting(training, 'adam_beta2')}), "
            f"warmup {_setting(training, 'warmup_steps')}, {_setting(training, 'lr_scheduler_type')}, "
            f"global batch {batch}, max length {_setting(training, 'max_length')}",
        ),
        (
            where,
            "generation",
            "greedy"
            if generation.greedy
            else f"temperature {generation.temperature:g}, {generation.max_new_tokens} new tokens, "
            f"{generation.backend}",
        ),
        (where, "metrics", ", ".join(config.evaluation.metrics)),
    ]
    return rows


def _backend(settings: JudgeSettings) -> str:
    if settings.url:
        extra = (
            f", chat_template_kwargs {settings.chat_template_kwargs}" if settings.chat_template_kwargs else ""
        )
        return f"{settings.api_model} @ {settings.url}{extra}"
    return f"{settings.model} (local, {THINKING})"


def _aloe_rows(config: ExperimentConfig) -> list[Row]:
    aloe = config.evaluation.aloe
    judge = config.evaluation.judge or JudgeSettings()
    where = "Table 4, 9"
    mode = aloe.judge.mode or ("sample" if judge.url else "probability")
    n_profiles = "all" if aloe.n_profiles is None else aloe.n_profiles
    return [
        (where, "conversations", f"{n_profiles} profiles x first {aloe.n_personalities} personalities"),
        (where, "turns", f"{aloe.n_turns}; reported AL({aloe.average_from})..AL({aloe.n_turns}) and average"),
        (where, "model under test", f"dialogue only, no system prompt; {THINKING}"),
        (
            where,
            "model under test sampling",
            f"temperature {aloe.temperature:g}, {aloe.max_new_tokens} new tokens",
        ),
        (where, "simulator", _backend(judge)),
        (
            where,
            "simulator prompt",
            "aloe_user_simulator (first user message), replies cleaned by remove_asterisk_text",
        ),
        (
            where,
            "simulator sampling",
            f"temperature {aloe.simulator.temperature:g}, {aloe.simulator.max_tokens} tokens",
        ),
        (where, "judge", _backend(judge)),
        (where, "judge prompt", "aloe_judge (one user message)"),
        (
            where,
            "judge sampling",
            f"{mode}, {aloe.judge.samples} sample(s), temperature {aloe.judge.temperature:g}, "
            f"{aloe.judge.max_tokens} tokens; parsed with int(), 1-5; replies holding a reasoning block counted",
        ),
    ]


def _judge_rows(config: ExperimentConfig) -> list[Row]:
    judge = config.evaluation.judge
    where = "Table 10"
    temperature, max_tokens = judge.temperature, judge.max_tokens
    mode = judge.mode or ("sample" if judge.url else "probability")
    how = (
        "probability: expected digit under the next-token distribution (G-Eval)"
        if mode == "probability"
        else f"sample: mean of {judge.samples} sample(s) at temperature {temperature:g}, {max_tokens} tokens"
    )
    limit = "all" if judge.limit is None else f"first {judge.limit}"
    return [
        (where, "judge", _backend(judge)),
        (where, "prompts", "judge_personalization_system/user, judge_quality_system/user"),
        (where, "scoring", how),
        (where, "Quality", "mean of coherence, consistency, fluency, relevance"),
        (where, "predictions judged", f"{limit} in-domain predictions per cell"),
    ]


def protocol(config: ExperimentConfig) -> list[Row]:
    """``(tables, setting, value)`` for every setting behind the config's numbers, by table."""
    rows = _grid_rows(config)
    if config.evaluation.aloe is not None:
        rows += _aloe_rows(config)
    if config.evaluation.judge is not None and config.evaluation.judge.predictions:
        rows += _judge_rows(config)
    if config.evaluation.qa is not None:
        qa = config.evaluation.qa
        limit = "all" if qa.limit is None else qa.limit
        rows.append(
            (
                "Table 11",
                "tasks",
                f"{', '.join(qa.tasks)} (lm-eval), {limit} examples, {qa.max_gen_toks} tokens",
            )
        )
    return rows


def protocol_table(config: ExperimentConfig) -> str:
    """`protocol` as a markdown table (``| Table | Setting | Value |``)."""
    return markdown_table(["Table", "Setting", "Value"], protocol(config))


def _setting(training: dict, name: str) -> object:
    """A training setting as the cells will run it: the config's value, else `PerCEConfig`'s default
    (read from the dataclass, not restated here)."""
    import dataclasses

    from percontrast.training.config import PerCEConfig

    if name in training:
        value = training[name]
    else:
        value = next(item.default for item in dataclasses.fields(PerCEConfig) if item.name == name)
    return getattr(value, "value", value)  # enums (optim, scheduler) by their value


def _length(training: dict) -> str:
    """``N steps`` when max_steps is set (it overrides the epochs), else ``N epochs``."""
    steps = _setting(training, "max_steps")
    if isinstance(steps, int) and steps > 0:
        return f"{steps} steps"
    return f"{_setting(training, 'num_train_epochs'):g} epochs"
