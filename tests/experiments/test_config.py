"""Every config in configs/ validates; bad configs fail with errors that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from percontrast.experiments.config import load_experiment_config
from percontrast.experiments.grid import expand
from percontrast.utils.errors import ConfigError

ROOT = Path(__file__).parents[2]
# Experiment configs (configs/accelerate holds accelerate configs, read by accelerate).
CONFIGS = sorted((ROOT / "configs" / "cpu").glob("*.yaml")) + sorted(
    (ROOT / "configs" / "paper").glob("*.yaml")
)


def test_configs_exist():
    names = {path.relative_to(ROOT / "configs").parts[0] for path in CONFIGS}
    assert {"cpu", "paper"} <= names


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_config_validates(path):
    config = load_experiment_config(path)
    cells = expand(config)
    assert cells, f"{path}: the grid is empty"
    assert len({cell.id for cell in cells}) == len(cells), "cell ids must be unique"
    if config.launch.config_file:
        assert (ROOT / config.launch.config_file).exists()
    if path.parent.name != "cpu":
        return
    for task in config.tasks.values():  # the CPU configs run here: their data files are in the repository
        for name in ("train_input", "train_outputs", "test_input", "test_outputs"):
            value = getattr(task, name)
            if value is not None and not value.startswith("/"):
                assert (ROOT / value).exists(), f"{path}: {name} {value} does not exist"


PAPER_LRS = [2e-6, 5e-6, 8e-6, 2e-5, 5e-5]


@pytest.mark.parametrize("path", sorted((ROOT / "configs" / "paper").glob("*.yaml")), ids=lambda p: p.name)
def test_paper_configs_follow_appendix_b(path):
    config = load_experiment_config(path)
    training = config.training
    assert training["num_train_epochs"] == 3
    assert (training["adam_beta1"], training["adam_beta2"]) == (0.9, 0.999)
    assert training["warmup_steps"] == 0.04 and training["max_length"] == 5000
    assert config.generation.temperature == 0.4 and config.generation.max_new_tokens == 512
    batch = (
        training["per_device_train_batch_size"]
        * training["gradient_accumulation_steps"]
        * config.launch.nproc
    )
    expected = {"Qwen/Qwen3-4B": 96, "meta-llama/Llama-3.1-8B-Instruct": 64, "Qwen/Qwen3-14B": 32}
    assert batch == expected[config.grid.models[0]]
    for task in config.tasks.values():
        if task.source == "longlamp":
            assert (task.train_sample, task.test_sample, task.k) == (2000, 500, 4)
        assert (task.retriever, task.dense_model, task.max_length) == ("contriever", None, 5000)
    if "clip" not in path.name:
        assert config.grid.learning_rates == PAPER_LRS
    else:
        assert len(config.grid.clips) == 9 and config.grid.losses == ["perce"]
        # Table 12's bold (0.8, 5) cells equal Table 2a at 2e-5 (PAG) and 5e-5 (PRW, PTW)
        from percontrast.experiments.grid import expand

        rates = {(cell.task, cell.learning_rate) for cell in expand(config)}
        assert rates == {("pag", 2e-5), ("prw", 5e-5), ("ptw", 5e-5)}
    for task in config.tasks.values():
        if task.source == "longlamp":
            assert task.test_split == "test"


def test_the_runner_and_percontrast_data_test_on_the_same_split():
    from percontrast.cli import build_parser
    from percontrast.experiments.config import TaskConfig

    args = build_parser().parse_args(["data", "longlamp", "--task", "product_review", "--out", "x"])
    assert TaskConfig(source="longlamp", task="product_review").test_split == args.split == "test"


@pytest.mark.parametrize("path", sorted((ROOT / "configs" / "paper").glob("*.yaml")), ids=lambda p: p.name)
def test_paper_judges_are_aloes_own_or_declared_and_table10_follows_g_eval(path):
    config = load_experiment_config(path)
    judge, text = config.evaluation.judge, path.read_text(encoding="utf-8")
    if judge is None:
        return
    if config.evaluation.aloe is not None:
        assert (judge.url, judge.api_model) == ("https://api.openai.com/v1", "gpt-4o-mini-2024-07-18")
    elif judge.api_model != "gpt-4o-mini-2024-07-18":
        assert "Departure" in text
    if judge.api_model and judge.api_model.startswith("Qwen/Qwen3"):
        assert judge.chat_template_kwargs == {"enable_thinking": False}
    if judge.predictions:  # Table 10: G-Eval's probability weighting, or the mean of 20 samples
        assert judge.mode == "probability" or (judge.mode == "sample" and judge.samples >= 20)


def _write(tmp_path, values) -> Path:
    path = tmp_path / "x.yaml"
    path.write_text(yaml.safe_dump(values), encoding="utf-8")
    return path


BASE = {
    "name": "x",
    "output_dir": "out",
    "grid": {"models": ["tiny"], "losses": ["ce"], "tasks": ["spc"], "learning_rates": [1e-3]},
    "tasks": {"spc": {"source": "persona_chat"}},
}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"grid": BASE["grid"] | {"losses": ["ce", "focal"]}}, "grid.losses"),
        # Review of issue 18/21's merge: these passed --dry-run and failed only after every cell had trained.
        (
            {"evaluation": {"judge": {"model": "tiny", "mode": "probabilty"}}},
            "evaluation.judge: mode must be one of",
        ),
        (
            {"evaluation": {"judge": {"model": "tiny", "samples": 0}}},
            "evaluation.judge: samples must be an integer >= 1",
        ),
        (
            {"evaluation": {"judge": {"model": "tiny", "limit": 0}}},
            "evaluation.judge.limit must be an integer",
        ),
        (
            {
                "evaluation": {
                    "judge": {"url": "http://127.0.0.1:1/v1", "api_model": "m", "mode": "probability"}
                }
            },
            "over a url use 'sample'",
        ),
        (
            {"tasks": {"spc": {"source": "persona_chat", "learning_rates": ["fast"]}}},
            "learning_rates must be numbers",
        ),
        ({"tasks": {"spc": {"source": "persona_chat", "learning_rates": [float("nan")]}}}, "finite and > 0"),
        (
            {"grid": BASE["grid"] | {"learning_rates_by_loss": {"ce": ["fast"]}}},
            "grid.learning_rates_by_loss.ce must be numbers",
        ),
        ({"grid": BASE["grid"] | {"tasks": ["nope"]}}, "not defined under `tasks`"),
        ({"grid": BASE["grid"] | {"clips": [[5, 0.8]]}}, "m <= M"),
        ({"tasks": {"spc": {"source": "persona_chat", "colour": 1}}}, "tasks.spc: unknown keys ['colour']"),
        ({"training": {"learning_rate": 1e-4}}, "set per cell by the grid"),
        ({"training": {"lr": 1e-4}}, "unknown PerCEConfig fields ['lr']"),
        ({"launch": {"mode": "mpirun"}}, "launch.mode"),
        ({"launch": {"mode": "single", "nproc": 2}}, "nproc 1"),
        ({"evaluation": {"qa": {"tasks": ["squad"]}}}, "qa.tasks"),
        ({"extra": 1}, "unknown keys ['extra']"),
        (
            {"tasks": {"spc": {"source": "persona_chat", "learning_rates": [0]}}},
            "learning_rates must be finite and > 0",
        ),
        ({"evaluation": {"aloe": {"profiles": "p"}}}, "evaluation.aloe needs profiles and personalities"),
        (
            {"evaluation": {"aloe": {"profiles": "p", "personalities": "q", "turns": 3}}},
            "unknown keys ['turns']",
        ),
        (
            {"evaluation": {"aloe": {"profiles": "p", "personalities": "q", "judge_mode": "x"}}},
            "aloe.judge: mode",
        ),
        (
            {"evaluation": {"aloe": {"profiles": "p", "personalities": "q", "judge": {"samples": 0}}}},
            "evaluation.aloe.judge: samples must be an integer >= 1",
        ),
        (
            {
                "evaluation": {
                    "aloe": {"profiles": "p", "personalities": "q", "judge": {"url": "http://x/v1"}}
                }
            },
            "evaluation.aloe.judge.url: the experiment runs ALOE's simulator and judge on the judge section's",
        ),
        (
            {
                "evaluation": {
                    "aloe": {
                        "profiles": "p",
                        "personalities": "q",
                        "judge_mode": "sample",
                        "judge": {"mode": "sample"},
                    }
                }
            },
            "judge_mode and judge.mode are one setting",
        ),
        ({"evaluation": {"judge": {"chat_template_kwargs": "enable_thinking"}}}, "must be a mapping"),
        # Issue 19: each of these passed --dry-run and then failed in every cell (or ran the wrong cell).
        ({"grid": BASE["grid"] | {"seeds": [-1]}}, "grid.seeds must be integers >= 0"),
        ({"grid": BASE["grid"] | {"seeds": [0.5]}}, "grid.seeds must be integers >= 0"),  # ran seed 0
        ({"grid": BASE["grid"] | {"seeds": [True]}}, "grid.seeds must be integers >= 0"),
        ({"grid": BASE["grid"] | {"clips": [[-1, 5]]}}, "[-1, 5]: clip_min (m) must be > 0"),
        ({"grid": BASE["grid"] | {"clips": [["a", 5]]}}, "two numbers"),
        ({"grid": BASE["grid"] | {"learning_rates": ["fast"]}}, "grid.learning_rates must be numbers"),
        ({"grid": BASE["grid"] | {"learning_rates": [1e-3, 0.001]}}, "grid.learning_rates: 0.001 given more"),
        ({"grid": BASE["grid"] | {"learning_rates": [1e-3, 1.0000001e-3]}}, "would share an id"),
        ({"grid": BASE["grid"] | {"seeds": [0, 0]}}, "grid.seeds: 0 given more than once"),
        ({"training": {"max_steps": "four"}}, "training: key 'max_steps': 'four' is not a valid int"),
        ({"training": {"max_steps": 0}}, "training: max_steps must be a positive number"),
        ({"training": {"num_train_epochs": -1}}, "training: num_train_epochs must be a positive"),
        # Issue 27: generation is a SamplingConfig checked at load, not when the first cell decodes.
        (
            {"generation": {"temperature": 0}},
            "generation: temperature must be a finite number > 0 when sampling",
        ),
        ({"generation": {"backend": "vlm"}}, "generation: backend must be one of"),
        ({"generation": {"max_new_tokens": 0}}, "generation: max_new_tokens must be >= 1"),
        ({"generation": {"seed": 1}}, "generation: unknown keys ['seed']"),  # each cell samples with its own
        # Issue 25: --dry-run accepted both precisions and every cell failed in transformers.
        ({"training": {"bf16": True, "fp16": True}}, "training: bf16 and fp16 are both set"),
    ],
)
def test_bad_configs_name_the_key(tmp_path, change, message):
    with pytest.raises(ConfigError, match=None) as error:
        load_experiment_config(_write(tmp_path, BASE | change))
    assert message in str(error.value)
    assert "x.yaml" in str(error.value)


def test_aloe_s_roles_load_nested_or_flat_from_their_defaults(tmp_path):
    """``aloe: {judge: {mode: sample}}`` keeps ALOE's other judge settings (300 tokens, not JudgeConfig's
    32), and the flat spelling of configs/cpu/tiny_all_tables.yaml (``simulator_max_new_tokens``) is the
    same setting."""
    files = {"profiles": "p", "personalities": "q"}
    nested = {"simulator": {"max_tokens": 4}, "judge": {"mode": "sample"}}
    flat = {"simulator_max_new_tokens": 4, "judge_mode": "sample"}
    loaded = [
        load_experiment_config(
            _write(tmp_path, BASE | {"evaluation": {"aloe": files | aloe}})
        ).evaluation.aloe
        for aloe in (nested, flat)
    ]
    assert loaded[0] == loaded[1]
    assert (loaded[0].simulator.max_tokens, loaded[0].simulator.temperature) == (4, 1.0)
    assert (loaded[0].judge.mode, loaded[0].judge.max_tokens) == ("sample", 300)
    # Both run on the judge section's model (here its default, a local SmolLM2), and the config says so.
    assert loaded[0].judge.model == loaded[0].simulator.model == "smollm2-135m-instruct"


def test_a_task_s_learning_rates_replace_the_grid_s(tmp_path):
    from percontrast.experiments.grid import expand

    tasks = {"a": {"source": "persona_chat"}, "b": {"source": "persona_chat", "learning_rates": [5e-5]}}
    values = BASE | {"grid": BASE["grid"] | {"tasks": ["a", "b"]}, "tasks": tasks}
    cells = expand(load_experiment_config(_write(tmp_path, values)))
    assert [(c.task, c.learning_rate) for c in cells] == [("a", 1e-3), ("b", 5e-5)]


def test_clip_only_multiplies_perce_cells(tmp_path):
    grid = BASE["grid"] | {"losses": ["ce", "perce"], "clips": [[0.2, 2], [0.8, 5]], "seeds": [0, 1]}
    cells = expand(load_experiment_config(_write(tmp_path, BASE | {"grid": grid})))
    assert sum(c.loss == "ce" for c in cells) == 2  # seeds only
    assert sum(c.loss == "perce" for c in cells) == 4  # clips x seeds
    assert all(c.clip_min is None for c in cells if c.loss == "ce")


def test_a_config_that_is_not_a_mapping_is_one_line(tmp_path):
    """An experiment YAML that is a list: `dict(values)` raised a raw ValueError."""
    path = tmp_path / "x.yaml"
    path.write_text("- name: x\n- output_dir: out\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="x.yaml: expected a mapping of section: value, got a list"):
        load_experiment_config(path)


def test_the_aloe_roles_on_the_judge_model_survive_a_second_check():
    """Putting ALOE's roles on the judge section's model must be idempotent: a replace of the evaluation
    section checks them again (it refused its own result: a review finding)."""
    import dataclasses

    from percontrast.evaluation.aloe_config import AloeConfig
    from percontrast.experiments.config import EvaluationSettings

    settings = EvaluationSettings(aloe=AloeConfig(profiles="p", personalities="q"))
    again = dataclasses.replace(settings, metrics=["rouge"])
    assert again.aloe == settings.aloe
