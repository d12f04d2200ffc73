"""Build an annotated persona QA set with a strong model: the paper's Figure 6 pipeline.

For each persona, the model is asked with the Appendix D.2 construction prompt
(``resources/prompts/synthetic_construction.txt``) for a short question, a short answer, and the
answer's persona keywords highlighted. `parse_construction_reply` reads the reply; a record is kept only
when the question, the answer and at least one keyword were found and every keyword occurs in the answer
as whole words. Everything else is set aside with its reason and counted (`ConstructionReport`), never
silently dropped. Kept records have the bundled set's format (``id``, ``persona_id``, ``persona``,
``question``, ``answer``, ``personal_spans``), so `percontrast.data.persona_qa.read_persona_qa` and
``percontrast identify`` read them. The paper's annotators then checked every keyword by hand: do the same
before trusting a constructed set.

CLI: ``percontrast construct --personas personas.jsonl --url http://127.0.0.1:8000/v1 --api-model M --out set.jsonl``
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from percontrast.data.construct_config import ConstructConfig
from percontrast.data.schema import iter_jsonl
from percontrast.utils.bundled import load_published_prompt
from percontrast.utils.errors import DataError

logger = logging.getLogger(__name__)

CONSTRUCTION_PROMPT = "synthetic_construction"
_FIELD = re.compile(
    r"^\W*(question|q|answer|a|keywords?|highlighted keywords?|key words?)\W*?\s*[:：]\s*\**\s*(.*)$",
    re.IGNORECASE,
)
_HIGHLIGHT = re.compile(r"\*\*(.+?)\*\*|__(.+?)__|(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])")


class ConstructionError(ValueError):
    """A reply that cannot become a record; the message is the reason that is counted."""


@dataclass
class ConstructedItem:
    question: str
    answer: str
    personal_spans: list[str]


def _clean(text: str) -> str:
    return text.strip().strip('*_"“”').strip()


def parse_construction_reply(reply: str) -> ConstructedItem:
    """Read the question, the answer and its keywords from a construction reply.

    Understood: ``Question:`` / ``Answer:`` lines (also ``Q:`` / ``A:``, markdown bold around the labels);
    keywords highlighted in the answer with ``**...**``, ``__...__`` or ``*...*``, and / or listed on a
    ``Keywords:`` line (comma or semicolon separated). Highlight marks are removed from the answer.

    Raises:
        ConstructionError: no question, no answer, no keyword, or a keyword not in the answer.
    """
    fields: dict[str, str] = {}
    current = None
    for line in reply.splitlines():
        match = _FIELD.match(line)
        if match:
            key = match.group(1).lower()
            current = (
                "question" if key in ("question", "q") else "answer" if key in ("answer", "a") else "keywords"
            )
            fields[current] = match.group(2)
        elif current and line.strip() and current != "keywords":
            fields[current] = (fields[current] + " " + line.strip()).strip()
        elif not line.strip():
            current = None
    question = _clean(fields.get("question", ""))
    raw_answer = fields.get("answer", "").strip()
    if not question:
        raise ConstructionError("no question")
    if not _clean(raw_answer):
        raise ConstructionError("no answer")
    highlighted = [next(g for g in m.groups() if g) for m in _HIGHLIGHT.finditer(raw_answer)]
    answer = _clean(_HIGHLIGHT.sub(lambda m: next(g for g in m.groups() if g), raw_answer))
    listed = [_clean(k) for k in re.split(r"[,;]", fields.get("keywords", ""))]
    keywords: list[str] = []
    for keyword in highlighted + listed:
        keyword = keyword.strip().strip(".,!?")
        if keyword and keyword.lower() not in {k.lower() for k in keywords}:
            keywords.append(keyword)
    if not keywords:
        raise ConstructionError("no keywords")
    spans = []
    for keyword in keywords:
        found = re.search(r"(?<![^\W_])" + re.escape(keyword) + r"(?![^\W_])", answer, re.IGNORECASE)
        if not found:
            raise ConstructionError("keyword not in the answer")
        spans.append(answer[found.start() : found.end()])  # the answer's own casing
    return ConstructedItem(question=question, answer=answer, personal_spans=spans)


def construction_messages(persona: Sequence[str]) -> list[dict[str, str]]:
    """The construction prompt's user turn for one persona (sentences joined by spaces)."""
    prompt = load_published_prompt(CONSTRUCTION_PROMPT)
    return [{"role": "user", "content": prompt.fill(persona=" ".join(persona))}]


