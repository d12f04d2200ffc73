"""`evaluate_predictions`: the library call behind ``percontrast evaluate``.

Reads a predictions file, optionally checks it against the examples it was generated from (the
judge needs their queries), computes ROUGE-1 / ROUGE-L / METEOR and the judge's criteria, and
returns the metrics dict; `markdown_table` renders it. The settings are an `EvaluateConfig` (its
judge: a `JudgeConfig`). `evaluate_file` adds the path checks and the output files: what
``percontrast evaluate`` runs.

    result = evaluate_predictions("predictions.jsonl", EvaluateConfig(metrics="rouge,meteor"), data_path="test.jsonl")

Output keys: ``rouge1``, ``rougeL``, ``meteor`` (means of per-example scores, fractions),
``judge_<criterion>`` (mean 1-5), ``empty_rule`` and ``empty_rule_from`` (which benchmark's
empty-text rule applied and why, see `metrics.EMPTY_RULES`), ``n_total``, ``n`` (scored),
``n_skipped`` (dropped, reason -> count), ``n_scored_empty`` (scored 0, reason -> count),
``coverage`` (with ``--data``: references, predictions, missing ids, ``partial``), ``judge``
(details with parse-failure counts), ``bootstrap`` (if asked).
"""

from __future__ import annotations

import logging
from pathlib import Path

from percontrast.evaluation.config import EvaluateConfig
from percontrast.evaluation.metrics import EMPTY_RULES, LEXICAL_METRICS, empty_rule_of_task, lexical_metrics
from percontrast.evaluation.predictions import check_coverage, check_references_match, read_predictions
from percontrast.utils.errors import ConfigError
from percontrast.utils.tables import markdown_table as render_table

logger = logging.getLogger(__name__)

ALL_METRICS = LEXICAL_METRICS + ("rouge", "judge")


def parse_metrics(spec: str) -> list[str]:
    """``"rouge,meteor,judge"`` -> the metric names (``rouge`` means rouge1 and rougeL)."""
    names: list[str] = []
    for name in (part.strip() for part in spec.split(",") if part.strip()):
        if name not in ALL_METRICS:
            raise ConfigError(f"unknown metric {name!r}; choose from {list(ALL_METRICS)}")
        names.extend(["rouge1", "rougeL"] if name == "rouge" else [name])
    if not names:
        raise ConfigError(f"no metric named in {spec!r}; choose from {list(ALL_METRICS)}")
    return list(dict.fromkeys(names))


def resolve_empty_rule(tasks: set[str | None], benchmark: str | None) -> tuple[str, str]:
    """Which benchmark's empty-text rule applies, and why: ``(rule, reason)``.

    The examples' task decides (``LaMP_*`` -> ``lamp``, ``LongLaMP_*`` -> ``longlamp``); ``benchmark``
    may name it when the examples do not, and must agree when they do. With neither, LaMP's rule
    (score every pair) applies, and the reason says so.
    """
    if benchmark is not None and benchmark not in EMPTY_RULES:
        raise ConfigError(f"unknown benchmark {benchmark!r}; choose from {list(EMPTY_RULES)}")
    from_data = {task: empty_rule_of_task(task) for task in tasks}
    rules = {rule for rule in from_data.values() if rule is not None}
    if len(rules) > 1:
        raise ConfigError(
            f"the examples mix LaMP and LongLaMP tasks {sorted(t for t in from_data if t)}, whose "
            "evaluations treat empty predictions differently: evaluate each benchmark separately"
        )
    if rules:
        (rule,) = rules
        if benchmark is not None and benchmark != rule:
            raise ConfigError(
                f"--benchmark {benchmark} contradicts the examples' tasks {sorted(t for t in from_data if t)}"
            )
        return rule, f"examples' task {sorted(t for t, r in from_data.items() if r)}"
    if benchmark is not None:
        return benchmark, "--benchmark"
    return "lamp", "default (no LaMP/LongLaMP task known: every pair scored; name one with --benchmark)"


