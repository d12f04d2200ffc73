"""The tiny grid end to end (2 losses x 2 learning rates): every cell runs data -> train -> generate ->
evaluate, the reports come out, a run killed mid-training resumes to the same final table, and a
failing cell is recorded while the grid goes on."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file
from transformers import TrainerCallback

from percontrast.cli import main
from percontrast.experiments.config import load_experiment_config
from percontrast.experiments.grid import expand
from percontrast.experiments.runner import RESULTS_NAME, dry_run, run_experiment
from percontrast.experiments.store import read_results

ROOT = Path(__file__).parents[2]
FIXTURE = "tests/fixtures/longlamp/product_review_user_val.json"


def tiny_config(tmp_path: Path, **changes) -> Path:
    """A 4-cell grid on `tiny` with 2 training steps per cell and a cross-task target."""
    values = {
        "name": "tiny-test",
        "output_dir": str(tmp_path / "out"),
        "grid": {
            "models": ["tiny"],
            "losses": ["ce", "perce"],
            "tasks": ["spc"],
            "learning_rates": [1e-3, 5e-3],
        },
        "tasks": {
            "spc": {
                "source": "persona_chat",
                "label": "SPC",
                "train_sample": 4,
                "test_sample": 2,
                "history": 2,
            },
            "prw": {
                "source": "longlamp",
                "task": "product_review",
                "label": "PRW",
                "train_input": str(ROOT / FIXTURE),
                "test_input": str(ROOT / FIXTURE),
                "test_sample": 1,
                "retriever": "bm25",  # offline (the default, contriever, needs the model)
            },
        },
        "training": {"max_steps": 2, "per_device_train_batch_size": 2, "probe_steps": 0, "use_cpu": True},
        "save_steps": 1,
        "generation": {"max_new_tokens": 4, "batch_size": 4},
    }
    values.update(changes)
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(values), encoding="utf-8")
    return path


def metric_values(results: Path) -> dict[tuple, float]:
    """The metric rows, without the training wall times (eval ``train``), which no rerun reproduces."""
    return {
        (r["cell"], r["eval"], r["target"], r["metric"]): r["value"]
        for r in read_results(results)
        if r["kind"] == "metric" and r["eval"] != "train"
    }


def rouge_by_hand(predictions: Path) -> dict[str, float]:
    """Mean ROUGE-1 / ROUGE-L F1 of a predictions file, straight from rouge-score."""
    from rouge_score.rouge_scorer import RougeScorer

    scorer = RougeScorer(["rouge1", "rougeL"], use_stemmer=False)
    rows = [json.loads(line) for line in predictions.read_text(encoding="utf-8").splitlines()]
    scores = [scorer.score(row["reference"], row["prediction"]) for row in rows]
    return {
        metric: statistics.fmean(score[metric].fmeasure for score in scores)
        for metric in ("rouge1", "rougeL")
    }


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    """One uninterrupted run of the tiny grid, through the CLI, with the reports."""
    tmp_path = tmp_path_factory.mktemp("grid")
    assert main(["experiment", str(tiny_config(tmp_path)), "--report"]) == 0
    return tmp_path / "out"


def test_grid_runs_every_cell_and_writes_reports(finished):
    records = read_results(finished / RESULTS_NAME)
    (run,) = [r for r in records if r["kind"] == "run"]
    assert run["config"]["grid"]["losses"] == ["ce", "perce"] and run["versions"]["torch"]
    cells = [r for r in records if r["kind"] == "cell"]
    assert [c["status"] for c in cells] == ["ok"] * 4
    values = metric_values(finished / RESULTS_NAME)
    for cell in {c["cell"] for c in cells}:
        for target in ("spc", "prw"):  # in-domain and cross-task
            predictions = finished / "cells" / cell / "predictions" / f"{target}.jsonl"
            for metric, expected in rouge_by_hand(predictions).items():
                assert values[(cell, "lexical", target, metric)] == pytest.approx(expected)
            assert 0.0 <= values[(cell, "lexical", target, "meteor")] <= 1.0
        assert values[(cell, "data", "spc", "n_train")] == 4
    report = (finished / "report" / "report.md").read_text()
    for key in ("Table 1", "Table 2", "Table 3", "Table 6", "Table 12"):
        assert f"### {key}" in report
    assert "PerCE" in report and "| Gain |" in report.replace("| tiny | Gain", "| Gain")
    assert (finished / "report" / "report.html").exists()


def test_cells_keep_their_per_example_reply_scores(finished, tmp_path):
    """Each cell writes its targets' per-example scores beside the predictions (the report's paired reply
    differences): ROUGE straight from rouge-score, each metric's mean the cell's row. `percontrast report
    --score-replies` writes the same files for a grid that lacks them, from the predictions alone."""
    import shutil

    from rouge_score.rouge_scorer import RougeScorer

    values = metric_values(finished / RESULTS_NAME)
    scorer = RougeScorer(["rougeL"], use_stemmer=False)
    copy = tmp_path / "copy"
    shutil.copytree(finished, copy, ignore=shutil.ignore_patterns("model", "report"))
    written = sorted(copy.glob("cells/*/scores/*.json"))
    assert len(written) == 8  # 4 cells x (in-domain, cross-task)
    for path in written:
        cell, target = path.parent.parent.name, path.stem
        saved = json.loads(path.read_text(encoding="utf-8"))
        rows = [json.loads(line) for line in (path.parent.parent / "predictions" / f"{target}.jsonl").open()]
        assert saved["ids"] == [row["id"] for row in rows]
        expected = [scorer.score(row["reference"], row["prediction"])["rougeL"].fmeasure for row in rows]
        assert saved["rougeL"] == pytest.approx(expected)
        for metric in ("rouge1", "rougeL", "meteor"):
            assert statistics.fmean(saved[metric]) == pytest.approx(values[(cell, "lexical", target, metric)])
        path.unlink()
    assert main(["report", str(copy / RESULTS_NAME), "--score-replies"]) == 0
    for path in written:
        original = finished / path.relative_to(copy)
        assert json.loads(path.read_text()) == json.loads(original.read_text())
    assert "minus CE, paired" in (copy / "report" / "report.md").read_text()


def test_rerun_skips_finished_cells(finished):
    before = len(read_results(finished / RESULTS_NAME))
    config = load_experiment_config(finished.parent / "tiny.yaml")
    summary = run_experiment(config, progress=False)
    assert summary.skipped == 4 and not summary.ok
    assert len(read_results(finished / RESULTS_NAME)) == before + 1  # only the run record
    assert "(finished: skipped)" in dry_run(config)


class _KillAfterFirstCheckpoint(TrainerCallback):
    """Interrupts (as Ctrl-C would) the second cell right after its first checkpoint."""

    def __init__(self) -> None:
        self.saves = 0

    def on_save(self, args, state, control, **kwargs):
        self.saves += 1
        if self.saves == 3:  # cell 1 saves at steps 1 and 2; cell 2 at step 1
            raise KeyboardInterrupt


def trained_weights(out: Path) -> dict[str, dict[str, torch.Tensor]]:
    """Each cell's final weights (cell id -> parameter name -> tensor)."""
    return {cell.name: load_file(cell / "model" / "model.safetensors") for cell in (out / "cells").iterdir()}


