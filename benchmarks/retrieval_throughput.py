"""Retrieval throughput: BM25 (ours and rank_bm25) and dense, over synthetic users.

Each user has ``--items`` profile items of ``--item-words`` words and a query of ``--query-words``
words, drawn from a Zipf-like vocabulary (seeded). The issue's target: BM25 over 2,000 users x 100
items in under a minute.

    python benchmarks/retrieval_throughput.py                       # 2000 users x 100 items, BM25
    python benchmarks/retrieval_throughput.py --dense-users 50      # plus dense (MiniLM, offline) on 50 users
    python benchmarks/retrieval_throughput.py --dense-users 50 --dense contriever --dense-model DIR
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from percontrast.data.retrieval import BM25Retriever, make_retriever


def synthetic_users(
    n_users: int, n_items: int, item_words: int, query_words: int, seed: int
) -> list[tuple[str, list[str]]]:
    rng = np.random.default_rng(seed)
    vocabulary = np.array([f"w{i}" for i in range(30_000)])
    weights = 1.0 / np.arange(1, len(vocabulary) + 1)
    weights /= weights.sum()
    users = []
    for _ in range(n_users):
        words = rng.choice(vocabulary, size=(n_items + 1) * item_words, p=weights).reshape(
            n_items + 1, item_words
        )
        documents = [" ".join(row) for row in words[1:]]
        users.append((" ".join(words[0][:query_words]), documents))
    return users


def time_retriever(retriever, users) -> float:
    started = time.perf_counter()
    for index, (query, documents) in enumerate(users):
        retriever.rank(query, documents, [{}] * len(documents), str(index))
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--items", type=int, default=100)
    parser.add_argument("--item-words", type=int, default=120)
    parser.add_argument("--query-words", type=int, default=60)
    parser.add_argument(
        "--reference-users", type=int, default=200, help="users timed with rank_bm25 (0: skip)"
    )
    parser.add_argument(
        "--dense-users", type=int, default=0, help="users timed with the dense retriever (0: skip)"
    )
    parser.add_argument(
        "--dense",
        choices=["minilm", "contriever"],
        default="minilm",
        help="the dense retriever timed (default: minilm, offline; contriever needs the hub or --dense-model)",
    )
    parser.add_argument("--dense-model", default=None, help="contriever: a local copy (directory)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    users = synthetic_users(args.users, args.items, args.item_words, args.query_words, args.seed)
    print(
        f"{args.users} users x {args.items} items of {args.item_words} words, queries of {args.query_words} words"
    )
    seconds = time_retriever(BM25Retriever(), users)
    print(
        f"bm25 (percontrast): {seconds:.1f} s, {args.users / seconds:.0f} users/s, {args.users * args.items / seconds:.0f} items/s"
    )
    if args.reference_users:
        from rank_bm25 import BM25Okapi

        subset = users[: args.reference_users]
        started = time.perf_counter()
        for query, documents in subset:
            BM25Okapi([d.split() for d in documents]).get_top_n(query.split(), documents, n=4)
        reference = time.perf_counter() - started
        print(f"bm25 (rank_bm25, {len(subset)} users): {len(subset) / reference:.0f} users/s")
    if args.dense_users:
        retriever = make_retriever(args.dense, dense_model=args.dense_model, device=args.device)
        subset = users[: args.dense_users]
        seconds = time_retriever(retriever, subset)
        print(
            f"{args.dense} ({retriever.model}, {args.device}, {len(subset)} users, cold cache): "
            f"{len(subset) / seconds:.2f} users/s, "
            f"{retriever.encoded_texts / seconds:.0f} items embedded/s"
        )


if __name__ == "__main__":
    main()
