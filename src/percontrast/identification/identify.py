"""Appendix A's synthetic experiment: PerContrast, word matching and an LLM judge find personal tokens.

`run_identification` scores every answer token with PIR (one pass with and one without the persona),
runs the two baselines, and compares each method's identified tokens with the annotation
(`percontrast.identification.labels` gives the rule). The result holds pooled precision / recall / F1 per
method, the AUROC of PIR, Figure 5's per-PIR-range breakdown, and per-example details.

CLI: ``percontrast identify --model smollm2-135m-instruct --data persona_tokens.jsonl --out results.json --plot fig.png``
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from percontrast.data.schema import Example
from percontrast.identification.config import IdentifyConfig
from percontrast.identification.labels import (
    personal_words,
    token_labels,
    tokens_overlapping,
    word_level_pir,
    word_level_pir_max,
)
from percontrast.identification.metrics import (
    PRF,
    PirBin,
    auroc,
    bootstrap_prf,
    pir_breakdown,
    precision_recall_f1,
)
from percontrast.utils.errors import ConfigError, DataError
from percontrast.utils.tables import markdown_table

logger = logging.getLogger(__name__)

METHODS = ("percontrast", "word_match", "llm_judge")
# Not the paper's, so not defaults: percontrast_word (word-level PIR, `word_level_pir`); percontrast_facts and
# percontrast_facts_word (PIR of each persona fact alone, maximum over facts: `counterfactual.per_fact_pir`).
ALL_METHODS = (*METHODS, "percontrast_word", "percontrast_facts", "percontrast_facts_word")
PIR_METHODS = ("percontrast", "percontrast_word", "percontrast_facts", "percontrast_facts_word")
DEFAULT_IDENTIFY_TEMPLATE = "persona_role"


@dataclass
class IdentificationResult:
    """Everything `run_identification` measured (``to_dict()`` is ``results.json``)."""

    methods: dict[str, PRF]
    auroc: float
    auroc_word: float
    n_tokens: int
    n_personal: int
    n_examples: int
    threshold: float
    template: str
    pir_bins: list[PirBin]
    timings_s: dict[str, float]
    aurocs: dict[str, float] = field(default_factory=dict)
    intervals: dict = field(default_factory=dict)
    judge: dict | None = None
    word_match: dict | None = None
    examples: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "methods": {name: prf.to_dict() for name, prf in self.methods.items()},
            "auroc": None if math.isnan(self.auroc) else self.auroc,
            "auroc_word_level_pir": None if math.isnan(self.auroc_word) else self.auroc_word,
            "auroc_by_method": {name: None if math.isnan(v) else v for name, v in self.aurocs.items()},
            "intervals": self.intervals,
            "n_tokens": self.n_tokens,
            "n_personal": self.n_personal,
            "n_examples": self.n_examples,
            "threshold": self.threshold,
            "pir_form": "log",
            "template": self.template,
            "pir_breakdown": [item.to_dict() for item in self.pir_bins],
            "timings_s": self.timings_s,
            "llm_judge": self.judge,
            "word_match": self.word_match,
            "examples": self.examples,
        }

    def markdown_table(self) -> str:
        """Precision, recall and F1 per method (pooled over tokens, 95% interval over answers), then AUROC."""
        rows = []
        for name, prf in self.methods.items():
            ci = self.intervals.get(name, {}).get("f1")
            ci_text = f"[{ci[0]:.3f}, {ci[1]:.3f}]" if ci else "-"
            rows.append(
                [
                    name,
                    f"{prf.precision:.3f}",
                    f"{prf.recall:.3f}",
                    f"{prf.f1:.3f}",
                    ci_text,
                    prf.n_identified,
                    prf.n_correct,
                ]
            )
        header = ["method", "precision", "recall", "F1", "F1 95% CI", "identified", "correct"]
        lines = [markdown_table(header, rows, align="lrrrrrr"), ""]
        differences = [
            f"{name} [{v['f1_minus_percontrast'][0]:+.3f}, {v['f1_minus_percontrast'][1]:+.3f}]"
            for name, v in self.intervals.items()
            if isinstance(v, dict) and "f1_minus_percontrast" in v
        ]
        if differences:
            lines.append(
                f"Intervals: {self.intervals['n_bootstrap']} bootstrap resamples of the answers; each method's F1 "
                "minus PerContrast's, paired: " + ", ".join(differences) + "."
            )
        lines.append(
            f"AUROC of PIR: {self.auroc:.3f} (word-level PIR: {self.auroc_word:.3f}"
            + "".join(
                f"; {name}: {v:.3f}"
                for name, v in self.aurocs.items()
                if name.startswith("percontrast_facts")
            )
            + f"); {self.n_personal} personal of {self.n_tokens} tokens in "
            f"{self.n_examples} answers; PerContrast threshold PIR > {self.threshold:g}; template `{self.template}`."
        )
        return "\n".join(lines)

    def breakdown_table(self) -> str:
        """Figure 5 as a table: per PIR range, the tokens in it and the shares classified right and wrong."""
        header = ["PIR range", "tokens", "personal", "correct", "wrong", "share correct", "share wrong"]
        rows = []
        for item in self.pir_bins:
            row = item.to_dict()
            rows.append(
                [item.label, item.n_tokens, item.n_personal, item.n_correct, item.n_wrong]
                + [f"{row['share_correct']:.2f}", f"{row['share_wrong']:.2f}"]
            )
        return markdown_table(header, rows, align="lrrrrrr")


def _spans(example: Example) -> list[str]:
    spans = (example.meta or {}).get("personal_spans")
    if spans is None:
        raise DataError(
            "identification needs the annotated personal spans (meta.personal_spans)",
            record_id=example.id,
            field="personal_spans",
        )
    return list(spans)


def run_identification(
    model,
    tokenizer,
    examples: Sequence[Example],
    config: IdentifyConfig | None = None,
    judge=None,
    *,
    progress: bool = True,
    donor_pooling: str = "posterior",
) -> IdentificationResult:
    """Identify personal tokens three ways and score each against the annotation.

    Args:
        model: a causal LM in eval mode (it scores PIR, and is the judge when neither ``judge`` nor
            ``config.judge`` names another).
        tokenizer: its tokenizer (with a chat template for chat templates and the local judge).
        examples: persona QA examples whose ``meta["personal_spans"]`` hold the ground truth
            (`percontrast.data.persona_qa.read_persona_qa`).
        config: the settings (default: `IdentifyConfig`'s: the paper's three methods, a token is
            personal when its PIR (log form, Eq. 2) exceeds ``threshold`` 1). ``methods`` may also hold
            ``percontrast_word`` (word-level PIR) and ``percontrast_facts`` / ``percontrast_facts_word``
            (PIR of each persona fact alone, maximum over facts; one forward per fact); ``donors`` K > 0
            marginalises the persona-free term over K other examples' personas
            (`percontrast.identification.counterfactual`); ``bootstrap`` resamples the answers for 95%
            intervals (`bootstrap_prf`; 0: none); ``judge`` is the LLM judge's model (a server or a
            local model, else the model under test), reply length and temperature.
        judge: a `ChatBackend` that judges instead of the one ``config.judge`` names (a test's
            scripted backend; ``config.judge``'s reply length and temperature still apply).
        progress: show progress bars.
        donor_pooling: ``"posterior"`` or ``"mean"`` (see `marginal_logprobs`), with donors.

    Returns:
        An `IdentificationResult`. PIR (hence AUROC and the breakdown) is always computed: it defines
        the token positions every method is scored on.
    """
    from percontrast.prompts.registry import get_template

    config = config or IdentifyConfig()
    methods, donors, batch_size = config.method_list, config.donors, config.batch_size
    _check_arguments(methods, examples, config.bootstrap, donors)
    template = get_template(config.template or DEFAULT_IDENTIFY_TEMPLATE)
    timings: dict[str, float] = {}
    scores = _pir_scores(
        model, tokenizer, examples, template, donors, donor_pooling, batch_size, progress, timings
    )
    labels = _token_labels(examples, scores)
    word_pir = [word_level_pir(ex.response, s.offsets, s.pir) for ex, s in zip(examples, scores, strict=True)]
    pir_rows = {"percontrast": [s.pir for s in scores], "percontrast_word": word_pir}
    if {"percontrast_facts", "percontrast_facts_word"} & set(methods):
        pir_rows |= _fact_pir_rows(
            model, tokenizer, examples, scores, template, batch_size, progress, timings
        )
    identified: dict[str, list[list[bool]]] = {
        name: [[value > config.threshold for value in row] for row in pir_rows[name]]
        for name in PIR_METHODS
        if name in methods
    }
    word_stats, judge_stats, replies = None, None, None
    if "word_match" in methods:
        identified["word_match"], word_stats = _word_match(examples, scores, timings)
    if "llm_judge" in methods:
        identified["llm_judge"], replies, judge_stats = _llm_judge(
            model, tokenizer, examples, scores, judge, config, progress, timings
        )
    return IdentificationResult(
        **_measures(identified, labels, pir_rows, config.threshold, config.bootstrap),
        n_examples=len(examples),
        threshold=config.threshold,
        template=template.name + (f" + {donors} donor personas ({donor_pooling})" if donors else ""),
        timings_s={k: round(v, 2) for k, v in timings.items()},
        judge=judge_stats,
        word_match=word_stats,
        examples=_details(examples, scores, labels, identified, pir_rows, replies),
    )


def _measures(
    identified: dict[str, list[list[bool]]],
    labels: list[list[bool]],
    pir_rows: dict[str, list[list[float]]],
    threshold: float,
    bootstrap: int,
) -> dict:
    """Each method's pooled P / R / F1 and intervals against the annotation; AUROCs and Figure 5's bins."""
    flat_labels = [label for row in labels for label in row]
    flat_pir = [value for row in pir_rows["percontrast"] for value in row]
    return dict(
        methods={
            name: precision_recall_f1([x for row in identified[name] for x in row], flat_labels)
            for name in ALL_METHODS
            if name in identified
        },
        auroc=auroc(flat_pir, flat_labels),
        auroc_word=auroc([value for row in pir_rows["percontrast_word"] for value in row], flat_labels),
        n_tokens=len(flat_labels),
        n_personal=sum(flat_labels),
        pir_bins=pir_breakdown(flat_pir, flat_labels, threshold),
        intervals=bootstrap_prf(identified, labels, n_bootstrap=bootstrap),
        aurocs={
            name: auroc([value for row in pir_rows[name] for value in row], flat_labels)
            for name in PIR_METHODS
            if name in pir_rows and (name in identified or name == "percontrast")
        },
    )


def _token_labels(examples: Sequence[Example], scores: list) -> list[list[bool]]:
    """The annotation: per answer token, whether it overlaps an annotated personal word."""
    return [
        token_labels(ex.response, s.offsets, personal_words(ex.response, _spans(ex), record_id=ex.id))
        for ex, s in zip(examples, scores, strict=True)
    ]


def _check_arguments(
    methods: Sequence[str], examples: Sequence[Example], bootstrap: int, donors: int
) -> None:
    unknown = sorted(set(methods) - set(ALL_METHODS))
    if unknown or not methods:
        raise ConfigError(f"unknown identification methods {unknown}; choose from {list(ALL_METHODS)}")
    if not examples:
        raise DataError("no examples to identify")
    if bootstrap < 0:
        raise ConfigError(f"bootstrap must be >= 0 resamples, got {bootstrap}")
    if donors and {"percontrast_facts", "percontrast_facts_word"} & set(methods):
        raise ConfigError(
            "the per-fact methods measure against the persona-free prompt; they cannot run with donors"
        )


def _pir_scores(model, tokenizer, examples, template, donors, donor_pooling, batch_size, progress, timings):
    """PerContrast: every answer token's PIR (Eq. 2, or marginalised over ``donors`` other personas)."""
    from percontrast.scoring.config import ScoreConfig
    from percontrast.scoring.pir import score_examples

    started = time.perf_counter()
    config = ScoreConfig(template=template, batch_size=batch_size)
    scores = score_examples(model, tokenizer, examples, config, progress=progress)
    if donors:
        from percontrast.identification.counterfactual import counterfactual_scores

        scores = counterfactual_scores(
            model,
            tokenizer,
            examples,
            scores,
            template=template,
            donors=donors,
            pooling=donor_pooling,
            batch_size=batch_size,
            progress=progress,
        )
    timings["percontrast"] = time.perf_counter() - started
    return scores


def _fact_pir_rows(model, tokenizer, examples, scores, template, batch_size, progress, timings):
    """The per-fact methods: PIR of each persona fact alone, maximum over facts, per token and per word."""
    from percontrast.identification.counterfactual import fact_logprobs, per_fact_pir

    started = time.perf_counter()
    facts = fact_logprobs(
        model, tokenizer, examples, template=template, batch_size=batch_size, progress=progress
    )
    timings["percontrast_facts"] = time.perf_counter() - started
    token_rows, word_rows = [], []
    for ex, s, fact in zip(examples, scores, facts, strict=True):
        per_fact = per_fact_pir(fact, s.logp_without)  # (S, R)
        token_rows.append(per_fact.max(dim=0).values.tolist())
        word_rows.append(word_level_pir_max(ex.response, s.offsets, per_fact.tolist()))
    return {"percontrast_facts": token_rows, "percontrast_facts_word": word_rows}


def _word_match(examples, scores, timings) -> tuple[list[list[bool]], dict]:
    """The word-matching baseline: answer tokens in content words the persona shares."""
    from percontrast.identification.word_match import shared_content_words

    started = time.perf_counter()
    ranges = shared_content_words([ex.persona for ex in examples], [ex.response for ex in examples])
    timings["word_match"] = time.perf_counter() - started
    identified = [
        tokens_overlapping(ex.response, s.offsets, r)
        for ex, s, r in zip(examples, scores, ranges, strict=True)
    ]
    stats = {"tagger": "Lingua::EN::Tagger (Penn Treebank tags)", "n_matched_words": sum(map(len, ranges))}
    return identified, stats


def _llm_judge(model, tokenizer, examples, scores, judge, config: IdentifyConfig, progress, timings):
    """The LLM-judge baseline (``judge``, else the backend ``config.judge`` names, else the model under
    test with a progress bar over its replies): its keywords' tokens, its replies and its parse statistics."""
    from percontrast.identification.llm_judge import judge_keywords
    from percontrast.modeling.chat import TransformersChat, chat_backend

    if judge is None:
        judge = chat_backend(config.judge, "judge")
    if judge is None:
        bar = "LLM judge: keywords" if progress else None
        judge = TransformersChat(
            model, tokenizer, batch_size=config.batch_size, name="local model", progress=bar
        )
    started = time.perf_counter()
    ranges, replies, stats = judge_keywords(examples, judge, config.judge)
    timings["llm_judge"] = time.perf_counter() - started
    identified = [
        tokens_overlapping(ex.response, s.offsets, r)
        for ex, s, r in zip(examples, scores, ranges, strict=True)
    ]
    return identified, replies, stats.to_dict()


def _details(examples, scores, labels, identified, pir_rows, replies) -> list[dict]:
    """Per example: tokens, PIR, the annotation and what each method identified."""
    details = []
    for index, (ex, s) in enumerate(zip(examples, scores, strict=True)):
        row = {"id": ex.id, "tokens": s.tokens, "offsets": s.offsets, "pir": s.pir, "personal": labels[index]}
        if "percontrast_facts" in pir_rows:
            row["pir_facts"] = pir_rows["percontrast_facts"][index]
        row |= {f"identified_{name}": identified[name][index] for name in identified}
        if replies is not None:
            row["judge_reply"] = replies[index]
        details.append(row)
    return details
