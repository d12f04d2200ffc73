"""PerCE's statistics reach TensorBoard: written by the Trainer's own callback, read back from the event files."""

from __future__ import annotations

import pytest
from training_helpers import make_config, make_examples

STATS = (
    "weight_mean",
    "weight_std",
    "weight_min",
    "weight_max",
    "clipped_low",
    "clipped_high",
    "pir_mean",
    "nll_mean",
)


@pytest.mark.needs("tensorboard")
def test_perce_statistics_are_in_the_tensorboard_event_files(tmp_path, tiny, monkeypatch):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from percontrast.training.trainer import train

    model, tokenizer = tiny
    logging_dir = tmp_path / "tb"  # transformers 5 takes the directory from the environment
    monkeypatch.setenv("TENSORBOARD_LOGGING_DIR", str(logging_dir))
    config = make_config(tmp_path / "run", loss="perce", max_steps=3, report_to=["tensorboard"])
    run = train(config, model=model, tokenizer=tokenizer, examples=make_examples(6))
    logged = [entry for entry in run.trainer.state.log_history if "loss" in entry]
    assert len(logged) == 3

    events = EventAccumulator(str(logging_dir))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    for name in ("loss", *STATS):
        assert f"train/{name}" in tags, f"train/{name} missing from {sorted(tags)}"
        values = [event.value for event in events.Scalars(f"train/{name}")]
        assert values == pytest.approx([entry[name] for entry in logged], rel=1e-6, abs=1e-7)
    # The weights are clip(PIR, 0.8, 5): their logged range must lie inside it.
    assert all(0.8 - 1e-6 <= event.value <= 5 + 1e-6 for event in events.Scalars("train/weight_min"))
