"""Every name of the public API resolves, and `import percontrast` does not import torch."""

from __future__ import annotations

import subprocess
import sys

import percontrast


def test_every_public_name_resolves():
    for name in percontrast.__all__:
        assert getattr(percontrast, name) is not None, name


def test_import_is_lazy():
    code = "import sys, percontrast; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
