"""benchmarks/gpu_acceptance.py: the one-GPU acceptance script, run here on the CPU with --small so it
cannot rot between GPU visits (docs/gpu.md)."""

from __future__ import annotations

import importlib.util
import json
import math
import sys
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_acceptance.py"


@pytest.fixture(scope="module")
def acceptance():
    spec = importlib.util.spec_from_file_location("gpu_acceptance", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["gpu_acceptance"] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def speed(acceptance):
    return sys.modules["gpu_acceptance_speed"]  # imported by gpu_acceptance from benchmarks/


def read_report(folder: Path) -> dict:
    return json.loads((folder / "gpu_acceptance.json").read_text(encoding="utf-8"))


def test_small_cpu_run_passes_and_writes_json_and_markdown(acceptance, tmp_path):
    assert acceptance.main(["--device", "cpu", "--small", "--out", str(tmp_path)]) == 0
    report = read_report(tmp_path)
    assert report["passed"] and report["exit_status"] == 0
    assert {name: s["status"] for name, s in report["sections"].items()} == dict.fromkeys(
        ("correctness", "bf16", "model", "steps", "scoring", "generation", "max_response"), "done"
    )
    assert len(report["checks"]) == 12 and all(check["passed"] for check in report["checks"])
    assert [row["setting"] for row in report["steps"]] == ["PAG", "PRW", "PTW", "max 500"]
    assert all(row["time_ratio"] > 0 for row in report["steps"])
    assert report["scoring"]["bare_ratio"] > 0
    assert report["generation"]["tokens_per_s_ratio"] > 0
    assert report["max_response"]["largest_fit"] == report["max_response"]["limit"]
    markdown = (tmp_path / "gpu_acceptance.md").read_text(encoding="utf-8")
    assert markdown.startswith("# GPU acceptance: PASSED") and "| PRW | 206 / 16 / 30 |" in markdown


def test_failed_correctness_check_exits_1(acceptance, tmp_path, monkeypatch):
    monkeypatch.setattr(acceptance, "FLOAT32_TOLERANCE", -1.0)  # no difference can be below it
    assert (
        acceptance.main(["--device", "cpu", "--small", "--out", str(tmp_path), "--sections", "correctness"])
        == 1
    )
    report = read_report(tmp_path)
    assert not report["passed"] and not any(check["passed"] for check in report["checks"])
    assert (tmp_path / "gpu_acceptance.md").read_text(encoding="utf-8").startswith("# GPU acceptance: FAILED")


def test_a_device_that_computes_something_else_fails_the_checks(acceptance, tmp_path, monkeypatch):
    real_copy = acceptance.device_copy

    def drifting_copy(model, device):  # a "device" whose output layer is off by one part in a thousand
        copy = real_copy(model, device)
        with torch.no_grad():
            copy.get_output_embeddings().weight.mul_(1.001)
        return copy

    monkeypatch.setattr(acceptance, "device_copy", drifting_copy)
    assert (
        acceptance.main(["--device", "cpu", "--small", "--out", str(tmp_path), "--sections", "correctness"])
        == 1
    )
    failed = {check["check"] for check in read_report(tmp_path)["checks"] if not check["passed"]}
    assert "tiny: PIR, cpu vs cpu" in failed and "qwen3-random: PerCE loss, cpu vs cpu" in failed


def test_section_that_raises_is_recorded_and_exits_2(acceptance, tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("planted")

    monkeypatch.setattr(acceptance, "scoring_section", broken)
    out = tmp_path / "out"
    assert acceptance.main(["--device", "cpu", "--small", "--out", str(out), "--sections", "scoring"]) == 2
    assert read_report(out)["sections"]["scoring"] == {
        "status": "error",
        "seconds": pytest.approx(0, abs=5),
        "note": "RuntimeError: planted",
    }


def test_a_model_that_cannot_be_built_skips_the_speed_sections(acceptance, tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise torch.OutOfMemoryError("planted")

    monkeypatch.setattr(acceptance, "build_model", broken)
    out = tmp_path / "out"
    assert (
        acceptance.main(
            ["--device", "cpu", "--small", "--out", str(out), "--sections", "steps", "generation"]
        )
        == 2
    )
    sections = read_report(out)["sections"]
    assert sections["model"]["status"] == "error" and "planted" in sections["model"]["note"]
    assert sections["steps"]["status"] == sections["generation"]["status"] == "skipped"


def test_out_of_budget_is_recorded_not_raised(acceptance, tmp_path):
    out = tmp_path / "out"
    assert (
        acceptance.main(
            [
                "--device",
                "cpu",
                "--small",
                "--out",
                str(out),
                "--sections",
                "steps",
                "generation",
                "--budget-s",
                "0",
            ]
        )
        == 0
    )
    report = read_report(out)
    assert report["sections"]["steps"]["status"] == "partial"
    assert report["steps"][0]["ce"] == {"skipped": "out of budget"}
    assert report["sections"]["generation"]["status"] == "skipped"


@pytest.mark.parametrize("threshold", [1, 17, 1234, 4999, 5000])
def test_largest_fitting_finds_the_limit_to_the_resolution(speed, threshold):
    tried = []

    def fits(n):
        tried.append(n)
        return n <= threshold

    result = speed.largest_fitting(fits, 5000, 16, speed.Clock(60))
    assert result["complete"] and len(tried) <= 2 + math.ceil(math.log2(5000 / 16))  # the limit, then halving
    if threshold == 5000:
        assert result["largest_fit"] == 5000 and result["smallest_failure"] is None and tried == [5000]
    else:
        assert result["smallest_failure"] - (result["largest_fit"] or 0) <= 16
        assert (result["largest_fit"] or 0) <= threshold < result["smallest_failure"]


def test_largest_fitting_stops_when_out_of_budget(speed):
    result = speed.largest_fitting(lambda n: True, 5000, 16, speed.Clock(0))
    assert result == {
        "largest_fit": None,
        "smallest_failure": None,
        "limit": 5000,
        "complete": False,
        "tries": [],
    }


def test_out_of_memory_in_a_step_is_caught(speed):
    class OutOfMemoryTrainer:
        def training_step(self, *args, **kwargs):
            raise torch.OutOfMemoryError("planted")

    model = speed.qwen3_model(speed.SMALL_QWEN3, torch.device("cpu"), torch.float32)
    result = speed.measure_step(OutOfMemoryTrainer(), model, (20, 5, 10), torch.device("cpu"), 0, 1)
    assert result == {"out_of_memory": True}
