"""Retrievers: BM25 against a hand computation and rank_bm25; Contriever against the official scoring
code (on a local copy) and its offline error; MiniLM; recency; random (permutation, with replacement); none."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from percontrast.data.retrieval import (
    CONTRIEVER,
    DEFAULT_RETRIEVER,
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
from percontrast.utils.errors import ConfigError, DataError


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


@pytest.mark.needs("rank_bm25")
def test_bm25_is_bit_equal_to_rank_bm25_and_ranks_identically() -> None:
    import rank_bm25

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


@pytest.mark.needs("minilm")
def test_dense_minilm_ranks_related_items_first_and_caches_embeddings() -> None:
    retriever = make_retriever("minilm", batch_size=2)
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


# ------------------------------------------------------------------ the paper's default: Contriever


def _contriever_is_cached() -> bool:
    from huggingface_hub import try_to_load_from_cache

    return isinstance(try_to_load_from_cache(CONTRIEVER, "config.json"), str)


def test_the_default_retriever_is_the_papers_contriever() -> None:
    from percontrast.cli import build_parser
    from percontrast.data.config import DataConfig

    assert DEFAULT_RETRIEVER == "contriever" and CONTRIEVER == "facebook/contriever"
    assert DataConfig("lamp", "LaMP_4").retriever == "contriever"
    assert DataConfig("lamp", "LaMP_4").k == 4
    args = build_parser().parse_args(["data", "longlamp", "--task", "review", "--out", "x.jsonl"])
    assert (args.retriever, args.k, args.split, args.dense_model) == ("contriever", 4, "test", None)


@pytest.mark.skipif(_contriever_is_cached(), reason="facebook/contriever is in the local cache here")
def test_contriever_unavailable_offline_says_how_to_proceed(tmp_path) -> None:
    for spec in (None, str(tmp_path / "no-such-dir"), str(tmp_path)):  # hub, missing dir, dir without model
        with pytest.raises(ConfigError) as caught:
            make_retriever("contriever", dense_model=spec)
        message = str(caught.value)
        assert "--dense-model DIR" in message
        assert "--retriever minilm" in message and "--retriever bm25" in message


def test_dense_model_and_replacement_flags_belong_to_their_retrievers() -> None:
    with pytest.raises(ConfigError, match="--dense-model is for --retriever contriever or dense"):
        make_retriever("bm25", dense_model="minilm")
    with pytest.raises(ConfigError, match="with replacement is for --retriever random"):
        make_retriever("bm25", random_with_replacement=True)


WORDS = "the cat dog sat on mat stock market fell sleepy napping kittens warm sun".split()


@pytest.fixture(scope="module")
def local_contriever(tmp_path_factory) -> str:
    """A tiny random BERT saved like a local copy of facebook/contriever (config, tokenizer, weights)."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]"]
    vocab = {word: i for i, word in enumerate(specials + WORDS)}
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)]
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, pad_token="[PAD]", unk_token="[UNK]", model_max_length=512
    )
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=64,
    )
    directory = tmp_path_factory.mktemp("contriever")
    fast.save_pretrained(directory)
    BertModel(config).save_pretrained(directory)
    return str(directory)


def test_contriever_from_a_local_copy_scores_as_the_official_code(local_contriever: str) -> None:
    import torch
    from transformers import AutoModel, AutoTokenizer

    retriever = make_retriever("contriever", dense_model=local_contriever, batch_size=2)
    assert retriever.name == "contriever" and retriever.model == local_contriever
    documents = ["the cat sat on the mat", "stock market fell", "kittens napping in warm sun", "dog", "sat"]
    query = "sleepy cat napping"

    # LaMP/prompts/contriever_retriever.py lines 4-23 (@ 38c9d4d), on CPU, batch size 4.
    def mean_pooling(token_embeddings, mask):
        token_embeddings = token_embeddings.masked_fill(~mask[..., None].bool(), 0.0)
        return token_embeddings.sum(dim=1) / mask.sum(dim=1)[..., None]

    tokenizer = AutoTokenizer.from_pretrained(local_contriever)
    contriever = AutoModel.from_pretrained(local_contriever).eval()
    with torch.no_grad():
        query_tokens = tokenizer([query], padding=True, truncation=True, return_tensors="pt")
        output_query = mean_pooling(
            contriever(**query_tokens).last_hidden_state, query_tokens["attention_mask"]
        )
        scores = []
        for start in range(0, len(documents), 4):
            batch = tokenizer(
                documents[start : start + 4], padding=True, truncation=True, return_tensors="pt"
            )
            outputs = mean_pooling(contriever(**batch).last_hidden_state, batch["attention_mask"])
            scores.extend((output_query.squeeze() @ outputs.T).tolist())
    _, official_top = torch.topk(torch.tensor(scores), 4)

    order = retriever.rank(query, documents, [{}] * len(documents), "x")
    assert order[:4] == official_top.tolist()
    ours = retriever.embed(documents) @ retriever.encoder.encode([query], 1)[0]
    assert ours == pytest.approx(scores, rel=1e-4, abs=1e-5)


def test_random_with_replacement_follows_random_choices_seeded() -> None:
    import hashlib

    items = [{}] * 3
    retriever = RandomRetriever(seed=5, with_replacement=True, k=8)
    draws = retriever.rank("", [""] * 3, items, "ex-7")
    # The official draw is random.choices(profile, k=k); ours is that, from a per-example seeded generator.
    digest = hashlib.sha256(b"5:ex-7").digest()
    expected = random.Random(int.from_bytes(digest[:8], "little")).choices(range(3), k=8)
    assert draws == expected and len(draws) == 8 and len(set(draws)) < 8  # 8 draws of 3: repeats
    assert RandomRetriever(seed=5, with_replacement=True, k=8).rank("", [""] * 3, items, "ex-7") == draws
    assert RandomRetriever(seed=6, with_replacement=True, k=8).rank("", [""] * 3, items, "ex-7") != draws
    assert (
        make_retriever("random", seed=5, k=8, random_with_replacement=True).rank("", [""] * 3, items, "ex-7")
        == draws
    )
