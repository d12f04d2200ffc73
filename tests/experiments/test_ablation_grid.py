"""The frozen-PIR ablation in the experiment grid: ``perce_frozen`` cells and per-loss learning rates."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from percontrast.experiments.config import load_experiment_config
from percontrast.experiments.grid import expand
from percontrast.experiments.steps import training_values
from percontrast.utils.errors import ConfigError

BASE = {
    "name": "x",
    "output_dir": "out",
    "grid": {
        "models": ["tiny"],
        "losses": ["ce", "perce", "perce_frozen"],
        "tasks": ["spc"],
        "learning_rates": [1e-5, 1e-4, 1e-3],
        "seeds": [0, 1],
        "learning_rates_by_loss": {"perce_frozen": [1e-4]},
    },
    "tasks": {"spc": {"source": "persona_chat"}},
}


def _load(tmp_path, values):
    path = tmp_path / "x.yaml"
    path.write_text(yaml.safe_dump(values), encoding="utf-8")
    return load_experiment_config(path)


def test_ablation_runs_at_its_own_learning_rate(tmp_path):
    config = _load(tmp_path, BASE)
    cells = expand(config)
    assert sum(c.loss == "ce" for c in cells) == 6 and sum(c.loss == "perce" for c in cells) == 6
    frozen = [c for c in cells if c.loss == "perce_frozen"]
    assert [(c.learning_rate, c.seed) for c in frozen] == [(1e-4, 0), (1e-4, 1)]
    values = training_values(config, frozen[0], Path("d.jsonl"), Path("o"))
    assert values["loss"] == "perce" and values["pir_source"] == "frozen"
    online = next(c for c in cells if c.loss == "perce")
    assert "pir_source" not in training_values(config, online, Path("d.jsonl"), Path("o"))


def test_frozen_cells_train_with_the_grids_clips(tmp_path):
    """Issue 25.7: with clips [[1, 3]] the perce_frozen cells trained with the defaults (0.8, 5) and their
    result rows recorded the clip as null."""
    config = _load(tmp_path, BASE | {"grid": BASE["grid"] | {"clips": [[1.0, 3.0]]}})
    for cell in expand(config):
        if cell.loss in ("perce", "perce_frozen"):
            assert (cell.clip_min, cell.clip_max) == (1.0, 3.0), cell.id
            values = training_values(config, cell, Path("d.jsonl"), Path("o"))
            assert (values["clip_min"], values["clip_max"]) == (1.0, 3.0)
            assert cell.to_dict()["clip_min"] == 1.0 and "__m1_M3__" in cell.id
        else:
            assert cell.clip_min is None


@pytest.mark.parametrize(
    ("by_loss", "message"),
    [({"lossce": [1e-4]}, "is not one of grid.losses"), ({"perce_frozen": []}, "non-empty list")],
)
def test_bad_learning_rates_by_loss(tmp_path, by_loss, message):
    with pytest.raises(ConfigError, match=message):
        _load(tmp_path, BASE | {"grid": BASE["grid"] | {"learning_rates_by_loss": by_loss}})
