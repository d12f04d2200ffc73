"""The parser and the config modules import neither torch nor transformers (issue 27), so ``percontrast
--help`` and ``percontrast COMMAND --help`` answer at once (benchmarks/cli_startup.py measures it).

``training/config.py`` is the one exception: `PerCEConfig` subclasses transformers' `TrainingArguments`,
whose flags ``percontrast train`` takes. Each check runs in a fresh interpreter, so modules that other
tests imported do not hide an import.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "percontrast"
HEAVY = ("torch", "transformers", "numpy")
CONFIG_MODULES = sorted(
    ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    for path in [*PACKAGE.rglob("config.py"), *PACKAGE.rglob("*_config.py")]
    if path.relative_to(PACKAGE).as_posix() != "training/config.py"
)


def heavy_imports(code: str) -> list[str]:
    """The heavy packages a fresh interpreter holds after running ``code``."""
    probe = f"import sys\n{code}\nprint(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return [name for name in result.stdout.strip().split(",") if name]


def test_the_config_modules_are_found():
    assert len(CONFIG_MODULES) >= 10 and "percontrast.experiments.config" in CONFIG_MODULES


@pytest.mark.parametrize("module", CONFIG_MODULES)
def test_a_config_module_imports_no_heavy_package(module):
    assert heavy_imports(f"import {module}") == []


def test_building_every_parser_imports_no_heavy_package():
    """``percontrast --help`` builds every subcommand's parser (train's HfArgumentParser is built only
    when ``train`` itself runs)."""
    assert heavy_imports("from percontrast.cli import build_parser\nbuild_parser()") == []


def test_the_package_api_is_lazy():
    code = "import percontrast, percontrast.data, percontrast.demo, percontrast.identification"
    assert heavy_imports(code) == []
