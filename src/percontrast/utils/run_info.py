"""What a training run writes next to its results: resolved config, versions, commit, data counts.

`write_run_info` is called by `percontrast.training.trainer.train` on the main process before training;
it writes ``OUTPUT_DIR/run_config.json`` and ``OUTPUT_DIR/skipped.jsonl``, so that every run records its
resolved config, versions and commit.
"""

from __future__ import annotations

import json
import subprocess
from importlib import metadata
from pathlib import Path

from percontrast.training.collator import EncodedDataset
from percontrast.training.config import PerCEConfig


def package_versions(extra: tuple[str, ...] = ()) -> dict[str, str]:
    """Versions of the packages a run depends on, and of ``extra`` ones ("not installed" if absent)."""
    versions = {}
    for name in ("percontrast", "torch", "transformers", "accelerate", "peft", "tokenizers", *extra):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def git_commit() -> str | None:
    """The git commit of the percontrast source tree, if it is a checkout."""
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() or None if result.returncode == 0 else None


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
    from percontrast.utils.files import atomic_write_json

    atomic_write_json(path, info)
    with open(output_dir / "skipped.jsonl", "w", encoding="utf-8") as handle:
        for item in dataset.skipped:
            handle.write(json.dumps({"id": item.id, "reason": item.reason}) + "\n")
    return path
