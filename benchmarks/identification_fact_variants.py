"""Per-fact readings of "remove the persona" on the bundled dev set, with paired intervals and a split-half check.

A persona is several facts; these variants ask which of them a token's likelihood depends on, instead of
removing all of them at once (Eq. 2). With ``f`` the log-probs after the full persona, ``w`` after none,
``s_j`` after fact j alone and ``l_j`` after all facts but j (per response token):

- ``full`` (the paper's): ``f - w``
- ``facts max`` (`percontrast_facts`): ``max_j (s_j - w)``
- ``facts mixture``: ``log mean_j exp(s_j) - w``; ``facts posterior``: the Bayes marginal over facts
  (`marginal_logprobs`) minus ``w``
- ``max(full, facts max)``
- ``leave-one-out max``: ``max_j (f - l_j)``; ``leave-one-out sum``: ``sum_j (f - l_j)``;
  ``leave-one-out, best fact``: ``f - l_j*`` with j* the fact whose removal costs the whole answer most
- ``oracle fact`` (a diagnostic, not a method: it reads the annotation's ``persona_fact_index``):
  ``max over the annotated facts of (s_j - w)``

Word level: for the max-over-candidates variants, each candidate's log-ratio summed over a word's tokens and
then the maximum (as `percontrast_facts_word`); for the others, `word_level_pir` of the token values.
Threshold 1 throughout (the paper's). Docs: docs/identification.md, "Every variant tried".

    PYTHONPATH=src python benchmarks/identification_fact_variants.py [--template persona_role] [--bootstrap 1000]
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace

import torch

from percontrast.data.persona_qa import read_persona_qa
from percontrast.identification.counterfactual import fact_logprobs, logp_with_persona, marginal_logprobs
from percontrast.identification.labels import personal_words, token_labels, word_level_pir, word_level_pir_max
from percontrast.identification.metrics import auroc, bootstrap_prf, precision_recall_f1
from percontrast.modeling.load import load_model
from percontrast.prompts.registry import get_template
from percontrast.scoring.config import ScoreConfig
from percontrast.scoring.pir import score_examples
from percontrast.utils.bundled import PERSONA_TOKENS_DEV


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--template", default="persona_role")
    parser.add_argument("--bootstrap", type=int, default=1000)
    args = parser.parse_args()
    model, tokenizer = load_model(args.model)
    template = get_template(args.template)
    examples = read_persona_qa()
    oracle = [json.loads(line)["persona_fact_index"] for line in PERSONA_TOKENS_DEV.read_text().splitlines()]
    started = time.perf_counter()
    scores = score_examples(model, tokenizer, examples, ScoreConfig(template=template), progress=False)
    singles = fact_logprobs(model, tokenizer, examples, template=template, progress=False)
    without_one = [
        replace(ex, persona=[p for k, p in enumerate(ex.persona) if k != j], id=f"{ex.id}-{j}")
        for ex in examples
        for j in range(len(ex.persona))
    ]
    flat_loo = logp_with_persona(model, tokenizer, without_one, template, 16, False, "leave one out")
    seconds = time.perf_counter() - started

    rows = {
        key: ([], []) for key in ("full", "fmax", "fmix", "fpost", "both", "lmax", "lsum", "lbest", "oracle")
    }
    labels, start = [], 0
    for i, (ex, s) in enumerate(zip(examples, scores, strict=True)):
        n_facts = len(ex.persona)
        f = torch.tensor(s.logp_with, dtype=torch.float64)
        w = torch.tensor(s.logp_without, dtype=torch.float64)
        single = singles[i]  # (S, R)
        loo = torch.stack(flat_loo[start : start + n_facts]).double()
        start += n_facts
        labels.append(
            token_labels(ex.response, s.offsets, personal_words(ex.response, ex.meta["personal_spans"]))
        )

        def words(
            values: torch.Tensor, response: str = ex.response, offsets: list = s.offsets
        ) -> list[float]:
            return word_level_pir(response, offsets, values.tolist())

        def words_max(
            candidates: torch.Tensor, response: str = ex.response, offsets: list = s.offsets
        ) -> list[float]:
            return word_level_pir_max(response, offsets, candidates.tolist())

        per_fact, removed = single - w, f - loo  # (S, R) each
        best = int((f.sum() - loo.sum(dim=1)).argmax())
        values = {
            "full": ((f - w).tolist(), words(f - w)),
            "fmax": (per_fact.max(dim=0).values.tolist(), words_max(per_fact)),
            "fmix": ((marginal_logprobs(single, "mean") - w).tolist(), None),
            "fpost": ((marginal_logprobs(single) - w).tolist(), None),
            "both": (
                torch.maximum(f - w, per_fact.max(dim=0).values).tolist(),
                words_max(torch.cat([(f - w)[None], per_fact])),
            ),
            "lmax": (removed.max(dim=0).values.tolist(), words_max(removed)),
            "lsum": (removed.sum(dim=0).tolist(), None),
            "lbest": (removed[best].tolist(), words(removed[best])),
            "oracle": (per_fact[oracle[i]].max(dim=0).values.tolist(), words_max(per_fact[oracle[i]])),
        }
        for key, (token_values, word_values) in values.items():
            rows[key][0].append(token_values)
            rows[key][1].append(word_values if word_values is not None else words(torch.tensor(token_values)))
    names = {
        "full": "full persona (the paper's Eq. 2)",
        "fmax": "facts max (percontrast_facts)",
        "fmix": "facts mixture",
        "fpost": "facts posterior",
        "both": "max(full, facts max)",
        "lmax": "leave-one-out max",
        "lsum": "leave-one-out sum",
        "lbest": "leave-one-out, best fact",
        "oracle": "oracle fact (diagnostic)",
    }
    variants = {names[key]: value for key, value in rows.items()}  # name -> (token PIR rows, word PIR rows)

    flat_labels = [x for row in labels for x in row]
    identified = {}
    for name, (token_rows, word_rows) in variants.items():
        identified[name] = [[v > 1.0 for v in row] for row in token_rows]
        identified[name + " [word]"] = [[v > 1.0 for v in row] for row in word_rows]
    intervals = bootstrap_prf(identified, labels, n_bootstrap=args.bootstrap, baseline=names["full"])
    word_intervals = bootstrap_prf(
        {k: v for k, v in identified.items() if k.endswith("[word]")},
        labels,
        n_bootstrap=args.bootstrap,
        baseline=names["full"] + " [word]",
    )
    print(
        f"template {args.template}; forwards {seconds:.0f} s; {len(flat_labels)} tokens, {sum(flat_labels)} personal"
    )
    print("| variant | unit | P | R | F1 | F1 95% CI | F1 minus full (paired) | AUROC | F1 half A / half B |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---|")
    for name, (token_rows, word_rows) in variants.items():
        for unit, key, values, spread in (
            ("token", name, token_rows, intervals),
            ("word", name + " [word]", word_rows, word_intervals),
        ):
            prf = precision_recall_f1([x for row in identified[key] for x in row], flat_labels)
            area = auroc([v for row in values for v in row], flat_labels)
            halves = []
            for half in (0, 1):
                picked = [i for i in range(len(labels)) if i % 2 == half]
                halves.append(
                    precision_recall_f1(
                        [x for i in picked for x in identified[key][i]],
                        [x for i in picked for x in labels[i]],
                    ).f1
                )
            ci = spread[key]["f1"]
            diff = next((v for k, v in spread[key].items() if k.startswith("f1_minus")), None)
            diff_text = f"[{diff[0]:+.3f}, {diff[1]:+.3f}]" if diff else "-"
            print(
                f"| {name} | {unit} | {prf.precision:.3f} | {prf.recall:.3f} | {prf.f1:.3f} | "
                f"[{ci[0]:.3f}, {ci[1]:.3f}] | {diff_text} | {area:.3f} | {halves[0]:.3f} / {halves[1]:.3f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
