"""What every run records beside its results: the package versions and the git commit.

Training writes them into ``run_config.json`` (`training.checkpoints.write_run_info`), the experiment
runner into each ``run`` record of ``results.jsonl``.
"""

from __future__ import annotations

import subprocess
from importlib import metadata
from pathlib import Path


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
