"""From benchmark records to `Example`s: validate, sample, retrieve the top k, render, truncate, summarise.

The LaMP and LongLaMP readers (`percontrast.data.lamp`, `percontrast.data.longlamp`) turn the
official files into `RawRecord`s; `build_examples` does the rest for both:

1. validate every record against its task's `TaskSpec` (an error names the file, record id and
   field, or, with ``skip_invalid``, the record is skipped and the reason counted);
2. optionally sample N records with a seed (the paper: 2,000 training and 500 test per task);
3. rank the profile with a retriever (`percontrast.data.retrieval`; by default Contriever, the
   paper's) and keep the top k (the paper: 4); the persona list order is the retrieval rank, most
   relevant first;
4. render each kept item for the chosen template (`percontrast.prompts.benchmarks`);
5. with a tokenizer: truncate the persona to ``max_length`` with `prompts.encoding.fit_example` (invariant 6;
   an example left with no persona item does not fit) and measure prompt lengths with and without
   persona, as the paper's Table 6.

Everything dropped, skipped or cut is counted in the `BuildSummary`.
"""

from __future__ import annotations

import logging
import random
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from percontrast.data.config import DataConfig
from percontrast.data.retrieval import Retriever
from percontrast.data.schema import Example
from percontrast.data.task_spec import STRING, RawRecord, TaskSpec
from percontrast.prompts import benchmarks as prompts
from percontrast.utils.errors import ConfigError, DataError
from percontrast.utils.tables import markdown_table

logger = logging.getLogger(__name__)


@dataclass
class BuildSummary:
    """Counts and mean token lengths of one build (mean over the examples written)."""

    task: str
    retriever: str
    k: int
    template: str
    retriever_model: str | None = None
    records_read: int = 0
    records_sampled: int = 0
    examples_written: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    query_fallbacks: int = 0
    examples_truncated: int = 0
    items_dropped: int = 0
    item_tokens_cut: int = 0
    empty_items_dropped: int = 0
    mean_profile_items: float | None = None
    mean_persona_items: float | None = None
    mean_prompt_tokens_with_persona: float | None = None
    mean_prompt_tokens_without_persona: float | None = None
    mean_response_tokens: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def table(self) -> str:
        """A Markdown row in the style of the paper's Table 6 (prompt tokens with / without persona)."""

        def fmt(value: float | None) -> str:
            return "-" if value is None else f"{value:.1f}"

        header = [
            "task",
            "examples",
            "prompt tokens with persona",
            "prompt tokens without persona",
            "response tokens",
        ]
        row = [
            self.task,
            self.examples_written,
            fmt(self.mean_prompt_tokens_with_persona),
            fmt(self.mean_prompt_tokens_without_persona),
            fmt(self.mean_response_tokens),
        ]
        return markdown_table(header, [row], align="lrrrr")


def validate_record(record: RawRecord, spec: TaskSpec) -> list[dict[str, Any]]:
    """Check a record's fields and types; return its profile. Errors name file, line, record and field."""

    def fail(message: str, field_name: str) -> DataError:
        return DataError(message, path=record.path, line=record.line, record_id=record.id, field=field_name)

    for name in ("input", "output", "profile"):
        if getattr(record, name) is None:
            raise fail("missing required field", name)
    for name in ("input", "output"):
        value = getattr(record, name)
        if not isinstance(value, str):
            raise fail(f"expected a string, got {type(value).__name__}", name)
        if not value.strip():
            raise fail("is empty", name)
    if not isinstance(record.profile, list):
        raise fail(f"expected a list of profile items, got {type(record.profile).__name__}", "profile")
    if not record.profile:
        raise fail("the profile is empty: nothing to personalise with", "profile")
    for index, item in enumerate(record.profile):
        if not isinstance(item, dict):
            raise fail(f"expected an object, got {type(item).__name__}", f"profile[{index}]")
        for key, types in spec.item_fields.items():
            if key not in item or item[key] is None:
                raise fail(f"missing required field (needed by {spec.name})", f"profile[{index}].{key}")
            if not isinstance(item[key], types) or isinstance(item[key], bool):
                allowed = "/".join(t.__name__ for t in types)
                raise fail(f"expected {allowed}, got {type(item[key]).__name__}", f"profile[{index}].{key}")
    return record.profile


