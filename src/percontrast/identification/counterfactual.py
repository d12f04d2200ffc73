"""Other readings of Eq. 2's intervention: other personas as the baseline, or one persona fact at a time.

Eq. 2's second term is ``P(y_i | x, y_<i)``: the answer's token probability when the persona is unknown.
Deleting the persona from the prompt is one way to estimate it; it also removes the *fact that there is a
persona*, so tokens that any persona-grounded answer makes likelier (first-person habits, "usually",
"love") gain PIR too. Marginalising over personas estimates the same quantity while keeping the prompt's
form fixed: with ``K`` donor personas ``p_1..p_K`` taken from other examples and a uniform prior,

    P(y_i | x, y_<i) = sum_k P(y_<=i | p_k, x) / sum_k P(y_<i | p_k, x)

(`marginal_logprobs`, ``"posterior"``: donors that explain the answer so far weigh more), or the plain
mixture ``mean_k P(y_i | p_k, x, y_<i)`` (``"mean"``). PIR is then ``log P(y_i | p, x, y_<i)`` minus
that. This is the variant "counterfactual personas" in docs/identification.md; it is not the paper's
Eq. 2 as implemented by removing the persona, and costs K more forwards per example.

**One fact at a time** (`fact_logprobs`, `per_fact_pir`): a persona is several independent facts, and an
answer usually draws on one of them. With all of them in the prompt a small model's attention to the
relevant one is diluted by the rest. Scoring the answer after each fact ``p_j`` alone,

    PIR_j(y_i) = log P(y_i | p_j, x, y_<i) - log P(y_i | x, y_<i),   PIR_facts(y_i) = max_j PIR_j(y_i),

asks whether *some* fact of the persona makes the token likelier. The persona-free term is Eq. 2's own.
It costs one forward per fact (S more per example). This is the variant "per fact" in
docs/identification.md, not the paper's Eq. 2.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Literal

import torch

from percontrast.data.schema import Example
from percontrast.prompts.encoding import encode_example
from percontrast.scoring.pir import TokenScores, pad_token_id, score_units

Pooling = Literal["posterior", "mean"]


def donor_indices(n: int, k: int) -> list[list[int]]:
    """For each of ``n`` examples, ``k`` other examples whose personas are donors (deterministic: the next k)."""
    if not 0 < k < n:
        raise ValueError(f"need 0 < k < n donors, got k={k}, n={n}")
    return [[(i + step) % n for step in range(1, k + 1)] for i in range(n)]


def marginal_logprobs(donor_logps: torch.Tensor, pooling: Pooling = "posterior") -> torch.Tensor:
    """Log-probs of each response token with the persona marginalised over donors.

    Args:
        donor_logps: (K, R) log P(y_i | p_k, x, y_<i) for K donors and R response tokens.
        pooling: ``"posterior"`` (exact Bayes marginal over the donors, uniform prior) or ``"mean"``.

    Returns:
        (R,) log-probs.
    """
    k = donor_logps.shape[0]
    if pooling == "mean":
        return torch.logsumexp(donor_logps, dim=0) - torch.log(torch.tensor(float(k)))
    cumulative = donor_logps.cumsum(dim=1)  # (K, R): log P(y_<=i | p_k)
    upto = torch.logsumexp(cumulative, dim=0)  # (R,)
    empty_prefix = torch.full((1,), float(k), dtype=upto.dtype).log()  # sum_k P(empty prefix) = K
    before = torch.cat([empty_prefix, upto[:-1]])  # (R,): log sum_k P(y_<i | p_k)
    return upto - before


def counterfactual_scores(
    model,
    tokenizer,
    examples: Sequence[Example],
    scores: Sequence[TokenScores],
    *,
    template,
    donors: int = 4,
    pooling: Pooling = "posterior",
    batch_size: int = 16,
    progress: bool = True,
) -> list[TokenScores]:
    """``scores`` with ``logp_without`` and ``pir`` replaced by the donor-marginal versions."""
    donor_ids = donor_indices(len(examples), donors)
    swapped = [
        replace(examples[i], persona=examples[j].persona, id=f"{examples[i].id}@{examples[j].id}")
        for i in range(len(examples))
        for j in donor_ids[i]
    ]
    donor_logps = logp_with_persona(model, tokenizer, swapped, template, batch_size, progress)
    out = []
    for i, score in enumerate(scores):
        logps = torch.stack(donor_logps[i * donors : (i + 1) * donors]).double()  # (K, R)
        without = marginal_logprobs(logps, pooling)
        pir = (torch.tensor(score.logp_with, dtype=torch.float64) - without).tolist()
        out.append(replace(score, logp_without=without.tolist(), pir=pir))
    return out


def fact_logprobs(
    model, tokenizer, examples: Sequence[Example], *, template, batch_size: int = 16, progress: bool = True
) -> list[torch.Tensor]:
    """Per example, (S, R) log P(y_i | p_j, x, y_<i): the answer scored after each persona fact alone."""
    singles = [
        replace(example, persona=[fact], id=f"{example.id}#fact{j}")
        for example in examples
        for j, fact in enumerate(example.persona)
    ]
    logps = logp_with_persona(model, tokenizer, singles, template, batch_size, progress, "persona facts")
    out, start = [], 0
    for example in examples:
        out.append(torch.stack(logps[start : start + len(example.persona)]).double())
        start += len(example.persona)
    return out


def per_fact_pir(fact_logps: torch.Tensor, logp_without: Sequence[float]) -> torch.Tensor:
    """(S, R) PIR_j of every response token for each fact j alone, against the persona-free log-probs."""
    return fact_logps.double() - torch.tensor(logp_without, dtype=torch.float64)


def logp_with_persona(
    model, tokenizer, examples, template, batch_size: int, progress: bool, desc: str = "donor personas"
) -> list[torch.Tensor]:
    """Per example, response log-probs (R,) after its with-persona prompt only (no persona-free pass):
    the building block of the donor and per-fact variants, which swap the persona before calling it."""
    encoded = [encode_example(example, tokenizer, template) for example in examples]
    return score_units(
        model,
        [item.prompt_with_ids for item in encoded],
        [item.response_ids for item in encoded],
        pad_token_id(tokenizer),
        max_batch_size=batch_size,
        progress=progress,
        desc=desc,
    )
