"""Reading the LaMP benchmark (Salemi et al., 2024, "LaMP: When Large Language Models Meet
Personalization", arXiv:2304.11406; data and code: github.com/LaMP-Benchmark/LaMP).

A LaMP task ships a questions file, a JSON array of ``{"id", "input", "profile": [...]}`` (some
releases add ``user_id``), and an outputs file ``{"task": "LaMP_4", "golds": [{"id", "output"}]}``.
Profile items per task (``id`` on every item; ``date`` too in the time-based split):

    LaMP_2 movie tags        description, tag        LaMP_5 scholarly titles  title, abstract
    LaMP_3 product ratings   text, score             LaMP_6 e-mail subjects   title, text (private data)
    LaMP_4 news headlines    title, text             LaMP_7 tweet paraphrase  text

Retrieval documents and queries follow the official ``LaMP/prompts/prompts.py``: LaMP-4 indexes
``"{title} {text}"`` and queries with the text after ``article:``; LaMP-5 ``"{title} {abstract}"``
after ``paper:``; LaMP-7 ``text`` after the first ``:``; LaMP-2 ``description`` after
``description:``; LaMP-3 ``text`` after ``review:``; LaMP-6 ``text`` after the first ``:``. An input
without the marker is queried whole, and counted (``query_fallbacks`` in the summary).
LaMP-1 (citation choice) is not supported: its prompt puts the profile inside the question.

    percontrast data lamp --task LaMP_4 --input dev_questions.json --outputs dev_outputs.json \\
        --retriever contriever --k 4 --out dev.jsonl
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from percontrast.data.task_spec import ID, NUMBER, STRING, RawRecord, TaskSpec
from percontrast.utils.errors import ConfigError, DataError


def after(marker: str):
    """The official ``extract_after_*``: the stripped text after the first ``marker``, None if absent."""

    def extract(text: str) -> str | None:
        index = text.find(marker)
        return None if index == -1 else text[index + len(marker) :].strip()

    return extract


LAMP_TASKS: dict[str, TaskSpec] = {
    spec.name: spec
    for spec in [
        TaskSpec(
            "LaMP_2",
            {"description": STRING, "tag": STRING, "id": ID},
            lambda p: f"{p['description']}",
            after("description:"),
            "date",
        ),
        TaskSpec(
            "LaMP_3",
            {"text": STRING, "score": NUMBER, "id": ID},
            lambda p: f"{p['text']}",
            after("review:"),
            "date",
        ),
        TaskSpec(
            "LaMP_4",
            {"title": STRING, "text": STRING, "id": ID},
            lambda p: f"{p['title']} {p['text']}",
            after("article:"),
            "date",
        ),
        TaskSpec(
            "LaMP_5",
            {"title": STRING, "abstract": STRING, "id": ID},
            lambda p: f"{p['title']} {p['abstract']}",
            after("paper:"),
            "date",
        ),
        TaskSpec(
            "LaMP_6",
            {"title": STRING, "text": STRING, "id": ID},
            lambda p: f"{p['text']}",
            after(":"),
            "date",
        ),
        TaskSpec("LaMP_7", {"text": STRING, "id": ID}, lambda p: f"{p['text']}", after(":"), "date"),
    ]
}


def lamp_task(name: str) -> TaskSpec:
    """Look up a LaMP task by ``LaMP_4``, ``LaMP-4`` or ``4``."""
    key = name.replace("-", "_")
    key = f"LaMP_{key}" if key.isdigit() else key
    if key not in LAMP_TASKS:
        raise ConfigError(
            f"unknown LaMP task {name!r}; supported: {sorted(LAMP_TASKS)} (LaMP_1 is not supported)"
        )
    return LAMP_TASKS[key]


def _load_json(path: str | Path) -> Any:
    path = Path(path)
    if not path.exists():
        raise DataError("file not found", path=str(path))
    if path.is_dir():
        raise DataError("is a directory; give the JSON file inside it", path=str(path))
    raw = path.read_bytes()
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise DataError(
            f"not UTF-8: byte {raw[exc.start]:#04x}; convert the file to UTF-8", path=str(path), line=line
        ) from None
    except json.JSONDecodeError as exc:
        raise DataError(f"malformed JSON: {exc.msg}", path=str(path), line=exc.lineno) from None


def read_lamp_outputs(path: str | Path, task: TaskSpec | None = None) -> dict[str, str]:
    """The golds of an outputs file, by id; the file's ``task`` must match ``task`` when given."""
    data = _load_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("golds"), list):
        raise DataError(
            'expected {"task": ..., "golds": [{"id", "output"}, ...]}', path=str(path), field="golds"
        )
    if task is not None and "task" in data and str(data["task"]).replace("-", "_") != task.name:
        raise DataError(
            f"outputs file is for {data['task']!r}, not {task.name}", path=str(path), field="task"
        )
    golds: dict[str, str] = {}
    for index, gold in enumerate(data["golds"]):
        if not isinstance(gold, dict) or "id" not in gold:
            raise DataError("gold without an id", path=str(path), field=f"golds[{index}].id")
        gold_id = str(gold["id"])
        if "output" not in gold:
            raise DataError("missing required field", path=str(path), record_id=gold_id, field="output")
        if gold_id in golds:
            raise DataError("duplicate gold id", path=str(path), record_id=gold_id, field="id")
        if not isinstance(gold["output"], str) or not gold["output"].strip():
            found = (
                type(gold["output"]).__name__ if not isinstance(gold["output"], str) else "an empty string"
            )
            raise DataError(
                f"expected a non-empty string, got {found}", path=str(path), record_id=gold_id, field="output"
            )
        golds[gold_id] = gold["output"]
    return golds


