"""Lazy package exports: ``from percontrast.identification import run_identification`` without importing
torch (or numpy) when only a light submodule such as ``percontrast.identification.config`` is needed.

A package ``__init__`` maps each public name to the module that defines it and hands the two functions
`lazy_exports` returns to Python as its module ``__getattr__`` and ``__dir__`` (PEP 562), so a name's
module is imported the first time the name is read.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(package: str, exports: Mapping[str, str]) -> tuple[Callable[[str], Any], Callable[[], list]]:
    """``(__getattr__, __dir__)`` for ``package`` whose public names live in the modules of ``exports``
    (name -> module path)."""

    def __getattr__(name: str) -> Any:
        if name in exports:
            return getattr(importlib.import_module(exports[name]), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list:
        return sorted(exports)

    return __getattr__, __dir__
