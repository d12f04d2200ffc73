"""A training run's directory: its checkpoints, the checks before a resume, and ``run_config.json``.

- `prepare_run_dir` refuses a training directory that holds an earlier run unless the user resumes or asks
  to overwrite, resolves ``--resume_from_checkpoint latest`` (`last_checkpoint`: the newest *complete*
  checkpoint) and refuses a resume under other settings (`PerCEConfig.resume_settings`, recorded in
  ``run_config.json``).
- `write_run_info` writes ``run_config.json`` (the resolved config, what a resume must keep, versions,
  commit, data counts) and ``skipped.jsonl`` on the main process before training.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from percontrast.training.collator import EncodedDataset
from percontrast.training.config import PerCEConfig
from percontrast.utils.errors import ConfigError
from percontrast.utils.files import PathLike, atomic_write_json, settings_differences
from percontrast.utils.run_info import git_commit, package_versions

logger = logging.getLogger(__name__)


def last_checkpoint(output_dir: PathLike) -> Path | None:
    """The newest complete ``checkpoint-N`` folder in ``output_dir`` (a resume point), if any.

    The Trainer writes ``trainer_state.json`` last; a checkpoint without it (or with it torn) was cut
    off by a kill while saving and is skipped with a warning, never resumed from.
    """
    output_dir = Path(output_dir)
    if not output_dir.is_dir():
        return None
    numbered = [p for p in output_dir.glob("checkpoint-*") if p.is_dir() and p.name.split("-")[-1].isdigit()]
    for checkpoint in sorted(numbered, key=lambda p: int(p.name.split("-")[-1]), reverse=True):
        if checkpoint_state(checkpoint) is not None:
            return checkpoint
        logger.warning("%s is incomplete (a run killed while saving it): skipped", checkpoint)
    return None


def checkpoint_state(checkpoint: PathLike) -> dict | None:
    """The ``trainer_state.json`` of a checkpoint, or None when it is missing or torn."""
    try:
        state = json.loads((Path(checkpoint) / "trainer_state.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return None
    return state if isinstance(state, dict) else None


def prepare_run_dir(
    output_dir: PathLike,
    *,
    resume_from_checkpoint: str | None,
    overwrite: bool,
    settings: Mapping[str, Any] | None = None,
    schedule_settings: Iterable[str] = (),
    clear_checkpoints: bool = False,
) -> str | None:
    """Check a training output directory before anything is written to it; resolve the checkpoint.

    A directory that holds files is refused unless the user resumes (its run continues) or asks to
    overwrite: otherwise the new run's ``run_config.json`` would describe weights it does not hold.
    A resume must keep the recorded ``resume_settings`` of ``run_config.json``.

    Args:
        output_dir: the run directory.
        resume_from_checkpoint: a checkpoint directory, ``"latest"`` (the newest complete
            ``checkpoint-N`` in ``output_dir``), or None.
        overwrite: the user asked to write over a finished run (or the caller is not the process
            that writes the run's files).
        settings: what decides the training (`PerCEConfig.resume_settings`); compared on resume.
        schedule_settings: the keys of ``settings`` that set the learning-rate schedule's length; a
            refusal that names one says why it matters.
        clear_checkpoints: on a fresh start, delete the earlier run's ``checkpoint-N`` folders (the
            process that writes the run's files, when overwriting): a later ``latest`` must not
            resume the old run.

    Returns:
        The checkpoint path to resume from (None: start fresh).
    """

    output_dir = Path(output_dir)
    if output_dir.exists() and not output_dir.is_dir():
        raise ConfigError(f"--output_dir {output_dir} is a file; give a directory")
    checkpoint = resume_from_checkpoint
    if checkpoint in ("latest", "last"):
        found = last_checkpoint(output_dir)
        if found is None:
            raise ConfigError(
                f"--resume_from_checkpoint {checkpoint}: no complete checkpoint-N directory in {output_dir} "
                "to resume from"
            )
        checkpoint = str(found)
    elif checkpoint is not None and not Path(checkpoint).is_dir():
        raise ConfigError(
            f"--resume_from_checkpoint {checkpoint}: no such checkpoint directory "
            f"(give a checkpoint-N directory, or 'latest' for the newest one in --output_dir)"
        )
    elif checkpoint is not None and checkpoint_state(checkpoint) is None:
        raise ConfigError(
            f"--resume_from_checkpoint {checkpoint}: not a complete checkpoint (no readable trainer_state.json; "
            "a run killed while saving it?); give an earlier checkpoint-N, or 'latest'"
        )
    if checkpoint is None and not overwrite and output_dir.is_dir() and any(output_dir.iterdir()):
        raise ConfigError(
            f"--output_dir {output_dir} is not empty (it holds an earlier run). Pass --overwrite_output_dir to "
            "write over it, --resume_from_checkpoint latest to continue it, or choose another directory"
        )
    if checkpoint is None and clear_checkpoints and output_dir.is_dir():
        for old in output_dir.glob("checkpoint-*"):
            if old.is_dir():
                logger.info("--overwrite_output_dir: removing the earlier run's %s", old)
                shutil.rmtree(old)
    if checkpoint is not None:
        _check_resume(output_dir, checkpoint, settings, schedule_settings)
    return checkpoint


def _check_resume(
    output_dir: Path, checkpoint: str, settings: Mapping[str, Any] | None, schedule_settings: Iterable[str]
) -> None:
    """Refuse a resume that would go on training another run's weights with other settings (settings a
    ``run_config.json`` of an older version does not record are not compared, with a warning)."""
    recorded_path = output_dir / "run_config.json"
    if settings is None or not recorded_path.is_file():
        return
    try:
        recorded = json.loads(recorded_path.read_text(encoding="utf-8")).get("resume_settings")
    except (json.JSONDecodeError, UnicodeDecodeError, AttributeError):
        raise ConfigError(
            f"{recorded_path}: not a run_config.json (not a JSON object); cannot check the resume"
        ) from None
    if not isinstance(recorded, dict):
        return  # written by an older version: nothing to compare with
    settings = json.loads(json.dumps(dict(settings), default=str))
    unrecorded = sorted(set(settings) - set(recorded))
    if unrecorded:
        logger.warning(
            "%s was written by an older version that did not record %s: not checked on this resume",
            recorded_path,
            ", ".join(unrecorded),
        )
    settings = {key: value for key, value in settings.items() if key in recorded}
    detail = settings_differences(recorded, settings)
    if detail:
        schedule = [key for key in schedule_settings if recorded.get(key) != settings.get(key)]
        why = (
            f" (the learning-rate schedule depends on {', '.join(schedule)}: it would restart on the trained "
            "weights; to train longer, start a new --output_dir)"
            if schedule
            else ""
        )
        raise ConfigError(
            f"--resume_from_checkpoint {checkpoint}: {output_dir} was trained with other settings ({detail}); "
            f"resuming would mix two runs{why}. Resume with the recorded settings, or start a new --output_dir"
        )


def write_run_info(
    config: PerCEConfig, dataset: EncodedDataset, max_length: int, distributed: dict | None = None
) -> Path:
    """Write ``run_config.json`` (resolved config, versions, commit, data counts, the distributed set-up)
    and ``skipped.jsonl``."""
    output_dir = Path(config.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    info = {
        "config": json.loads(config.to_json_string()),
        "resume_settings": config.resume_settings(),  # what a resume of this run must keep
        "resolved_max_length": max_length,
        "versions": package_versions(),
        "git_commit": git_commit(),
        "data": {
            "used": len(dataset.examples),
            "skipped": len(dataset.skipped),
            "persona_truncated": len(dataset.truncated_ids),
        },
        "distributed": distributed,
    }
    path = output_dir / "run_config.json"
    atomic_write_json(path, info)
    with open(output_dir / "skipped.jsonl", "w", encoding="utf-8") as handle:
        for item in dataset.skipped:
            handle.write(json.dumps({"id": item.id, "reason": item.reason}) + "\n")
    return path
