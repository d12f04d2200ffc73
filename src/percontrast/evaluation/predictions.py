"""Predictions files: one ``{"id", "prediction", "reference"}`` record a line (ARCHITECTURE.md, "Formats").

`read_predictions` validates a file and names every bad record: malformed JSON (with its line),
missing or unknown fields, non-string values, duplicate ids (both lines), and ids missing from a
references file given alongside.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from percontrast.data.schema import iter_jsonl
from percontrast.errors import DataError

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


def check_against_references(
    predictions: list[Prediction], reference_ids: set[str], path: str | Path
) -> None:
    """Every prediction id must be in the references; the error lists the missing ones (first 10)."""
    missing = [p.id for p in predictions if p.id not in reference_ids]
    if missing:
        shown = ", ".join(repr(i) for i in missing[:10]) + (" ..." if len(missing) > 10 else "")
        raise DataError(
            f"{len(missing)} prediction id(s) are not in the references: {shown}", path=str(path), field="id"
        )


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
        shown = ", ".join(repr(i) for i in differing[:5]) + (" ..." if len(differing) > 5 else "")
        raise DataError(
            f"{len(differing)} reference(s) differ from the response of the same id in {data_path} "
            f"(first: {shown}): the predictions were made against other data, or the data changed since",
            path=str(path),
            field="reference",
        )
