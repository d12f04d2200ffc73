"""Every name of the public API resolves, the README lists exactly those names, and `import percontrast`
does not import torch."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import percontrast


def test_every_public_name_resolves():
    for name in percontrast.__all__:
        assert getattr(percontrast, name) is not None, name


def test_import_is_lazy():
    code = "import sys, percontrast; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_the_readme_lists_the_public_api():
    text = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    block = text.split("### Python API", 1)[1].split("\n\n", 2)[1]
    listed = set(re.findall(r"`(\w+)`", "\n".join(line.split("|")[1] for line in block.splitlines()[2:])))
    assert listed == set(percontrast.__all__) - {"__version__"}
