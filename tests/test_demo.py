"""The demo end to end on `tiny` with tiny sizes, its intervals, and its report in a real browser.

The browser test opens ``report.html`` in headless Chromium (Debian's ``chromium``, installed by
``make chromium``), takes a screenshot and checks that the heatmap, the tables and the plots rendered:
the DOM after loading holds every section, the tables' rows and decoded images, and the screenshot's
pixels hold the heatmap's token colours and the plots' line and bar colours (which only the inlined
PNGs contain). It is skipped only when Chromium is missing outside CI; with ``CI=true`` a missing
browser fails it (``needs("chromium")``, tests/conftest.py).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from percontrast.analysis.bootstrap import Evaluation, summarize
from percontrast.demo import DemoConfig, run_demo
from percontrast.demo.comparison import VARIANTS
from percontrast.utils.errors import ConfigError


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    config = DemoConfig.preset_config("quick", out_dir=str(out), n_eval=5, n_generate=2, identify_limit=4)
    lines: list[str] = []
    result = run_demo(config, say=lines.append)
    return result, lines


def test_demo_writes_everything(demo_run):
    result, lines = demo_run
    out = result.out_dir
    for name in ("scores.jsonl", "heatmap.html", "comparison.json", "report.html"):
        assert (out / name).stat().st_size > 0, name
    saved = json.loads((out / "comparison.json").read_text())
    models = saved["comparison"]["models"]
    assert list(models) == ["untrained", *VARIANTS]
    for cells in models.values():
        assert cells["nll"]["mean"] > 0
        assert cells["nll"]["ci"][0] <= cells["nll"]["mean"] <= cells["nll"]["ci"][1]
    # Identical budget: every run took the same number of optimizer steps on the same data.
    runs = saved["training"]
    assert {run["variant"] for run in runs} == set(VARIANTS)
    steps = {max(e["step"] for e in run["log_history"]) for run in runs}
    assert steps == {2}
    # The printed comparison names every model, and the report's path is announced.
    text = "\n".join(lines)
    assert "PerCE (÷ sum of weights)" in text and "untrained" in text
    assert str(result.report.resolve()) in text
    # Fine-tuning moved the model: the trained models' NLL differs from the untrained one.
    assert models["ce"]["nll"]["mean"] != models["untrained"]["nll"]["mean"]


def test_demo_training_really_differs_between_losses(demo_run):
    """PerCE with m = 0.8 weights tokens differently from CE: their optimised losses differ.

    On `tiny` PIR is about 0, so this checks the demo's plumbing, not PIR's direction (a flipped sign
    passes it): test_training's `test_perce_weights_are_clipped_pir_...` checks that on `sharpened_tiny`.
    """
    result, _ = demo_run
    runs = {run["variant"]: run for run in result.results["training"]}
    first = {name: next(e for e in run["log_history"] if "loss" in e)["loss"] for name, run in runs.items()}
    nll = {
        name: next(e for e in run["log_history"] if "nll_mean" in e)["nll_mean"] for name, run in runs.items()
    }
    # Same data and seed: the first step's unweighted NLL is identical across losses...
    assert nll["ce"] == pytest.approx(nll["perce_tokens"], abs=1e-5)
    # ... while the loss is the weighted one (tiny's PIR is near 0, so weights sit at the clip m = 0.8).
    assert first["perce_tokens"] == pytest.approx(0.8 * first["ce"], rel=0.05)
    assert first["perce_weights"] == pytest.approx(first["ce"], rel=0.05)


def _evaluation(nll: list[float], tokens: list[float], rouge: list[float]) -> Evaluation:
    return Evaluation(
        nll_sum=np.array(nll),
        pir_sum=np.zeros(len(nll)),
        n_tokens=np.array(tokens),
        rougeL=np.array(rouge),
        meteor=np.array(rouge),
        predictions=["x"] * len(rouge),
    )


def test_summarize_point_estimates_and_intervals():
    ce = [
        _evaluation([10.0, 4.0, 6.0], [5, 2, 3], [0.2, 0.4]),
        _evaluation([8.0, 4.0, 6.0], [5, 2, 3], [0.3, 0.5]),
    ]
    perce = [
        _evaluation([9.0, 4.0, 6.0], [5, 2, 3], [0.2, 0.4]),
        _evaluation([8.0, 4.0, 6.0], [5, 2, 3], [0.3, 0.5]),
    ]
    summary = summarize({"untrained": [ce[0]], "ce": ce, "perce_tokens": perce}, n_bootstrap=300)
    # Pooled over tokens per seed, then averaged over seeds: ((20/10) + (18/10)) / 2.
    assert summary["models"]["ce"]["nll"]["mean"] == pytest.approx(1.9)
    assert summary["models"]["ce"]["nll"]["per_seed"] == pytest.approx([2.0, 1.8])
    assert summary["models"]["perce_tokens"]["nll"]["mean"] == pytest.approx((1.9 + 1.8) / 2)
    assert summary["models"]["ce"]["rougeL"]["mean"] == pytest.approx(0.35)
    assert summary["differences"]["perce_tokens"]["nll"]["mean"] == pytest.approx(-0.05)
    low, high = summary["models"]["ce"]["nll"]["ci"]
    assert low <= 1.9 <= high and low < high
    # Equal models have a zero difference in every resample (the bootstrap is paired).
    same = summarize({"ce": ce, "perce_tokens": ce}, n_bootstrap=100)
    assert same["differences"]["perce_tokens"]["nll"]["ci"] == [0.0, 0.0]
    assert "two-level" in summary["method"]


def test_summarize_model_with_fewer_seeds_resamples_its_own():
    """A grid read before its last cells finished: 3 CE seeds beside 2 of another loss.

    Its point estimate averages both seeds (1.0 and 3.0 nats per token: 2.0), so its interval must span
    the resamples of both; resampling only its first seed (the old behaviour) gave [1.0, 1.0], which
    excludes the estimate. Reference: with two seeds drawn with replacement, the seed means are 1, 2 or 3.
    """
    ce = [_evaluation([2.0, 2.0, 2.0], [2, 2, 2], [0.3, 0.3]) for _ in range(3)]
    partial = [
        _evaluation([2.0, 2.0, 2.0], [2, 2, 2], [0.3, 0.3]),  # 1.0 per token
        _evaluation([6.0, 6.0, 6.0], [2, 2, 2], [0.3, 0.3]),  # 3.0 per token
    ]
    summary = summarize({"ce": ce, "frozen": partial}, n_bootstrap=400)
    figure = summary["models"]["frozen"]["nll"]
    assert figure["mean"] == pytest.approx(2.0)
    assert figure["ci"] == pytest.approx([1.0, 3.0])
    difference = summary["differences"]["frozen"]["nll"]
    assert difference["mean"] == pytest.approx(1.0)
    assert difference["ci"] == pytest.approx([0.0, 2.0])
    assert "2 seed(s) have theirs resampled on their own" in summary["method"]
    # The main draws do not depend on whether another count is present: CE's interval is unchanged.
    alone = summarize({"ce": ce}, n_bootstrap=400)
    assert alone["models"]["ce"]["nll"]["ci"] == summary["models"]["ce"]["nll"]["ci"]


def test_demo_config_errors():
    with pytest.raises(ConfigError, match="n_generate"):
        DemoConfig(n_eval=3, n_generate=5)
    with pytest.raises(ConfigError, match="preset"):
        DemoConfig.preset_config("huge")
    assert DemoConfig.preset_config("full").seeds == (0, 1, 2)
    assert DemoConfig.preset_config("default", train_steps=7, seeds=None).train_steps == 7


def test_demo_flags(tmp_path):
    import argparse

    from percontrast.commands import demo as command

    parser = argparse.ArgumentParser()
    command.add_parser(parser.add_subparsers())
    config = command.config_from_args(
        parser.parse_args(
            ["demo", "--full", "--train-steps", "5", "--no-identify", "--out-dir", str(tmp_path)]
        )
    )
    assert (config.preset, config.seeds, config.train_steps, config.identify) == ("full", (0, 1, 2), 5, False)
    assert command.config_from_args(parser.parse_args(["demo", "--quick"])).model == "tiny"
    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(ConfigError, match="not a directory"):
        command.config_from_args(parser.parse_args(["demo", "--out-dir", str(a_file)]))


# ------------------------------------------------------------------------------ the report in Chromium


def _chromium() -> str:
    return next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))))


def _near(pixels: np.ndarray, rgb: tuple[int, int, int], tolerance: int = 12) -> int:
    return int((np.abs(pixels[..., :3].astype(int) - np.array(rgb)).max(axis=-1) <= tolerance).sum())


@pytest.mark.needs("chromium")
def test_report_renders_in_chromium(demo_run, tmp_path):
    from PIL import Image

    browser = _chromium()
    report = demo_run[0].report.resolve()
    flags = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"]
    dom = subprocess.run(
        [*flags, "--dump-dom", report.as_uri()], capture_output=True, text=True, timeout=120, check=True
    ).stdout
    for section in ("heatmap", "identification", "training", "comparison", "samples"):
        assert f'id="{section}"' in dom, section
    assert dom.count('class="tok') > 50  # heatmap tokens
    assert dom.count("<tr>") >= 4 + 3 + 4  # comparison, training and samples rows
    assert dom.count('src="data:image/png;base64,') >= 2  # training curves and comparison plot

    shot = tmp_path / "report.png"
    subprocess.run(
        [*flags, f"--screenshot={shot}", "--window-size=1280,5000", report.as_uri()],
        capture_output=True,
        timeout=120,
        check=True,
    )
    pixels = np.asarray(Image.open(shot).convert("RGB"))
    assert pixels.shape[:2] == (5000, 1280)
    # Not a blank page: a good share of the pixels are not white.
    assert (pixels.min(axis=-1) < 240).mean() > 0.02
    # The heatmap's token backgrounds: pale red (255, g, g) or pale blue (b, b, 255) tints.
    r, g, b = (pixels[..., i].astype(int) for i in range(3))
    tinted = ((r == 255) & (g == b) & (g < 250) & (g > 100)) | ((b == 255) & (r == g) & (r < 250) & (r > 100))
    assert tinted.sum() > 200
    # The plots: matplotlib's colours of CE (blue), PerCE tokens (red) and PerCE weights (orange) lines
    # and bars exist only inside the inlined PNGs, so they show that the images decoded and drew.
    for colour in ((31, 119, 180), (214, 39, 40), (255, 127, 14)):
        assert _near(pixels, colour) > 200, colour
    # For a human to look at: PERCONTRAST_SCREENSHOT=/some/path.png keeps a copy.
    if os.environ.get("PERCONTRAST_SCREENSHOT"):
        shutil.copy(shot, Path(os.environ["PERCONTRAST_SCREENSHOT"]))


def test_demo_reports_token_groups(demo_run):
    """The comparison by token group: ``all`` is the whole-response NLL of every model, the two reference
    groups split the same tokens for every model, and the report shows the table."""
    result, lines = demo_run
    saved = json.loads((result.out_dir / "comparison.json").read_text())
    groups = saved["token_groups"]
    assert groups["reference"] == "untrained" and groups["threshold"] == 1.0 and groups["baseline"] == "ce"
    for name, cells in saved["comparison"]["models"].items():
        assert groups["groups"]["all"]["models"][name]["nll"]["mean"] == pytest.approx(cells["nll"]["mean"])
        assert groups["groups"]["all"]["models"][name]["pir"]["mean"] == pytest.approx(cells["pir"]["mean"])
    split = (
        groups["groups"]["reference_personal"]["n_tokens"] + groups["groups"]["reference_rest"]["n_tokens"]
    )
    assert split == groups["groups"]["all"]["n_tokens"]
    assert "By token group" in (result.out_dir / "report.html").read_text(encoding="utf-8")
    assert any("reference_personal" in line for line in lines)
