"""`PerCEConfig`: validation and YAML loading."""

from __future__ import annotations

import pytest

from percontrast.training.config import PerCEConfig
from percontrast.utils.errors import ConfigError


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
        ({"normalization": "batch"}, r"normalization must be one of \('tokens', 'weights', 'responses'\)"),
        ({"weight_mode": "medium"}, r"weight_mode must be one of \('soft', 'hard'\)"),
        ({"padding_side": "top"}, "padding_side must be one of"),
        ({"hard_fraction": 0.0}, r"hard_fraction must be in \(0, 1\]"),
        ({"clip_min": 5.0, "clip_max": 0.8}, r"clip_min \(m\) must be <= clip_max \(M\)"),
        ({"clip_min": 0.0}, r"clip_min \(m\) must be > 0 so every response token keeps a positive weight"),
        ({"clip_max": float("inf")}, "clip_max must be a finite number"),
        ({"clip_min": float("nan")}, "clip_min must be a finite number"),
        ({"pir_pass_mode": "test"}, r"pir_pass_mode must be one of \('train', 'eval'\)"),
        ({"lora_r": 0}, "lora_r must be a positive integer"),
        ({"probe_steps": -1}, "probe_steps must be >= 0"),
        ({"average_tokens_across_devices": False}, "average_tokens_across_devices must be True"),
    ],
)
def test_bad_values_are_errors_naming_the_field(tmp_path, values, message):
    with pytest.raises(ConfigError, match=message):
        PerCEConfig(output_dir=str(tmp_path), **values)


def test_defaults_follow_the_paper_appendix_b(tmp_path):
    """Table 7: warmup ratio 0.04, max length 5000, clip [0.8, 5], 3 epochs, AdamW betas (0.9, 0.999)."""
    config = PerCEConfig(output_dir=str(tmp_path))
    assert config.warmup_steps == 0.04 and config.get_warmup_steps(100) == 4  # a ratio of the steps
    assert config.max_length == 5000
    assert (config.clip_min, config.clip_max) == (0.8, 5.0)
    assert config.num_train_epochs == 3
    assert (config.adam_beta1, config.adam_beta2) == (0.9, 0.999)
    assert str(getattr(config.optim, "value", config.optim)).startswith("adamw")
    assert config.learning_rate in (2e-6, 5e-6, 8e-6, 2e-5, 5e-5)  # inside the paper's grid
    assert config.normalization == "tokens" and config.loss == "perce"


def test_docstrings_cite_the_weighted_loss_as_eq5_with_eq6() -> None:
    """The paper's Eq. 4 is plain CE; the weighted loss is Eq. 5 with the clipped weight of Eq. 6."""
    import percontrast.demo.comparison
    import percontrast.training.config
    import percontrast.training.trainer

    for module in (percontrast.training.trainer, percontrast.training.config, percontrast.demo.comparison):
        assert "Eq. 4" not in module.__doc__ and "Eq. 5 with the weight of Eq. 6" in module.__doc__