@dataclass
class ConstructionReport:
    """Counts of a construction run: kept, set aside by reason, and the set-aside replies themselves."""

    n_personas: int = 0
    n_kept: int = 0
    set_aside: Counter = field(default_factory=Counter)
    rejected: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "n_personas": self.n_personas,
            "n_kept": self.n_kept,
            "n_set_aside": sum(self.set_aside.values()),
            "set_aside_by_reason": dict(self.set_aside),
        }


def read_personas(path) -> list[tuple[str, list[str]]]:
    """``(persona_id, sentences)`` from JSONL records with ``persona`` (list or string) and optional ``persona_id``/``id``."""
    personas = []
    for line, record in iter_jsonl(path):
        persona = record.get("persona") if isinstance(record, dict) else None
        if isinstance(persona, str):
            persona = [persona]
        if (
            not isinstance(persona, list)
            or not persona
            or not all(isinstance(p, str) and p.strip() for p in persona)
        ):
            raise DataError(
                "expected a non-empty list of persona sentences (or a string)",
                path=str(path),
                line=line,
                field="persona",
            )
        personas.append((str(record.get("persona_id", record.get("id", f"persona_{line:05d}"))), persona))
    if not personas:
        raise DataError("no personas in file", path=str(path))
    return personas


# The paper's rule for Figure 6's answers: "a corresponding answer of 5-20 words" (Section 4.1).
ANSWER_WORDS = (5, 20)


def construct_dataset(
    personas: Sequence[tuple[str, list[str]]],
    backend,
    config: ConstructConfig | None = None,
    *,
    id_prefix: str = "synth",
    answer_words: tuple[int, int] = ANSWER_WORDS,
    finished: Mapping[str, dict] | None = None,
    on_item: Callable[[dict, bool], None] | None = None,
) -> tuple[list[dict], ConstructionReport]:
    """Ask ``backend`` (a `ChatBackend`) for one annotated QA item per persona, one persona at a time.

    Every item (kept or set aside) has the id ``<id_prefix>_<index>``, so a run can resume.

    Args:
        personas: ``(persona id, sentences)`` pairs.
        backend: the construction model (its server is ``config.writer``'s in `construct_files`).
        config: the settings (default: `ConstructConfig`'s): ``writer.temperature``,
            ``writer.max_tokens`` and ``seed`` of every request.
        finished: items of an earlier run by id (kept records, and set-aside ones with a ``reason``);
            their personas are not asked again.
        on_item: called with each new item and whether it was kept, as soon as it is known (the CLI
            appends it to its files, so that an interrupt loses nothing already paid for).

    An answer outside ``answer_words`` (whitespace-separated words, both ends included) is set aside
    and counted: the paper asks for "a corresponding answer of 5-20 words" (Section 4.1, Figure 6).

    Returns:
        The kept records (bundled format, finished ones included) and the report (set-aside replies
        are in ``report.rejected``).
    """
    config = config or ConstructConfig()
    finished = finished or {}
    report = ConstructionReport(n_personas=len(personas))
    records = []
    for index, (persona_id, sentences) in enumerate(personas):
        item_id = f"{id_prefix}_{index:05d}"
        item = finished.get(item_id)
        if item is None:
            (reply,) = backend.chat(
                [construction_messages(sentences)],
                max_new_tokens=config.writer.max_tokens,
                temperature=config.writer.temperature,
                seed=config.seed,
            )
            item = _construction_item(item_id, persona_id, sentences, reply[0], answer_words)
            if on_item is not None:
                on_item(item, "reason" not in item)
        if "reason" in item:
            report.set_aside[item["reason"]] += 1
            report.rejected.append(item)
        else:
            records.append(item)
    report.n_kept = len(records)
    logger.info(
        "constructed %d of %d items; set aside: %s", report.n_kept, report.n_personas, dict(report.set_aside)
    )
    return records, report