def sample_records(records: list[RawRecord], n: int | None, seed: int) -> list[RawRecord]:
    """A seeded sample of ``n`` records, in file order; all of them when ``n`` is None or too large."""
    if n is None or n >= len(records):
        if n is not None:
            logger.warning("asked to sample %d records but only %d are there: keeping all", n, len(records))
        return list(records)
    if n <= 0:
        raise ConfigError(f"sample size must be positive, got {n}")
    chosen = sorted(random.Random(seed).sample(range(len(records)), n))
    return [records[i] for i in chosen]


def build_examples(
    records: list[RawRecord],
    spec: TaskSpec,
    retriever: Retriever,
    *,
    k: int = DataConfig.k,
    template: str | None = DataConfig.template,
    tokenizer: Any = None,
    max_length: int | None = DataConfig.max_length,
    sample: int | None = DataConfig.sample,
    seed: int = DataConfig.seed,
    skip_invalid: bool = DataConfig.skip_invalid,
) -> tuple[list[Example], BuildSummary]:
    """Turn validated records into `Example`s with the top-k retrieved, rendered profile items.

    Args:
        records: the reader's records.
        spec: the task.
        retriever: ranks each profile for its query.
        k: profile items kept per example (the paper: 4).
        template: a template registered for this task (default: `prompts.DEFAULT_TEMPLATES`).
        tokenizer: if given, prompt lengths are measured and ``max_length`` is applied.
        max_length: longest prompt-with-persona plus response, in tokens (needs ``tokenizer``).
        sample: keep a seeded sample of this many records (before retrieval).
        seed: the sampling seed.
        skip_invalid: skip (and count) bad records instead of raising.

    Returns:
        The examples and a `BuildSummary`.
    """
    from tqdm.auto import tqdm

    if k < 1:
        raise ConfigError(f"k must be >= 1, got {k}")
    if max_length is not None and tokenizer is None:
        raise ConfigError("max_length needs a tokenizer (pass --model)")
    template_name, prompt_template = _task_template(spec, template)
    render_item = prompts.ITEM_RENDERERS[template_name]
    summary = BuildSummary(
        task=spec.name,
        retriever=retriever.name,
        k=k,
        template=template_name,
        retriever_model=getattr(retriever, "model", None),
        records_read=len(records),
    )
    skipped: Counter[str] = Counter()
    chosen = sample_records(records, sample, seed)
    summary.records_sampled = len(chosen)
    examples: list[Example] = []
    lengths: list[tuple[int, int, int]] = []
    profile_sizes: list[int] = []
    # Dense retrieval on CPU takes seconds per user: show progress for anything but a handful.
    for record in tqdm(chosen, desc=f"{spec.name} ({retriever.name})", disable=len(chosen) < 50):
        try:
            profile = _usable_profile(record, spec, summary)
            order = _retrieve(record, spec, retriever, profile, k, summary)
        except DataError as exc:
            if not skip_invalid:
                raise
            skipped[
                exc.message if isinstance(exc, _RetrievalError) else f"invalid {exc.field}: {exc.message}"
            ] += 1
            continue
        example = _example(record, spec, template_name, retriever.name, k, profile, order, render_item)
        if tokenizer is not None:
            try:
                lengths.append(_fit(example, tokenizer, prompt_template, max_length, summary))
            except DataError as exc:
                if not skip_invalid:
                    raise DataError(str(exc), path=record.path, line=record.line) from None
                skipped[
                    f"does not fit max_length={max_length}" if max_length else f"cannot encode: {exc}"
                ] += 1
                continue
        profile_sizes.append(len(profile))
        examples.append(example)
    summary.skipped = dict(skipped)
    _add_means(summary, examples, profile_sizes, lengths)
    return examples, summary


def _task_template(spec: TaskSpec, template: str | None) -> tuple[str, Any]:
    """The template's name (default: the task's) and the `PromptTemplate`; it must render this task's profiles."""
    from percontrast.prompts.registry import get_template

    template_name = template or prompts.DEFAULT_TEMPLATES.get(spec.name)
    if template_name not in prompts.ITEM_RENDERERS or prompts.TEMPLATE_TASKS[template_name] != spec.name:
        raise ConfigError(
            f"template {template_name!r} does not render {spec.name} profiles; use one of {prompts.templates_for(spec.name)}"
        )
    return template_name, get_template(template_name)