def test_killed_run_resumes_mid_training_to_the_same_table(tmp_path, finished):
    config = load_experiment_config(tiny_config(tmp_path))
    with pytest.raises(KeyboardInterrupt):
        run_experiment(config, callbacks=[_KillAfterFirstCheckpoint()], progress=False)
    second = Path(config.output_dir) / "cells" / expand(config)[1].id / "model"
    assert (second / "checkpoint-1").is_dir() and not (second / "training_done.json").exists()
    at_checkpoint = load_file(second / "checkpoint-1" / "model.safetensors")
    summary = run_experiment(config, progress=False)
    assert summary.skipped == 1 and len(summary.ok) == 3
    assert metric_values(Path(config.output_dir) / RESULTS_NAME) == pytest.approx(
        metric_values(finished / RESULTS_NAME)
    )
    # On `tiny` the lexical metrics are 0 whatever the weights; the weights themselves move with every
    # step. The resumed cell ends where the uninterrupted one did, not at its checkpoint (step 1 of 2).
    resumed, expected = trained_weights(Path(config.output_dir)), trained_weights(finished)
    assert resumed.keys() == expected.keys()
    for cell, weights in expected.items():
        for name, tensor in weights.items():
            torch.testing.assert_close(resumed[cell][name], tensor, rtol=0, atol=1e-6, msg=f"{cell} {name}")
    moved = max(
        (at_checkpoint[name] - t).abs().max().item() for name, t in resumed[second.parent.name].items()
    )
    assert moved > 1e-4, "the second training step did not change the weights: nothing here could differ"


