"""Likelihood by token group: which reference tokens a fine-tuned model learned (issue 21, section 1).

Whole-response NLL cannot tell CE from PerCE; PerCE's claim is about *which* tokens a model learns. Here
every reference token of a fixed set of examples is put in groups, the same groups for every compared
model, and each model's NLL per token and mean PIR are reported per group:

- ``annotated`` / ``not_annotated``: tokens inside (or not) an annotated personal word, where the data has
  ``meta.personal_spans`` (the bundled persona QA set), with `identify`'s rule
  (`percontrast.identification.labels.token_labels`);
- ``reference_personal`` / ``reference_rest``: tokens whose PIR under one *reference* model (by default
  the untrained base model) exceeds a threshold (default 1), or not. The reference is scored once, so
  the groups do not depend on the compared model;
- ``all``: every token; its NLL is the whole-response NLL the demo reports (pooled: sum / count).

A model's figure for a group is pooled over tokens (sum of NLL over the group's tokens / their count),
averaged over seeds when a model has several. Differences between models and their 95% intervals come
from `percontrast.analysis.bootstrap.summarize`: a paired bootstrap over the examples (and the seeds).

CLI: ``percontrast groups --model base=smollm2-135m-instruct --model ce=runs/ce --data test.jsonl --out groups.json --plot groups.png``
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from percontrast.analysis.bootstrap import Evaluation, GroupSums, TokenGroups, summarize
from percontrast.analysis.config import DEFAULT_THRESHOLD, GroupsConfig
from percontrast.data.schema import Example
from percontrast.identification.labels import personal_words, token_labels
from percontrast.scoring.pir import TokenScores
from percontrast.utils.errors import ConfigError, DataError
from percontrast.utils.tables import markdown_table as render_table

logger = logging.getLogger(__name__)


def annotated_masks(examples: Sequence[Example], scores: Sequence[TokenScores]) -> list[list[bool]] | None:
    """Per example, per token: inside an annotated personal word (`identify`'s rule); None when no example
    has ``meta.personal_spans``.

    Raises:
        DataError: some examples have spans and others do not (the groups would mix annotated and not).
    """
    has = [(example.meta or {}).get("personal_spans") is not None for example in examples]
    if not any(has):
        return None
    if not all(has):
        missing = [example.id for example, flag in zip(examples, has, strict=True) if not flag]
        raise DataError(
            f"{len(missing)} of {len(examples)} examples lack meta.personal_spans (e.g. {missing[:5]}); "
            "annotate all of them or none"
        )
    masks = []
    for example, item in zip(examples, scores, strict=True):
        personal = personal_words(item.response, example.meta["personal_spans"], record_id=example.id)
        masks.append(token_labels(item.response, item.offsets, personal))
    return masks


def make_groups(
    examples: Sequence[Example],
    reference_scores: Sequence[TokenScores],
    *,
    reference: str,
    threshold: float = DEFAULT_THRESHOLD,
) -> TokenGroups:
    """The token groups of ``examples``, from the reference model's scores of them (same order, same ids)."""
    if [item.id for item in reference_scores] != [example.id for example in examples]:
        raise DataError("the reference scores do not cover the examples in order (was an example skipped?)")
    if not math.isfinite(threshold):
        raise ConfigError(f"threshold must be a finite number, got {threshold!r}")
    masks: dict[str, list[list[bool]]] = {}
    annotated = annotated_masks(examples, reference_scores)
    if annotated is not None:
        masks["annotated"] = annotated
        masks["not_annotated"] = [[not flag for flag in row] for row in annotated]
    masks["reference_personal"] = [[value > threshold for value in item.pir] for item in reference_scores]
    masks["reference_rest"] = [[not flag for flag in row] for row in masks["reference_personal"]]
    masks["all"] = [[True] * len(item.pir) for item in reference_scores]
    return TokenGroups(
        ids=[item.id for item in reference_scores],
        token_ids=[list(item.token_ids) for item in reference_scores],
        masks=masks,
        reference=reference,
        threshold=threshold,
    )


def group_sums(groups: TokenGroups, scores: Sequence[TokenScores], model: str = "model") -> GroupSums:
    """Sum one model's token NLL and PIR over every group of every example.

    Raises:
        DataError: the model's scores are not of the same examples and token ids as the groups (another
            tokenizer, or an example skipped), so the groups would not be the same tokens.
    """
    if [item.id for item in scores] != groups.ids:
        raise DataError(f"model {model!r} was not scored on the same examples as the reference")
    for item, token_ids in zip(scores, groups.token_ids, strict=True):
        if list(item.token_ids) != token_ids:
            raise DataError(
                f"model {model!r} tokenises the response differently from the reference "
                "(compare models that share a tokenizer)",
                record_id=item.id,
            )
    result = GroupSums({}, {}, {})
    for group in groups.names:
        nll, pir, count = [], [], []
        for item, mask in zip(scores, groups.masks[group], strict=True):
            chosen = np.asarray(mask, dtype=bool)
            nll.append(-np.asarray(item.logp_with, dtype=np.float64)[chosen].sum())
            pir.append(np.asarray(item.pir, dtype=np.float64)[chosen].sum())
            count.append(float(chosen.sum()))
        result.nll_sum[group], result.pir_sum[group] = np.array(nll), np.array(pir)
        result.n_tokens[group] = np.array(count)
    return result


def summarize_groups(
    groups: TokenGroups,
    sums: Mapping[str, Sequence[GroupSums]],
    *,
    baseline: str | None = None,
    n_bootstrap: int = 1000,
    seed: int = 0,
) -> dict:
    """Per group: each model's NLL and PIR (mean over seeds, 95% interval) and its difference from
    ``baseline``, with paired bootstrap intervals over examples (and seeds), via `intervals.summarize`.

    Args:
        groups: the token groups.
        sums: model name -> one `GroupSums` per seed (one entry: a single model, e.g. the base).
        baseline: the model differences are taken from (default: the first).
        n_bootstrap: resamples (0: no intervals).
        seed: the bootstrap's seed (the same draws for every group, so groups are comparable).

    Returns:
        ``{"groups": {group: {"n_tokens", "models": {name: {"nll", "pir"}}, "differences": {...}}},
        "reference", "threshold", "baseline", "method", "models"}`` where each figure is
        ``{"mean", "ci", "per_seed"}`` as in `intervals.summarize`.
    """

    names = list(sums)
    baseline = baseline or names[0]
    if baseline not in sums:
        raise DataError(f"baseline {baseline!r} is not one of the models {names}")
    result: dict = {"groups": {}}
    method = ""
    for group in groups.names:
        evaluations = {
            name: [
                Evaluation(
                    nll_sum=item.nll_sum[group],
                    pir_sum=item.pir_sum[group],
                    n_tokens=item.n_tokens[group],
                    rougeL=np.zeros(0),
                    meteor=None,
                    predictions=[],
                )
                for item in items
            ]
            for name, items in sums.items()
        }
        with np.errstate(invalid="ignore", divide="ignore"):
            summary = summarize(evaluations, n_bootstrap=n_bootstrap, seed=seed, baseline=baseline)
        method = summary["method"]
        keep = ("nll", "pir")
        result["groups"][group] = {
            "n_tokens": int(sum(map(sum, groups.masks[group]))),
            "models": {name: {k: summary["models"][name][k] for k in keep} for name in names},
            "differences": {
                name: {k: summary["differences"][name][k] for k in keep} for name in summary["differences"]
            },
        }
    result.update(
        models=names,
        baseline=baseline,
        reference=groups.reference,
        threshold=groups.threshold,
        n_examples=len(groups.ids),
        method=method,
    )
    return result


def markdown_table(summary: Mapping) -> str:
    """One row per group and model: tokens, NLL/token and PIR with intervals, and the NLL difference from
    the baseline with its interval."""

    def fmt(cell: Mapping | None, signed: bool = False) -> str:
        if not cell or cell.get("mean") is None:
            return "n/a"
        spec = "+.3f" if signed else ".3f"
        text = format(cell["mean"], spec)
        if cell.get("ci"):
            low, high = cell["ci"]
            text += f" [{format(low, spec)}, {format(high, spec)}]"
        return text

    baseline = summary["baseline"]
    rows = []
    for group, entry in summary["groups"].items():
        for name in summary["models"]:
            figures = entry["models"][name]
            difference = entry["differences"].get(name, {}).get("nll")
            rows.append(
                [group, entry["n_tokens"], name, fmt(figures["nll"]), fmt(figures["pir"], signed=True)]
                + ["-" if name == baseline else fmt(difference, True)]
            )
    header = ["group", "tokens", "model", "NLL / token", "mean PIR", f"NLL - {baseline}"]
    return render_table(header, rows, align="lrlrrr")


def groups_png(summary: Mapping) -> bytes:
    """One column per group: each model's NLL per token with its 95% interval (top) and, when there is a
    baseline, each other model's paired difference from it with its interval and a line at 0 (bottom):
    the comparison the bars' scale hides."""
    from percontrast.utils.plots import _to_png, pyplot

    plt = pyplot()
    group_names = list(summary["groups"])
    models = summary["models"]
    baseline = summary.get("baseline")
    others = [name for name in models if name != baseline] if baseline in models else []
    rows = 2 if others else 1
    fig, axes = plt.subplots(
        rows, len(group_names), figsize=(2.6 * len(group_names) + 1, 3.4 * rows), squeeze=False
    )

    def span(cell: Mapping) -> tuple[float, float, float]:
        mean = cell["mean"] if cell and cell["mean"] is not None else float("nan")
        low, high = (cell["ci"] if cell else None) or (mean, mean)
        return mean, max(mean - low, 0.0), max(high - mean, 0.0)

    for column, group in enumerate(group_names):
        entry = summary["groups"][group]
        top = axes[0][column]
        means, below, above = zip(*(span(entry["models"][name]["nll"]) for name in models), strict=True)
        top.bar(range(len(models)), means, yerr=[below, above], capsize=3, color="#1f77b4")
        top.set_xticks(range(len(models)), models, rotation=30, ha="right", fontsize=8)
        top.set_title(f"{group}\n({entry['n_tokens']} tokens)", fontsize=9)
        if others:
            bottom = axes[1][column]
            points = [span(entry["differences"].get(name, {}).get("nll")) for name in others]
            means, below, above = zip(*points, strict=True)
            bottom.errorbar(
                range(len(others)), means, yerr=[below, above], fmt="o", capsize=3, color="#d62728"
            )
            bottom.axhline(0, color="grey", linewidth=0.8)
            bottom.set_xticks(range(len(others)), others, rotation=30, ha="right", fontsize=8)
            bottom.set_xlim(-0.6, len(others) - 0.4)
    axes[0][0].set_ylabel("NLL per token")
    if others:
        axes[1][0].set_ylabel(f"NLL minus {baseline}")
    fig.suptitle(
        f"NLL by token group (reference {summary['reference']}, PIR > {summary['threshold']:g}; "
        "95% intervals)",
        fontsize=9,
    )
    fig.tight_layout()
    return _to_png(fig)


def measure_groups(
    models: Sequence[tuple[str, str]],
    examples: Sequence[Example],
    *,
    reference: str | None = None,
    threshold: float = DEFAULT_THRESHOLD,
    template: str | None = None,
    max_length: int | None = None,
    batch_size: int = 16,
    dtype: str | None = None,
    device: str | None = None,
    progress: bool = True,
) -> tuple[TokenGroups, dict[str, list[GroupSums]]]:
    """Load and score each model on ``examples`` (one at a time), and sum its NLL and PIR by group.

    Args:
        models: ``(name, model)`` pairs, ``model`` an alias or a directory; a name given several times is one
            model trained with several seeds.
        examples: the evaluation examples (with ``meta.personal_spans`` for the annotated groups).
        reference: the model whose PIR defines the ``reference_*`` groups: one of the names, or an alias
            or directory (default: the first model, which should be the untrained base).
        threshold: a token is ``reference_personal`` when its reference PIR is > threshold.
        template, max_length, batch_size: as in `percontrast.scoring.pir.score_examples`.
        dtype, device: as in `percontrast.modeling.load.load_model`.
    """
    from percontrast.modeling.load import load_model
    from percontrast.scoring.config import ScoreConfig
    from percontrast.scoring.pir import score_examples

    if not models:
        raise DataError("give at least one model")

    def score(path: str) -> list[TokenScores]:
        model, tokenizer = load_model(path, dtype=dtype, device=device)
        model.eval()
        config = ScoreConfig(template=template, max_length=max_length, batch_size=batch_size)
        return score_examples(model, tokenizer, examples, config, progress=progress)

    reference = reference or models[0][0]
    named = [path for name, path in models if name == reference]
    if len(named) > 1:
        raise DataError(
            f"the reference must be one model; {reference!r} names {len(named)} (seeds): pick one path"
        )
    # A reference that is one compared model (trained with one seed) is scored once and reused.
    reference_scores = score(named[0] if len(named) == 1 else reference)
    groups = make_groups(examples, reference_scores, reference=reference, threshold=threshold)
    sums: dict[str, list[GroupSums]] = {}
    for name, path in models:
        scores = reference_scores if len(named) == 1 and name == reference else score(path)
        sums.setdefault(name, []).append(group_sums(groups, scores, model=name))
    return groups, sums


def groups_file(
    config: GroupsConfig,
    models: Sequence[tuple[str, str]],
    read_data: Callable[[str], Sequence[Example]],
    data: str,
    out: str,
    *,
    plot: str | None = None,
    dtype: str | None = None,
    device: str | None = None,
) -> dict:
    """``percontrast groups``: measure ``models`` on the examples of ``data`` by token group, print the
    table, write the JSON summary to ``out`` (and a PNG to ``plot``); returns the summary."""
    from pathlib import Path

    from percontrast.utils.files import atomic_write_json, check_outputs
    from percontrast.utils.plots import check_image_name

    check_image_name("--plot", plot, formats=("png",))  # groups_png writes PNG bytes
    check_outputs(inputs={"--data": data}, outputs={"--out": out, "--plot": plot})
    groups, sums = measure_groups(
        models,
        read_data(data),
        reference=config.reference,
        threshold=config.threshold,
        template=config.template,
        max_length=config.max_length,
        batch_size=config.batch_size,
        dtype=dtype,
        device=device,
    )
    summary = summarize_groups(groups, sums, baseline=config.baseline, n_bootstrap=config.bootstrap)
    summary.update(
        data=str(data), model_paths=[list(pair) for pair in models], template=config.template,
        max_length=config.max_length,
    )  # fmt: skip
    table = markdown_table(summary)
    print(table)
    atomic_write_json(out, summary | {"table": table})
    logger.info("wrote %s", out)
    if plot:
        Path(plot).write_bytes(groups_png(summary))
        logger.info("wrote %s", plot)
    return summary