def _construction_item(
    item_id: str, persona_id: str, sentences: list[str], text: str, answer_words: tuple[int, int]
) -> dict:
    """A kept record in the bundled format, or a set-aside one with its ``reason`` and ``reply``."""
    try:
        item = parse_construction_reply(text)
    except ConstructionError as exc:
        return {"id": item_id, "persona_id": persona_id, "reason": str(exc), "reply": text}
    n_words = len(item.answer.split())
    if not answer_words[0] <= n_words <= answer_words[1]:
        reason = f"answer not {answer_words[0]}-{answer_words[1]} words"
        return {"id": item_id, "persona_id": persona_id, "reason": reason, "reply": text, "words": n_words}
    return {
        "id": item_id,
        "persona_id": persona_id,
        "persona": list(sentences),
        "question": item.question,
        "answer": item.answer,
        "personal_spans": item.personal_spans,
    }


def construct_settings(config: ConstructConfig, personas_path: str) -> dict:
    """Everything that decides a constructed item, as recorded beside the files (under the names of the
    records written before the construction model was a `ChatModelConfig`); ``limit`` may grow between runs."""
    from pathlib import Path

    from percontrast.utils.files import file_fingerprint

    writer = config.writer
    settings = {
        "personas": f"{Path(personas_path).resolve()} (sha256 {file_fingerprint([personas_path], full=True)})",
        "url": writer.url,
        "api_model": writer.api_model,
        "temperature": writer.temperature,
        "max_new_tokens": writer.max_tokens,
        "seed": config.seed,
    }
    if writer.chat_template_kwargs is not None:
        settings["chat_template_kwargs"] = writer.chat_template_kwargs
    return settings


def construct_files(config: ConstructConfig, personas_path: str, out: str) -> ConstructionReport:
    """`construct_dataset` into files, resumable: what ``percontrast construct`` runs.

    Kept items go to ``out``, set-aside replies (with their reason) to ``<out>.rejected.jsonl``, both
    appended as each reply arrives; the counts go to ``<out>.report.json``. The settings that decide
    an item are recorded beside both files, and a rerun with the same settings resumes after the
    personas already answered (``limit`` may grow between runs).
    """
    from pathlib import Path

    from percontrast.modeling.chat import chat_backend
    from percontrast.utils.errors import ConfigError, Interrupted
    from percontrast.utils.files import (
        JsonlAppender,
        atomic_write_json,
        check_outputs,
        check_run_settings,
        read_finished,
        settings_path,
    )

    out_path = Path(out)
    rejected_path, report_path = out_path.with_suffix(".rejected.jsonl"), out_path.with_suffix(".report.json")
    check_outputs(
        inputs={"--personas": personas_path},
        outputs={
            "--out": out_path,
            "the set-aside replies beside --out": rejected_path,
            "the report beside --out": report_path,
            "the settings record beside --out": settings_path(out_path),
            "the settings record of the set-aside replies": settings_path(rejected_path),
        },
        resumable=("--out", "the set-aside replies beside --out"),
    )
    personas = read_personas(personas_path)[: config.limit]
    if not config.writer.url:
        raise ConfigError("construct asks an OpenAI-compatible server: give its --url and --api-model")
    backend = chat_backend(config.writer, "")
    settings = construct_settings(config, personas_path)
    check_run_settings(out_path, settings, kind="construct")
    check_run_settings(rejected_path, settings, kind="construct")
    finished = read_finished(out_path) | read_finished(rejected_path)
    if finished:
        logger.info(
            "resuming: %d personas already answered in %s and %s", len(finished), out_path, rejected_path
        )
    with JsonlAppender(out_path) as kept, JsonlAppender(rejected_path) as set_aside:
        try:
            _, report = construct_dataset(
                personas,
                backend,
                config,
                finished=finished,
                on_item=lambda item, keep: (kept if keep else set_aside).write(item),
            )
        except KeyboardInterrupt:
            raise Interrupted(
                f"the {kept.count + set_aside.count} replies received in this run are saved in "
                f"{out_path} and {rejected_path}; rerun the same command to resume"
            ) from None
    atomic_write_json(report_path, report.to_dict())
    logger.info(
        "kept %d of %d personas in %s; set aside %s (replies in %s)",
        report.n_kept,
        report.n_personas,
        out_path,
        dict(report.set_aside),
        rejected_path,
    )
    return report