def test_failed_cell_is_recorded_and_the_grid_goes_on(tmp_path):
    grid = {"models": ["tiny", "no/such-model"], "losses": ["ce"], "tasks": ["spc"], "learning_rates": [1e-3]}
    config = load_experiment_config(tiny_config(tmp_path, grid=grid, evaluation={"cross_task": False}))
    summary = run_experiment(config, progress=False)
    assert len(summary.ok) == 1 and list(summary.failed) == [expand(config)[1].id]
    (failed,) = [
        r for r in read_results(Path(config.output_dir) / RESULTS_NAME) if r.get("status") == "failed"
    ]
    assert failed["error"] and failed["traceback"]


def test_lexical_rows_are_the_scores_of_the_predictions_on_disk(tmp_path):
    """On `tiny` every ROUGE is 0; with the first prediction replaced by its reference, the rerun (which
    keeps the trained model and the predictions on disk) must report that prediction's score of 1."""
    grid = {"models": ["tiny"], "losses": ["perce"], "tasks": ["spc"], "learning_rates": [1e-3]}
    config = load_experiment_config(tiny_config(tmp_path, grid=grid, evaluation={"cross_task": False}))
    assert not run_experiment(config, progress=False).failed
    out = Path(config.output_dir)
    (cell,) = (out / "cells").iterdir()
    predictions = cell / "predictions" / "spc.jsonl"
    rows = [json.loads(line) for line in predictions.read_text(encoding="utf-8").splitlines()]
    rows[0]["prediction"] = rows[0]["reference"]
    predictions.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    (out / RESULTS_NAME).unlink()
    assert not run_experiment(config, progress=False).failed
    values = metric_values(out / RESULTS_NAME)
    for metric, expected in rouge_by_hand(predictions).items():
        assert expected >= 1 / len(rows)  # the copied reference counts
        assert values[(cell.name, "lexical", "spc", metric)] == pytest.approx(expected)


@pytest.mark.parametrize("limit", [1, 5])
def test_any_judge_limit_judges_that_many_predictions_and_says_so(tmp_path, limit):
    """A limit below the test set (2 predictions) judges the first ones, labelled as a subset in the
    rows (n) and in Table 10; a limit above it judges them all."""
    from percontrast.experiments.report import write_reports

    grid = {"models": ["tiny"], "losses": ["perce"], "tasks": ["spc"], "learning_rates": [1e-3]}
    judge = {"model": "tiny", "limit": limit}
    config = load_experiment_config(
        tiny_config(tmp_path, grid=grid, evaluation={"cross_task": False, "judge": judge})
    )
    summary = run_experiment(config, progress=False)
    assert not summary.failed, summary.failed
    out = Path(config.output_dir)
    judged = [r for r in read_results(out / RESULTS_NAME) if r.get("eval") == "judge"]
    assert {r["metric"] for r in judged} >= {"personalization"}
    assert all(r["n"] == min(limit, 2) and 1.0 <= r["value"] <= 5.0 for r in judged), judged
    write_reports(out / RESULTS_NAME, tmp_path / "report")
    report = (tmp_path / "report" / "report.md").read_text()
    assert "### Table 10" in report
    assert ("SPC: judged on the first 1 of 2 test predictions" in report) == (limit == 1), report


