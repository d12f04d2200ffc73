"""Reading the LongLaMP benchmark (Kumar et al., 2024, "LongLaMP: A Benchmark for Personalized
Long-form Text Generation", arXiv:2407.11016; data: huggingface.co/datasets/LongLaMP/LongLaMP).

The dataset has configs ``{abstract_generation, product_review, topic_writing}_{user, temporal}``
with splits ``train`` / ``val`` / ``test``. A row is ``{<user field>, "input", "output", "profile"}``:

    task                 user field   profile item keys
    abstract_generation  name         title, abstract, id, year
    product_review       reviewerId   overall, summary, description, reviewText
    topic_writing        author       summary, content, id, author

Rows are read from local JSON (an array, or ``{"data"|"rows": [...]}``), JSONL, or Parquet (with
pyarrow), or with ``datasets.load_dataset("LongLaMP/LongLaMP", config, split=...)`` when the
``datasets`` package and the hub are there. Rows have no id; an example's id is
``<task>-<split or file stem>-<row index>``.

Retrieval documents and queries follow the official LongLaMP code: abstracts index
``"{title} {abstract}"`` and query with the text after ``items:`` (the input's list of key items);
reviews index ``"{overall} {summary} {description} {reviewText}"``, topic writing
``"{summary} {content}"``, both queried with the whole input. Recency follows the official
``profile[-k:][::-1]`` (LongLaMP-benchmark/LongLaMP-Benchmark @ 41412fe,
``longLaMP/prompts/prompts.py`` line 100): the profile's last items, newest = last, never sorted,
not even by the abstracts' ``year``.

    percontrast data longlamp --task product_review --input product_review_user_test.jsonl \\
        --retriever contriever --k 4 --sample 500 --out test.jsonl
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from percontrast.data.lamp import _load_json, after
from percontrast.data.task_spec import ID, NUMBER, STRING, RawRecord, TaskSpec
from percontrast.utils.errors import ConfigError, DataError

HUB_DATASET = "LongLaMP/LongLaMP"
USER_FIELDS = {"abstract_generation": "name", "product_review": "reviewerId", "topic_writing": "author"}
SPLITS = ("train", "val", "test")

LONGLAMP_TASKS: dict[str, TaskSpec] = {
    "abstract_generation": TaskSpec(
        "LongLaMP_abstract_generation",
        {"title": STRING, "abstract": STRING, "id": ID, "year": NUMBER},
        lambda p: f"{p['title']} {p['abstract']}",
        after("items:"),
        None,  # recency: profile order, as LongLaMP prompts.py line 100 (not sorted by year)
    ),
    "product_review": TaskSpec(
        "LongLaMP_product_review",
        {"overall": NUMBER, "summary": STRING, "description": STRING, "reviewText": STRING},
        lambda p: f"{p['overall']} {p['summary']} {p['description']} {p['reviewText']}",
        lambda text: text,
    ),
    "topic_writing": TaskSpec(
        "LongLaMP_topic_writing",
        {"summary": STRING, "content": STRING, "id": ID, "author": STRING},
        lambda p: f"{p['summary']} {p['content']}",
        lambda text: text,
    ),
}
_ALIASES = {"abstract": "abstract_generation", "review": "product_review", "topic": "topic_writing"}


def longlamp_task(name: str) -> tuple[str, TaskSpec]:
    """``product_review``, ``review``, ``LongLaMP_product_review`` or ``product_review_user`` -> (key, spec)."""
    key = name.removeprefix("LongLaMP_").removeprefix("LongLaMP-")
    for suffix in ("_user", "_temporal"):
        key = key.removesuffix(suffix)
    key = _ALIASES.get(key, key)
    if key not in LONGLAMP_TASKS:
        raise ConfigError(
            f"unknown LongLaMP task {name!r}; supported: {sorted(LONGLAMP_TASKS)} (or {sorted(_ALIASES)})"
        )
    return key, LONGLAMP_TASKS[key]


def load_rows(path: str | Path) -> list[tuple[int | None, Any]]:
    """Rows of a local file as ``(line or None, row)``; the format comes from the suffix."""
    path = Path(path)
    if not path.exists():
        raise DataError("file not found", path=str(path))
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        from percontrast.data.schema import iter_jsonl

        return list(iter_jsonl(path))
    if suffix == ".json":
        data = _load_json(path)  # names the file and line of malformed JSON or non-UTF-8 bytes
        if isinstance(data, dict):
            data = data.get("data", data.get("rows"))
        if not isinstance(data, list):
            raise DataError('expected a JSON array of rows (or {"data": [...]})', path=str(path))
        return [(None, row) for row in data]
    if suffix == ".parquet":
        if importlib.util.find_spec("pyarrow") is None:
            raise ConfigError(f"{path}: reading Parquet needs pyarrow (pip install pyarrow)")
        import pyarrow.parquet as pq

        return [(None, row) for row in pq.read_table(path).to_pylist()]
    raise ConfigError(f"{path}: unknown file type {suffix!r}; use .json, .jsonl or .parquet")


def load_hub_rows(config: str, split: str) -> list[tuple[int | None, Any]]:
    """Rows of ``LongLaMP/LongLaMP`` from the hub (needs the ``datasets`` package and network)."""
    if importlib.util.find_spec("datasets") is None:
        raise ConfigError(
            "reading LongLaMP from the hub needs the `datasets` package; or pass a local --input file"
        )
    from datasets import load_dataset

    return [(None, row) for row in load_dataset(HUB_DATASET, config, split=split)]


def read_longlamp(
    task: str, path: str | Path | None = None, *, config: str | None = None, split: str = "test"
) -> tuple[TaskSpec, list[RawRecord]]:
    """Read LongLaMP rows from a local file (``path``) or the hub (``config`` such as ``product_review_user``).

    Returns:
        The task spec and the records; a row that is not an object, or lacks the user field, is an
        error naming the file and row (field types are checked later, by `build.validate_record`).
    """
    key, spec = longlamp_task(task)
    if path is not None:
        rows, source, tag = load_rows(path), str(path), Path(path).stem
    else:
        if split not in SPLITS:
            raise ConfigError(f"unknown split {split!r}; LongLaMP has {list(SPLITS)}")
        config = config or f"{key}_user"
        rows, source, tag = load_hub_rows(config, split), f"hf://{HUB_DATASET}/{config}/{split}", split
    user_field = USER_FIELDS[key]
    records = []
    for index, (line, row) in enumerate(rows):
        record_id = f"{key}-{tag}-{index}"
        if not isinstance(row, dict):
            raise DataError(f"row {index} is not an object", path=source, line=line, record_id=record_id)
        if user_field not in row:
            raise DataError(
                f"missing the user field of {spec.name} (row {index})",
                path=source,
                line=line,
                record_id=record_id,
                field=user_field,
            )
        user = row[user_field]
        # A missing input/output/profile is reported (or skipped and counted) by build.validate_record.
        records.append(
            RawRecord(
                record_id,
                row.get("input"),
                row.get("output"),
                row.get("profile"),
                None if user is None else str(user),
                source,
                line,
            )
        )
    return spec, records
