"""`PerCEConfig`: validation and YAML loading."""

from __future__ import annotations

import pytest

from percontrast.errors import ConfigError
from percontrast.perce_config import PerCEConfig


def test_yaml_values_and_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(
        "loss: entce\nweight_mode: hard\nhard_fraction: 0.3\nlearning_rate: 0.0001\nlora_target_modules: [q_proj, v_proj]\n"
    )
    config = PerCEConfig.from_yaml(path, output_dir=str(tmp_path), hard_fraction=0.5)
    assert (config.loss, config.weight_mode, config.hard_fraction, config.learning_rate) == (
        "entce",
        "hard",
        0.5,
        1e-4,
    )
    assert config.lora_target_modules == ["q_proj", "v_proj"]
    assert config.remove_unused_columns is False  # the collator's columns must reach compute_loss


def test_unknown_yaml_key_is_an_error(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("loss: perce\nclip_mni: 0.5\n")
    with pytest.raises(ConfigError, match=r"unknown config keys \['clip_mni'\]"):
        PerCEConfig.from_yaml(path)


@pytest.mark.parametrize(
    "values, message",
    [
        ({"loss": "xent"}, "loss must be one of"),
        ({"pir_form": "diff"}, r"pir_form must be one of \('log', 'ratio'\)"),
        ({"normalization": "batch"}, r"normalization must be one of \('tokens', 'weights'\)"),
        ({"weight_mode": "medium"}, r"weight_mode must be one of \('soft', 'hard'\)"),
        ({"padding_side": "top"}, "padding_side must be one of"),
        ({"hard_fraction": 0.0}, r"hard_fraction must be in \(0, 1\]"),
        ({"clip_min": 5.0, "clip_max": 0.8}, "clip_min"),
        ({"lora_r": 0}, "lora_r must be a positive integer"),
        ({"probe_steps": -1}, "probe_steps must be >= 0"),
        ({"average_tokens_across_devices": False}, "average_tokens_across_devices must be True"),
    ],
)
def test_bad_values_are_errors_naming_the_field(tmp_path, values, message):
    with pytest.raises(ConfigError, match=message):
        PerCEConfig(output_dir=str(tmp_path), **values)