def read_lamp(
    questions: str | Path, outputs: str | Path | None, task: str | TaskSpec, *, skip_unmatched: bool = False
) -> tuple[list[RawRecord], dict[str, int]]:
    """Read a LaMP questions file and join its golds.

    Args:
        questions: the ``*_questions.json`` file.
        outputs: the ``*_outputs.json`` file (required: every example needs its reference).
        task: the task name or spec.
        skip_unmatched: skip questions without a gold and ignore golds without a question (counted)
            instead of raising.

    Returns:
        The records (field types are checked later, by `build.validate_record`) and the counts of
        what was skipped, by reason.
    """
    spec = task if isinstance(task, TaskSpec) else lamp_task(task)
    if outputs is None:
        raise ConfigError("LaMP needs the outputs file (--outputs) with the gold outputs of the questions")
    data = _load_json(questions)
    if not isinstance(data, list):
        raise DataError(f"expected a JSON array of questions, got {type(data).__name__}", path=str(questions))
    golds = read_lamp_outputs(outputs, spec)
    records: list[RawRecord] = []
    seen: set[str] = set()
    skipped: dict[str, int] = {}
    for index, question in enumerate(data):
        if not isinstance(question, dict):
            raise DataError(f"question {index} is not an object", path=str(questions), field=f"[{index}]")
        if "id" not in question:
            raise DataError(f"question {index} has no id", path=str(questions), field="id")
        qid = str(question["id"])
        if qid in seen:
            raise DataError("duplicate question id", path=str(questions), record_id=qid, field="id")
        seen.add(qid)
        if qid not in golds:
            if not skip_unmatched:
                raise DataError(
                    f"no gold output for this question in {outputs}",
                    path=str(questions),
                    record_id=qid,
                    field="id",
                )
            skipped["question without gold"] = skipped.get("question without gold", 0) + 1
            continue
        user = question.get("user_id")
        records.append(
            RawRecord(
                qid,
                question.get("input"),
                golds[qid],
                question.get("profile"),
                None if user is None else str(user),
                str(questions),
            )
        )
    orphans = sorted(set(golds) - seen)
    if orphans:
        if not skip_unmatched:
            raise DataError(
                f"{len(orphans)} gold id(s) have no question in {questions} (first: {orphans[:3]})",
                path=str(outputs),
                record_id=orphans[0],
                field="id",
            )
        skipped["gold without question"] = len(orphans)
    return records, skipped