def evaluate_predictions(
    predictions_path: str | Path,
    config: EvaluateConfig | None = None,
    *,
    data_path: str | Path | None = None,
    judge=None,
    judge_criteria: tuple[str, ...] | None = None,
    per_example: bool = False,
) -> dict:
    """Score a predictions file; see the module docstring for the keys.

    Args:
        predictions_path: JSONL of ``{id, prediction, reference}``.
        config: the settings (default: `EvaluateConfig`'s): ``metrics`` (a comma list), ``bootstrap``
            and ``seed``, ``benchmark`` (``lamp`` or ``longlamp``, whose empty-text rule applies when the
            examples' task does not say, see `resolve_empty_rule`), ``partial`` (with ``data_path``,
            allow examples without a prediction: ``coverage.partial``), ``rouge_tokenizer`` and
            ``judge`` (the `JudgeConfig` of the metric ``judge``).
        data_path: the examples the predictions came from (ids checked; the judge reads their queries).
        judge: a `Judge` to use instead of building ``config.judge``'s (the experiment's, loaded once).
        judge_criteria: Table 10's criteria to judge (default: both).
        per_example: also return ``"per_example": {"ids": [...], metric: [score per id]}`` for the lexical
            metrics, over the pairs scored (the empty-text rule's drops left out), for paired comparisons.
    """
    config = config or EvaluateConfig()
    metrics = parse_metrics(config.metrics)
    partial = config.partial
    predictions = read_predictions(predictions_path)
    queries = None
    coverage = None
    tasks: set[str | None] = set()
    if data_path is not None:
        from percontrast.data.sources import read_examples

        examples = {example.id: example for example in read_examples(data_path)}
        coverage = check_coverage(predictions, list(examples), predictions_path, data_path, partial=partial)
        check_references_match(predictions, examples, predictions_path, data_path)
        queries = [examples[p.id].query for p in predictions]
        tasks = {examples[p.id].task for p in predictions}
    elif partial:
        raise ConfigError("--partial needs --data, the examples file that defines the whole reference set")
    rule, rule_from = resolve_empty_rule(tasks, config.benchmark)
    lexical = [m for m in metrics if m in LEXICAL_METRICS]
    result = lexical_metrics(
        [p.prediction for p in predictions],
        [p.reference for p in predictions],
        lexical,
        rule=rule,
        bootstrap=config.bootstrap,
        seed=config.seed,
        rouge_tokenizer=config.rouge_tokenizer,
    )
    result["empty_rule_from"] = rule_from
    if coverage is not None:
        result["coverage"] = coverage.to_dict()
    kept = result.pop("kept")
    scores = result.pop("per_example")
    if per_example:
        result["per_example"] = {"ids": [predictions[i].id for i in kept], **scores}
    if "judge" in metrics:
        if queries is None:
            raise ConfigError(
                "metric 'judge' needs --data, the examples file with the task inputs the judge reads"
            )
        result |= _judge_metrics(
            config, judge, judge_criteria, [queries[i] for i in kept], [predictions[i] for i in kept]
        )
    return result


def _judge_metrics(
    config: EvaluateConfig, judge, criteria: tuple[str, ...] | None, queries: list, kept: list
) -> dict:
    """The judge's rows of `evaluate_predictions`: ``judge_<criterion>`` means and the ``judge`` details, over
    the scored pairs ``kept`` and their ``queries``."""
    from percontrast.evaluation.judge import JUDGE_CRITERIA, judge_from_config, judge_predictions

    judge = judge or judge_from_config(config.judge)
    details = judge_predictions(
        judge,
        queries,
        [pair.prediction.strip() for pair in kept],
        [pair.reference.strip() for pair in kept],
        criteria or JUDGE_CRITERIA,
    )
    result = {f"judge_{criterion}": values["mean"] for criterion, values in details.items()}
    result["judge"] = {
        "backend": judge.backend.name,
        "mode": judge.mode,
        "n_samples": judge.n_samples,
    } | {criterion: {k: v for k, v in values.items()} for criterion, values in details.items()}
    return result


def markdown_table(result: dict) -> str:
    """A one-row markdown table of the headline numbers (ROUGE/METEOR x 100, judge 1-5)."""
    columns, values = [], []
    for key in ("rouge1", "rougeL", "meteor"):
        if key in result and result[key] is not None:
            columns.append({"rouge1": "ROUGE-1", "rougeL": "ROUGE-L", "meteor": "METEOR"}[key])
            values.append(f"{100 * result[key]:.2f}")
    for key, value in result.items():
        if key.startswith("judge_"):
            columns.append(f"judge {key[6:]}")
            values.append("n/a" if value is None else f"{value:.3f}")
            counts = result["judge"][key[6:]]
            if counts["n_unparsed"]:
                values[-1] += f" ({counts['n_unparsed']} unparsed)"
            if counts.get("n_reasoning_replies"):
                values[-1] += f" ({counts['n_reasoning_replies']} replies held a reasoning block)"
    columns += ["n", "dropped", "scored 0 (empty)", "empty rule"]
    dropped = ", ".join(f"{k}: {v}" for k, v in result["n_skipped"].items()) or "0"
    scored_empty = ", ".join(f"{k}: {v}" for k, v in result.get("n_scored_empty", {}).items()) or "0"
    values += [str(result["n"]), dropped, scored_empty, str(result.get("empty_rule", "-"))]
    table = render_table(columns, [values]) + "\n"
    coverage = result.get("coverage")
    if coverage and coverage["partial"]:
        table = (
            f"**PARTIAL evaluation**: {coverage['n_predictions']} of {coverage['n_references']} examples "
            f"predicted ({coverage['n_missing']} missing)\n\n" + table
        )
    return table


def evaluate_file(
    config: EvaluateConfig,
    predictions: str,
    *,
    data: str | None = None,
    out: str | None = None,
) -> tuple[dict, str]:
    """`evaluate_predictions` with its outputs: what ``percontrast evaluate`` runs.

    Checks the paths and the metric names first (the judge of ``config.judge`` is built only when
    the metrics ask for it); with ``out``, writes the metrics JSON and the markdown table beside it.

    Returns:
        The metrics (as `evaluate_predictions`) and their markdown table.
    """
    from percontrast.utils.files import atomic_write_json, atomic_write_text, check_outputs, sibling

    table_path = sibling(out, ".md") if out else None
    check_outputs(
        inputs={"--predictions": predictions, "--data": data},
        outputs={"--out": out, "the markdown table beside --out": table_path},
    )
    judge = None
    if "judge" in parse_metrics(config.metrics):  # built (a bad url refused) before anything is read
        from percontrast.evaluation.judge import judge_from_config

        judge = judge_from_config(config.judge)
    result = evaluate_predictions(predictions, config, data_path=data, judge=judge)
    table = markdown_table(result)
    if out:
        atomic_write_json(out, result)
        atomic_write_text(table_path, table)
        logger.info("wrote %s and %s", out, table_path)
    return result, table
