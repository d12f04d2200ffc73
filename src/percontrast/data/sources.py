"""Where rows of examples come from: a JSONL or Parquet file, a saved `datasets` directory, a
`datasets.Dataset` object, or the Hub (``hub:org/name``). `load_rows` yields ``(line or None, row)``;
`percontrast.data.schema.examples_from_rows` turns the rows into examples.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from percontrast.utils.errors import ConfigError, DataError
from percontrast.utils.jsonl import iter_jsonl


def load_rows(source: Any, split: str | None = None) -> Iterator[tuple[int | None, dict[str, Any]]]:
    """``(line or None, row)`` of a JSONL / Parquet file, a saved dataset directory, a `datasets.Dataset`,
    or ``hub:org/name`` (with ``split``)."""
    if hasattr(source, "column_names") and hasattr(source, "__iter__"):  # a datasets.Dataset
        yield from ((None, dict(row)) for row in source)
        return
    text = str(source)
    if text.startswith("hub:"):
        if importlib.util.find_spec("datasets") is None:
            raise ConfigError("reading from the Hub needs the datasets package (pip install datasets)")
        from datasets import load_dataset

        yield from ((None, dict(row)) for row in load_dataset(text[4:], split=split or "train"))
        return
    path = Path(text)
    if path.is_dir():
        if not (path / "dataset_info.json").exists() and not (path / "state.json").exists():
            raise DataError(
                "a directory that is not a saved dataset (no dataset_info.json / state.json)", path=text
            )
        if importlib.util.find_spec("datasets") is None:
            raise ConfigError(
                f"{path}: reading a saved dataset needs the datasets package (pip install datasets)"
            )
        from datasets import DatasetDict, load_from_disk

        dataset = load_from_disk(str(path))
        if isinstance(dataset, DatasetDict):
            if split is None or split not in dataset:
                raise DataError(f"a dataset with splits {list(dataset)}; name one with split=", path=text)
            dataset = dataset[split]
        yield from ((None, dict(row)) for row in dataset)
        return
    if path.suffix == ".parquet":
        if importlib.util.find_spec("pyarrow") is None:
            raise ConfigError(f"{path}: reading Parquet needs pyarrow (pip install pyarrow)")
        import pyarrow.parquet as pq

        yield from ((None, row) for row in pq.read_table(path).to_pylist())
        return
    yield from iter_jsonl(path)
