"""Predictions files: one ``{"id", "prediction", "reference"}`` record a line (README.md, "Formats").

`read_predictions` validates a file and names every bad record: malformed JSON (with its line),
missing or unknown fields, non-string values, duplicate ids (both lines). `check_coverage` compares
the ids with the examples file they were generated from: an id outside it is always an error, and
an example without a prediction is an error too (LaMP's ``eval/evaluation.py`` line 138 asserts
``gold_ids == pred_ids``, LaMP-Benchmark/LaMP @ 38c9d4d) unless the caller asks for a partial
evaluation, which is then reported as such.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from percontrast.data.schema import iter_jsonl
from percontrast.utils.errors import DataError

PREDICTION_FIELDS = ("id", "prediction", "reference")


@dataclass
class Prediction:
    """One generated answer and its reference."""

    id: str
    prediction: str
    reference: str

    def to_dict(self) -> dict[str, str]:
        return {"id": self.id, "prediction": self.prediction, "reference": self.reference}


def read_predictions(path: str | Path) -> list[Prediction]:
    """Read and validate a predictions file.

    Raises:
        DataError: naming the file, line and field of the first bad record; a duplicate id names
            the line where it was first seen.
    """
    path = str(path)
    predictions: list[Prediction] = []
    first_line: dict[str, int] = {}
    for line, record in iter_jsonl(path):
        if not isinstance(record, dict):
            raise DataError(f"expected a JSON object, got {type(record).__name__}", path=path, line=line)
        unknown = sorted(set(record) - set(PREDICTION_FIELDS))
        if unknown:
            raise DataError(
                f"unknown field(s) {unknown}; allowed: {list(PREDICTION_FIELDS)}",
                path=path,
                line=line,
                field=unknown[0],
            )
        for name in PREDICTION_FIELDS:
            if name not in record:
                raise DataError("missing required field", path=path, line=line, field=name)
            if not isinstance(record[name], str):
                raise DataError(
                    f"expected a string, got {type(record[name]).__name__}", path=path, line=line, field=name
                )
        if record["id"] in first_line:
            raise DataError(
                f"duplicate id {record['id']!r} (first seen on line {first_line[record['id']]})",
                path=path,
                line=line,
                field="id",
            )
        first_line[record["id"]] = line
        predictions.append(Prediction(record["id"], record["prediction"], record["reference"]))
    if not predictions:
        raise DataError("no predictions in file", path=path)
    return predictions


def _first(ids: Sequence[str], n: int = 5) -> str:
    return ", ".join(repr(i) for i in ids[:n]) + (" ..." if len(ids) > n else "")


@dataclass
class Coverage:
    """How a predictions file covers its reference set (the examples file).

    Attributes:
        n_references: examples in the reference set.
        n_predictions: predictions read.
        missing: ids of examples without a prediction, in the examples file's order.
        partial: True when ``missing`` is not empty (only allowed with ``partial=True``).
    """

    n_references: int
    n_predictions: int
    missing: list[str]
    partial: bool

    def to_dict(self, max_ids: int = 20) -> dict:
        return {
            "partial": self.partial,
            "n_references": self.n_references,
            "n_predictions": self.n_predictions,
            "n_missing": len(self.missing),
            "missing_ids_first": self.missing[:max_ids],
        }


def check_coverage(
    predictions: list[Prediction],
    reference_ids: Sequence[str],
    predictions_path: str | Path,
    references_path: str | Path,
    *,
    partial: bool = False,
) -> Coverage:
    """Prediction ids must be reference ids, and (unless ``partial``) every reference id predicted.

    Args:
        predictions: the predictions read.
        reference_ids: the example ids, in file order.
        predictions_path, references_path: named in the errors.
        partial: allow references without a prediction; the result is then marked partial.

    Raises:
        DataError: naming how many ids are unknown or missing and the first few.
    """
    known = set(reference_ids)
    unknown = [p.id for p in predictions if p.id not in known]
    if unknown:
        raise DataError(
            f"{len(unknown)} prediction id(s) are not in the references {references_path}: {_first(unknown)}",
            path=str(predictions_path),
            field="id",
        )
    predicted = {p.id for p in predictions}
    missing = [i for i in reference_ids if i not in predicted]
    if missing and not partial:
        raise DataError(
            f"{len(missing)} of the {len(reference_ids)} examples in {references_path} have no prediction "
            f"(first: {_first(missing)}); the official evaluation scores the whole set, so generate them "
            "all, or pass --partial to score only the predicted ones (the output is then labelled partial)",
            path=str(predictions_path),
            field="id",
        )
    return Coverage(len(reference_ids), len(predictions), missing, bool(missing))


def check_references_match(
    predictions: list[Prediction], examples: dict, path: str | Path, data_path: str | Path
) -> None:
    """Each prediction's reference must be its example's response: else the scores are of other targets.

    Args:
        predictions: the predictions, read from ``path``.
        examples: the examples of ``data_path`` by id (objects with a ``response``).
    """
    differing = [p.id for p in predictions if p.id in examples and p.reference != examples[p.id].response]
    if differing:
        raise DataError(
            f"{len(differing)} reference(s) differ from the response of the same id in {data_path} "
            f"(first: {_first(differing)}): the predictions were made against other data, or the data changed since",
            path=str(path),
            field="reference",
        )