def _usable_profile(record: RawRecord, spec: TaskSpec, summary: BuildSummary) -> list[dict[str, Any]]:
    """The validated profile without items whose every text field is blank (counted in ``summary``)."""
    profile = validate_record(record, spec)
    # Items whose every text field is blank would render as empty text ('"" is the title for ""').
    text_keys = [key for key, types in spec.item_fields.items() if types == STRING]
    nonempty = [item for item in profile if any(str(item[key]).strip() for key in text_keys)]
    summary.empty_items_dropped += len(profile) - len(nonempty)
    if not nonempty:
        raise DataError(
            f"all {len(profile)} profile items have only empty fields: nothing to personalise with",
            path=record.path,
            line=record.line,
            record_id=record.id,
            field="profile",
        )
    return nonempty


class _RetrievalError(DataError):
    """A retriever failed on a record (counted under its own message when records are skipped)."""


def _retrieve(
    record: RawRecord,
    spec: TaskSpec,
    retriever: Retriever,
    profile: list[dict[str, Any]],
    k: int,
    summary: BuildSummary,
) -> list[int]:
    """Indices of the top ``k`` profile items for the record's query, most relevant first."""
    query = spec.query(record.input)
    if query is None:
        summary.query_fallbacks += 1
        query = record.input
    documents = [spec.document(item) for item in profile]
    try:
        return retriever.rank(query, documents, profile, record.id)[:k]
    except (DataError, ValueError, TypeError, KeyError, IndexError) as exc:
        # Retrievers know the record, not the file: name it here.
        message = exc.message if isinstance(exc, DataError) else f"{type(exc).__name__}: {exc}"
        raise _RetrievalError(
            f"retrieval ({retriever.name}) failed: {message}",
            path=record.path,
            line=record.line,
            record_id=record.id,
            field=getattr(exc, "field", None) or "profile",
        ) from None


def _example(
    record: RawRecord,
    spec: TaskSpec,
    template_name: str,
    retriever_name: str,
    k: int,
    profile: list[dict[str, Any]],
    order: list[int],
    render_item: Any,
) -> Example:
    """The `Example` of a record: the retrieved items rendered, in rank order, as its persona."""
    return Example(
        id=record.id,
        persona=[render_item(profile[i]) for i in order],
        query=record.input,
        response=record.output,
        user_id=record.user_id,
        task=spec.name,
        template=template_name,
        meta={
            "retriever": retriever_name,
            "k": k,
            "profile_size": len(profile),
            "retrieved": [_item_id(profile[i], i) for i in order],
        },
    )


def _fit(
    example: Example, tokenizer: Any, prompt_template: Any, max_length: int | None, summary: BuildSummary
) -> tuple[int, int, int]:
    """Encode ``example`` within ``max_length`` (`prompts.encoding.fit_example`); a truncated persona is written back
    into it, recorded in its meta and counted in ``summary``. Returns the token counts of the prompt with
    and without persona and of the response."""
    from percontrast.prompts.encoding import fit_example

    encoded = fit_example(example, tokenizer, prompt_template, max_length=max_length)
    report = encoded.truncation
    if report is not None and report.truncated:
        example.persona = encoded.persona
        example.meta["truncation"] = {
            "items_dropped": report.items_dropped,
            "last_item_tokens_cut": report.last_item_tokens_cut,
        }
        summary.examples_truncated += 1
        summary.items_dropped += report.items_dropped
        summary.item_tokens_cut += report.last_item_tokens_cut
    return len(encoded.prompt_with_ids), len(encoded.prompt_without_ids), len(encoded.response_ids)


def _add_means(
    summary: BuildSummary,
    examples: list[Example],
    profile_sizes: list[int],
    lengths: list[tuple[int, int, int]],
) -> None:
    """The written count and the means over the written examples (Table 6's columns)."""
    summary.examples_written = len(examples)
    if examples:
        summary.mean_profile_items = sum(profile_sizes) / len(examples)
        summary.mean_persona_items = sum(len(e.persona) for e in examples) / len(examples)
    if lengths:
        summary.mean_prompt_tokens_with_persona = sum(x[0] for x in lengths) / len(lengths)
        summary.mean_prompt_tokens_without_persona = sum(x[1] for x in lengths) / len(lengths)
        summary.mean_response_tokens = sum(x[2] for x in lengths) / len(lengths)