def test_dry_run_lists_cells_and_steps(tmp_path, capsys):
    assert main(["experiment", str(tiny_config(tmp_path)), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("4 cells") and "cross-task" in out and "train: perce lr=0.005" in out
    assert main(["experiment", str(tiny_config(tmp_path)), "--count"]) == 0
    assert capsys.readouterr().out.strip() == "4"
    assert not (tmp_path / "out").exists()


def test_a_torn_checkpoint_is_never_the_resume_point(tmp_path):
    """An experiment killed while a cell saved checkpoint-4 (no trainer_state.json yet): every rerun
    resumed from it, failed (trainer_state.json missing) and appended another `failed` record."""
    from percontrast.experiments.steps import last_checkpoint

    model_dir = tmp_path / "model"
    (model_dir / "checkpoint-2").mkdir(parents=True)
    (model_dir / "checkpoint-2" / "trainer_state.json").write_text('{"global_step": 2}')
    (model_dir / "checkpoint-4").mkdir()
    (model_dir / "checkpoint-4" / "model.safetensors").write_bytes(b"half")
    (model_dir / "checkpoint-10").mkdir()
    (model_dir / "checkpoint-10" / "trainer_state.json").write_text('{"global_st')  # torn
    assert last_checkpoint(model_dir) == model_dir / "checkpoint-2"
    (model_dir / "checkpoint-2" / "trainer_state.json").unlink()
    assert last_checkpoint(model_dir) is None  # the runner then starts the cell's training afresh


@pytest.mark.slow
def test_token_groups_and_train_time_rows(tmp_path):
    """evaluation.token_groups: each cell's rows per group, on the same tokens for every cell; `all` is the
    pooled NLL of the per-example sums; the report has the groups and training-time tables."""
    import json

    from percontrast.experiments.report import write_reports

    grid = {"models": ["tiny"], "losses": ["ce", "perce_frozen"], "tasks": ["spc"], "learning_rates": [1e-3]}
    path = tiny_config(
        tmp_path,
        grid=grid,
        evaluation={"cross_task": False, "token_groups": True, "group_threshold": 0.0},
        generation={"max_new_tokens": 4, "batch_size": 4, "limit": 1},
    )
    assert main(["experiment", str(path)]) == 0
    out = tmp_path / "out"
    rows = [r for r in read_results(out / RESULTS_NAME) if r["kind"] == "metric"]
    groups = [r for r in rows if r["eval"] == "groups"]
    assert {r["loss"] for r in groups} == {"ce", "perce_frozen"}
    counts = {(r["metric"], r["loss"]): r["n"] for r in groups}
    for metric in ("nll_reference_personal", "nll_reference_rest", "nll_all"):
        assert counts[(metric, "ce")] == counts[(metric, "perce_frozen")]  # the same tokens in every cell
    for row in (r for r in groups if r["metric"] == "nll_all"):
        saved = json.loads((out / "cells" / row["cell"] / "token_groups.json").read_text())
        assert row["value"] == pytest.approx(sum(saved["nll_sum"]["all"]) / sum(saved["n_tokens"]["all"]))
    assert {r["loss"] for r in rows if r["metric"] == "train_seconds"} == {"ce", "perce_frozen"}
    # generation.limit: 1 of the 2 test examples generated; the groups still cover both.
    assert {r["n"] for r in rows if r["metric"] == "rougeL"} == {1}
    for row in groups:
        assert len(json.loads((out / "cells" / row["cell"] / "token_groups.json").read_text())["ids"]) == 2
    write_reports(out / RESULTS_NAME, tmp_path / "report")
    report = (tmp_path / "report" / "report.md").read_text()
    assert "NLL per token by token group" in report and "ratio to CE" in report
    assert "minus CE" in report and "paired across models" in report  # the bootstrap of the cells' sums
    from percontrast.experiments.groups import paired_differences

    cells = {
        loss: sorted({r["cell"] for r in groups if r["loss"] == loss}) for loss in ("ce", "perce_frozen")
    }
    paired = paired_differences(out, "spc", cells, n_bootstrap=20)
    value = {r["loss"]: r["value"] for r in groups if r["metric"] == "nll_all"}
    difference = paired["groups"]["all"]["differences"]["perce_frozen"]["nll"]["mean"]
    assert difference == pytest.approx(value["perce_frozen"] - value["ce"])


def test_task_data_built_with_other_settings_is_refused(tmp_path):
    """A rerun into an existing experiment folder after a task's settings changed (a paper config moved
    its test split from val to test) kept the old data and mixed the two protocols' rows."""
    from percontrast.experiments.config import load_experiment_config
    from percontrast.experiments.runner import _Context
    from percontrast.utils.errors import ConfigError

    config = load_experiment_config(tiny_config(tmp_path))
    directory = _Context(config, "run-1").data_dir("tiny", "spc")
    assert (directory / "train.jsonl").exists()
    assert _Context(config, "run-2").data_dir("tiny", "spc") == directory  # same settings: reused
    config.tasks["spc"].test_sample = 3
    with pytest.raises(ConfigError, match=r"test_sample: 2 there, 3 now"):
        _Context(config, "run-3").data_dir("tiny", "spc")


# ------------------------------------------------------------- finished cells under other settings (issue 25)


def _copy_of_finished(finished: Path, tmp_path: Path) -> Path:
    import shutil

    shutil.copytree(finished, tmp_path / "out")
    return tmp_path / "out" / RESULTS_NAME


def _tiny_changed(tmp_path: Path, section: str, change: dict) -> Path:
    """tiny_config with ``change`` merged into one section (``tasks.spc`` for the task)."""
    base = yaml.safe_load(tiny_config(tmp_path).read_text(encoding="utf-8"))
    if section == "tasks.spc":
        base["tasks"]["spc"] |= change
    elif section:
        base[section] = (base.get(section) or {}) | change
    else:
        base |= change
    return tiny_config(tmp_path, **base)


@pytest.mark.parametrize(
    ("section", "change", "message"),
    [
        ("tasks.spc", {"train_sample": 3}, "tasks.spc.train_sample: 4 there, 3 now"),
        ("generation", {"max_new_tokens": 8}, "generation.max_new_tokens: 4 there, 8 now"),
        ("training", {"max_steps": 3}, "training.max_steps: 2 there, 3 now"),
        ("training", {"bf16": True}, "training.bf16: False there, True now"),
        ("evaluation", {"cross_task": False}, "evaluation.cross_task: True there, False now"),
        ("evaluation", {"judge": {"model": "tiny"}}, "evaluation.judge: None there, {"),
    ],
)
def test_finished_cells_under_other_settings_are_refused(tmp_path, finished, section, change, message):
    """A finished grid rerun after a task's train_sample or the generation's max_new_tokens changed kept
    its 4 cells ("4 already finished"), while new cells under the same change were refused."""
    from percontrast.utils.errors import ConfigError

    results = _copy_of_finished(finished, tmp_path)
    before = results.read_bytes()
    path = _tiny_changed(tmp_path, section, change)
    with pytest.raises(ConfigError) as error:
        run_experiment(load_experiment_config(path), progress=False)
    text = str(error.value)
    assert message in text and "4 finished cells ran with other settings" in text
    assert "Use a new output_dir, or remove those cells" in text
    assert results.read_bytes() == before  # refused before the run record is appended
    assert main(["experiment", str(path), "--dry-run"]) == 2


@pytest.mark.parametrize(
    ("section", "change"),
    [
        ("", {"name": "renamed", "save_steps": 5}),
        ("launch", {"extra_args": ["--verbose"]}),
        ("generation", {"batch_size": 1}),
        ("tasks.spc", {"label": "Persona-Chat"}),
        ("training", {"logging_steps": 7, "disable_tqdm": True, "dataloader_num_workers": 0}),
        ("training", {"lr_scheduler_type": "linear", "bf16": False}),  # the defaults, now written out
    ],
)
def test_finished_cells_are_kept_when_nothing_that_decides_results_changed(
    tmp_path, finished, section, change
):
    """The other direction: another output_dir (this copy), name, launch, batch size of generation, label
    or logging leave the finished cells as they are."""
    _copy_of_finished(finished, tmp_path)
    summary = run_experiment(load_experiment_config(_tiny_changed(tmp_path, section, change)), progress=False)
    assert summary.skipped == 4 and not summary.ok and not summary.failed


# The run record of the grid running while this check was written (configs/cpu/smollm2_spc_paper_size.yaml,
# written by commit fcc7ec8, before the check existed): resumed unchanged, its finished cells are kept.
BASE_COMMIT_RUN_CONFIG = {
    "evaluation": {"aloe": None, "cross_task": False, "group_threshold": 1.0, "judge": None,
                   "metrics": ["rouge", "meteor"], "qa": None, "token_groups": True},
    "generation": {"backend": "transformers", "batch_size": 8, "greedy": False, "limit": 100,
                   "max_new_tokens": 32, "temperature": 0.4},
    "grid": {"clips": [[0.8, 5.0]], "learning_rates": [3e-05, 0.0001, 0.0003],
             "learning_rates_by_loss": {"perce_frozen": [0.0001]}, "losses": ["ce", "perce", "perce_frozen"],
             "models": ["smollm2-135m-instruct"], "seeds": [0, 1, 2], "tasks": ["spc"]},
    "launch": {"config_file": None, "extra_args": [], "mode": "single", "nproc": 1},
    "name": "cpu-smollm2-spc-paper-size", "output_dir": "benchmarks/results/spc_paper_size", "save_steps": 8,
    "tasks": {"spc": {"data_seed": 0, "dense_model": None, "history": 4, "hub_config": None, "k": 4,
                      "label": "SPC", "learning_rates": None, "max_length": None, "retriever": "bm25",
                      "source": "persona_chat", "task": None,
                      "test_input": "src/percontrast/resources/spc/spc_test_conversations_sample100.jsonl",
                      "test_outputs": None, "test_sample": 500, "test_split": "test",
                      "train_input": "src/percontrast/resources/spc/spc_valid_conversations_sample250.jsonl",
                      "train_outputs": None, "train_sample": 2000, "train_split": "train"}},
    "training": {"adam_beta1": 0.9, "adam_beta2": 0.999, "logging_steps": 5, "max_steps": 16,
                 "per_device_train_batch_size": 8, "probe_steps": 0, "use_cpu": True, "warmup_steps": 0.04},
}  # fmt: skip


def test_a_results_file_of_the_base_commit_resumes_with_its_config():
    from percontrast.experiments.runner import check_finished_cells
    from percontrast.utils.errors import ConfigError

    config = load_experiment_config(
        ROOT / "configs/cpu/smollm2_spc_paper_size.yaml", {"output_dir": "elsewhere"}
    )
    cells = expand(config)
    records = [{"kind": "run", "run": "r1", "config": BASE_COMMIT_RUN_CONFIG}]
    records += [{"kind": "cell", "cell": cell.id, "status": "ok", "run": "r1"} for cell in cells[:5]]
    assert check_finished_cells(config, records, cells) == {cell.id for cell in cells[:5]}
    config.tasks["spc"].train_sample = 1000
    with pytest.raises(
        ConfigError, match=r"5 finished cells .* tasks.spc.train_sample: 2000 there, 1000 now"
    ):
        check_finished_cells(config, records, cells)


def test_a_new_label_or_learning_rate_list_reuses_the_task_data(tmp_path):
    """A task's label (a report column) or learning_rates (which cells exist) do not change its data."""
    from percontrast.experiments.runner import _Context

    config = load_experiment_config(tiny_config(tmp_path))
    directory = _Context(config, "run-1").data_dir("tiny", "spc")
    config.tasks["spc"].label, config.tasks["spc"].learning_rates = "Persona-Chat", [1e-3, 2e-3]
    assert _Context(config, "run-2").data_dir("tiny", "spc") == directory


def test_a_run_record_with_aloe_s_flat_keys_resumes():
    """Before issue 27 an ``aloe:`` section recorded the simulator's and judge's settings flat
    (``judge_max_new_tokens``); they are the nested roles' settings, so its finished cells are kept, and a
    changed one is named under its nested name."""
    from percontrast.experiments.runner import check_finished_cells
    from percontrast.utils.errors import ConfigError

    config = load_experiment_config(ROOT / "configs/cpu/tiny_all_tables.yaml", {"output_dir": "elsewhere"})
    cells = expand(config)
    recorded = json.loads(json.dumps(config.to_dict(), default=str))
    del recorded["generation"]["seed"]  # not recorded before either
    aloe = recorded["evaluation"]["aloe"]
    simulator, judge = aloe.pop("simulator"), aloe.pop("judge")
    aloe |= {"simulator_max_new_tokens": simulator["max_tokens"], "simulator_temperature": 1.0}
    aloe |= {"judge_max_new_tokens": judge["max_tokens"], "judge_temperature": 1.0, "judge_mode": None}
    aloe |= {"judge_samples": 1}
    records = [{"kind": "run", "run": "r1", "config": recorded}]
    records += [{"kind": "cell", "cell": cell.id, "status": "ok", "run": "r1"} for cell in cells[:2]]
    assert check_finished_cells(config, records, cells) == {cell.id for cell in cells[:2]}
    aloe["judge_max_new_tokens"] = 5
    with pytest.raises(ConfigError, match=r"evaluation.aloe.judge.max_tokens: 5 there, 300 now"):
        check_finished_cells(config, records, cells)
