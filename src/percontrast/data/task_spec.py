"""The shape of a benchmark task (`TaskSpec`) and of one record before retrieval (`RawRecord`).

Shared by the readers (`percontrast.data.lamp`, `percontrast.data.longlamp`), which define one
`TaskSpec` per task, and by `percontrast.data.build`, which validates records against it. It imports
nothing of ours, so the readers and the builder do not import each other over these types.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

STRING = (str,)
NUMBER = (int, float, str)  # ratings and years: numbers in some releases, strings in others
ID = (str, int)


@dataclass(frozen=True)
class TaskSpec:
    """What one benchmark task looks like and how the official code retrieves for it.

    Attributes:
        name: the task name written to `Example.task` (``LaMP_4``, ``LongLaMP_product_review``).
        item_fields: required profile item fields and their allowed types.
        document: the text a retriever indexes for one profile item.
        query: the retrieval query from the task input; None when the input lacks the expected marker.
        date_field: the item field recency sorts by (LaMP: ``date``, as LaMP ``prompts.py`` line 225);
            None: recency takes the profile's own order, later = newer (LongLaMP ``prompts.py``
            line 100, ``profile[-k:][::-1]``).
    """

    name: str
    item_fields: dict[str, tuple[type, ...]]
    document: Callable[[dict[str, Any]], str]
    query: Callable[[str], str | None]
    date_field: str | None = None


@dataclass
class RawRecord:
    """One benchmark record before retrieval, with where it came from."""

    id: str
    input: Any
    output: Any
    profile: Any
    user_id: str | None
    path: str
    line: int | None = None