def _item_id(item: dict[str, Any], index: int) -> str:
    """The item's own id where it has one, else its position in the profile."""
    return str(item["id"]) if item.get("id") is not None else f"#{index}"


def build_benchmark(config: DataConfig, tokenizer: Any = None) -> tuple[list[Example], BuildSummary]:
    """Read a LaMP or LongLaMP file and build examples: what ``percontrast data`` runs.

    Args:
        config: the benchmark, task, files, retriever and example settings (`DataConfig`).
        tokenizer: measures and truncates prompts (None: no token lengths, no truncation).
    """
    from percontrast.data.lamp import read_lamp
    from percontrast.data.longlamp import read_longlamp
    from percontrast.data.retrieval import make_retriever

    reader_skipped: dict[str, int] = {}
    if config.benchmark == "lamp":
        if config.input is None:
            raise ConfigError("LaMP needs --input (the questions file)")
        from percontrast.data.lamp import lamp_task

        spec = lamp_task(config.task)
        records, reader_skipped = read_lamp(
            config.input, config.outputs, spec, skip_unmatched=config.skip_invalid
        )
    else:
        spec, records = read_longlamp(config.task, config.input, config=config.hub_config, split=config.split)
    ranker = make_retriever(
        config.retriever,
        date_field=spec.date_field,
        seed=config.seed,
        k=config.k,
        random_with_replacement=config.random_with_replacement,
        dense_model=config.dense_model,
        device=config.device,
    )
    examples, summary = build_examples(
        records,
        spec,
        ranker,
        k=config.k,
        template=config.template,
        tokenizer=tokenizer,
        max_length=config.max_length,
        sample=config.sample,
        seed=config.seed,
        skip_invalid=config.skip_invalid,
    )
    for reason, count in reader_skipped.items():
        summary.skipped[reason] = summary.skipped.get(reason, 0) + count
    return examples, summary


def write_benchmark(
    config: DataConfig, out: str, *, model: str = "none", summary_path: str | None = None
) -> BuildSummary:
    """`build_benchmark` into files: what ``percontrast data`` runs.

    Writes the examples to ``out`` (JSONL) and the summary (counts, skipped records with reasons,
    truncation, prompt lengths) to ``summary_path`` (default ``<out>.summary.json``). Both paths are
    checked before anything is read; when no example is kept, ``out`` is left as it was and the
    reasons are written (unless an earlier ``out`` keeps its own summary) before a `DataError`.

    Args:
        config: what to build.
        out: the examples file.
        model: whose tokenizer measures and truncates (``none``: no token lengths).
        summary_path: the summary JSON (default ``<out>.summary.json``).
    """
    from pathlib import Path

    from percontrast.utils.files import atomic_write_json, check_outputs, write_jsonl

    summary_file = Path(summary_path or f"{out}.summary.json")
    check_outputs(
        inputs={"--input": config.input, "--outputs": config.outputs},
        outputs={"--out": out, "--summary": summary_file},
    )
    tokenizer = None
    if model != "none":
        from percontrast.modeling.load import load_model

        _, tokenizer = load_model(model)
    examples, summary = build_benchmark(config, tokenizer)
    record = summary.to_dict() | {"model": model, "max_length": config.max_length, "input": config.input}
    if not examples:
        # An earlier --out keeps its own summary: the two must describe the same examples.
        if Path(out).exists():
            where = f"{out} and {summary_file} are left as they were"
        else:
            atomic_write_json(summary_file, record)
            where = f"nothing written to {out}, the reasons are in {summary_file}"
        raise DataError(f"no example was kept (skipped: {summary.skipped or 'none'}); {where}")
    write_jsonl(out, examples)  # first: a failed write leaves both files as they were
    atomic_write_json(summary_file, record)
    logger.info("wrote %d examples to %s (summary: %s)", len(examples), out, summary_file)
    logger.info(
        "skipped: %s; truncated: %d examples, %d items dropped",
        summary.skipped or "none",
        summary.examples_truncated,
        summary.items_dropped,
    )
    return summary
