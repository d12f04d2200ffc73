"""lm-eval's own task configs, pointed at local files (no model run: fast)."""

from __future__ import annotations

from pathlib import Path

import pytest

from percontrast.experiments.qa import task_config
from percontrast.utils.errors import ConfigError

ROOT = Path(__file__).parents[2]


def test_drop_keeps_lm_evals_scoring_and_reads_the_local_file():
    config = task_config("drop", str(ROOT / "tests/fixtures/qa/drop_validation.jsonl"), max_gen_toks=8)
    assert config["task"] == "drop_local" and config["dataset_path"] == "json"
    assert config["dataset_kwargs"]["data_files"]["validation"].endswith("drop_validation.jsonl")
    assert "training_split" not in config and config["validation_split"] == "validation"
    assert callable(config["process_results"]) and config["process_results"].__module__.endswith("utils")
    assert [m["metric"] for m in config["metric_list"]] == ["em", "f1"]
    assert config["generation_kwargs"]["max_gen_toks"] == 8


def test_hub_config_is_lm_evals_task_unchanged():
    config = task_config("drop")
    assert config["task"] == "drop" and config["dataset_path"] == "EleutherAI/drop"


def test_missing_local_file_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="qa.local_files.drop"):
        task_config("drop", str(tmp_path / "nope.jsonl"))


def test_hotpotqa_is_longbench_hotpotqa_over_the_local_file():
    config = task_config("hotpotqa", str(ROOT / "tests/fixtures/qa/hotpotqa_longbench_test.jsonl"))
    assert config["task"] == "longbench_hotpotqa_local" and config["test_split"] == "test"
    assert "{{context}}" in config["doc_to_text"] and "{{question}}" in config["doc_to_text"]
    assert config["process_results"].__name__ == "get_qa_f1_with_score"
