"""Token weights and the token-weighted cross-entropy: CE, PerCE, LossCE and EntCE.

Paper, Eqs. 5-6 (PerCE):  L = (1/n) * sum_i w_i * NLL_i(with persona),  w_i = clip(PIR_i, m, M),
with PIR from Eq. 2 computed by the model being trained, detached (m = 0.8, M = 5 in the paper).

LossCE and EntCE are the paper's baselines; it gives one sentence each (a higher weight for tokens
with a larger prediction error, after Rho-1, arXiv:2404.07965; for tokens with a higher predictive
entropy, after "Beyond the 80/20 rule", arXiv:2506.01939) and no formula. The definitions below are
ours (docs/training.md compares them with the cited works):

- score: LossCE the token's own NLL under the trained model (Rho-1 scores the *excess* loss over a
  reference model, which this setting does not have); EntCE the entropy of the predictive
  distribution at the token's position (as the 80/20 paper).
- ``soft`` (the default of both): ``w_i = clip(score_i / mean(score over the response), m, M)``,
  the same clipping and range as PerCE, so the three losses differ only in the score.
- ``hard``: weight ``1/f`` on the top ``ceil(f * n)`` tokens of each response by score, 0 on the
  rest (f = 0.6 for LossCE, our choice; 0.2 for EntCE, the 80/20 paper's). The cited works select the top share of the whole batch;
  we select per response, so a response's weights do not depend on what else is in its batch, which
  keeps gradient accumulation and data parallelism exact (invariant 5).

Everything here is a pure tensor function on (B, R) tensors laid out by response position, with a
``response_mask`` (B, R) marking real response tokens. Weights never carry gradient.
"""

from __future__ import annotations

import math
from numbers import Real
from typing import Literal

import torch

from percontrast.scoring.pir import PIR_FORMS, pir_from_logprobs
from percontrast.utils.errors import ConfigError

LOSS_KINDS = ("ce", "perce", "lossce", "entce")
WEIGHT_MODES = ("soft", "hard")
DEFAULT_MODE = {"ce": "soft", "perce": "soft", "lossce": "soft", "entce": "soft"}
# Hard mode's kept share: 20% for EntCE is the 80/20 paper's; for LossCE, Rho-1 treats its top-k% as a
# hyper-parameter and 0.6 is our choice (docs/training.md).
DEFAULT_HARD_FRACTION = {"lossce": 0.6, "entce": 0.2}
LossKind = Literal["ce", "perce", "lossce", "entce"]


def check_clip_range(clip_min: float, clip_max: float) -> None:
    """Check the clipping range [m, M] of the token weights (Eq. 6); errors say why each rule holds."""
    for name, value in (("clip_min", clip_min), ("clip_max", clip_max)):
        if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
            raise ConfigError(f"{name} must be a finite number, got {value!r}")
    if clip_min <= 0:
        # A weight of 0 or less removes a token from the loss (or trains it away from the reference):
        # the paper's m = 0.8 keeps every token in the objective with at least that weight.
        raise ConfigError(
            f"clip_min (m) must be > 0 so every response token keeps a positive weight, got {clip_min}"
        )
    if clip_min > clip_max:
        raise ConfigError(
            f"clip_min (m) must be <= clip_max (M): clip(x, m, M) is empty otherwise; got clip_min={clip_min}, "
            f"clip_max={clip_max}"
        )


def _masked_mean_per_row(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(B, R), (B, R) bool -> (B, 1) mean over each row's masked entries."""
    count = mask.sum(-1, keepdim=True).clamp(min=1)
    return (values * mask).sum(-1, keepdim=True) / count


def _row_ratio(score: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``score_i / mean_row(score)``: the soft modes' score relative to its response's mean, (B, R)."""
    return score / _masked_mean_per_row(score, mask).clamp(min=1e-12)


def _clipped(
    score: torch.Tensor, mask: torch.Tensor, low: float, high: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``clip(score, low, high)`` on masked entries (0 elsewhere), and where it hit each bound."""
    weights = torch.where(mask, score.clamp(low, high), torch.zeros_like(score))
    return weights, (score <= low) & mask, (score >= high) & mask


def top_fraction_weights(score: torch.Tensor, mask: torch.Tensor, fraction: float) -> torch.Tensor:
    """Per row, weight ``1/fraction`` on the ``ceil(fraction * n)`` highest-scoring tokens, 0 elsewhere.

    Ties are broken by position (earlier first) so the selection is deterministic.
    """
    if not 0.0 < fraction <= 1.0:
        raise ConfigError(f"hard fraction must be in (0, 1], got {fraction}")
    masked = torch.where(mask, score, torch.full_like(score, -math.inf))
    order = torch.argsort(masked, dim=-1, descending=True, stable=True)
    rank = torch.empty_like(order)
    rank.scatter_(-1, order, torch.arange(score.shape[-1], device=score.device).expand_as(order))
    keep = torch.ceil(fraction * mask.sum(-1, keepdim=True).float()).long()  # (B, 1)
    selected = (rank < keep) & mask
    return selected.float() / fraction


def token_weights(
    kind: LossKind,
    *,
    logp_with: torch.Tensor,
    response_mask: torch.Tensor,
    logp_without: torch.Tensor | None = None,
    entropy: torch.Tensor | None = None,
    clip_min: float = 0.8,
    clip_max: float = 5.0,
    pir_form: str = "log",
    mode: str | None = None,
    hard_fraction: float | None = None,
    pir: torch.Tensor | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Per-token weights for one loss kind, detached, with their statistics.

    Args:
        kind: ``ce`` (all 1), ``perce`` (clip(PIR, clip_min, clip_max)), ``lossce`` (from the token's NLL) or
            ``entce`` (from the predictive entropy).
        logp_with: (B, R) log-probs of the response tokens with persona (the trained sequence).
        response_mask: (B, R) 1 on real response tokens.
        logp_without: (B, R) log-probs without persona; needed for ``perce``.
        entropy: (B, R) predictive entropy with persona; needed for ``entce``.
        clip_min, clip_max: the clipping range, m and M of Eq. 6 (``PerCEConfig.clip_min`` / ``clip_max``).
        pir_form: ``log`` (Eq. 2) or ``ratio`` (exp of it), for ``perce``.
        mode: ``soft`` (clip of score / row mean, the default) or ``hard`` (top fraction) for
            ``lossce`` and ``entce``.
        hard_fraction: share of tokens kept in hard mode (defaults: lossce 0.6, entce 0.2).
        pir: (B, R) a precomputed log PIR (Eq. 2) for ``perce``, e.g. from the frozen starting model;
            used instead of ``logp_with - logp_without`` (``pir_form`` still applies).

    Returns:
        ``(weights, stats)``: weights (B, R) float32, 0 off the mask; stats holds ``weight_mean``,
        ``weight_std``, ``clipped_low`` and ``clipped_high`` (shares of tokens at clip_min and at clip_max; for
        hard modes the share not selected and selected), plus ``pir_mean`` for ``perce``.
    """
    if kind not in LOSS_KINDS:
        raise ConfigError(f"loss kind must be one of {LOSS_KINDS}, got {kind!r}")
    check_clip_range(clip_min, clip_max)
    mode = mode or DEFAULT_MODE[kind]
    if mode not in WEIGHT_MODES:
        raise ConfigError(f"weight mode must be one of {WEIGHT_MODES}, got {mode!r}")
    if pir_form not in PIR_FORMS:
        raise ConfigError(f"pir form must be one of {PIR_FORMS}, got {pir_form!r}")
    mask = response_mask.bool()
    stats: dict[str, float] = {}
    with torch.no_grad():
        logp_with = logp_with.detach().float()
        if kind == "ce":
            weights = mask.float()
            low_hit, high_hit = torch.zeros_like(mask), torch.zeros_like(mask)
        elif kind == "perce":
            pir = _perce_pir(logp_with, logp_without, pir, pir_form)
            weights, low_hit, high_hit = _clipped(pir, mask, clip_min, clip_max)
            stats["pir_mean"] = float(pir[mask].mean()) if mask.any() else 0.0
        else:
            score = -logp_with if kind == "lossce" else _entropy_score(entropy)
            if mode == "soft":
                weights, low_hit, high_hit = _clipped(_row_ratio(score, mask), mask, clip_min, clip_max)
            else:
                fraction = hard_fraction if hard_fraction is not None else DEFAULT_HARD_FRACTION[kind]
                weights = top_fraction_weights(score, mask, fraction)
                low_hit, high_hit = (weights == 0) & mask, (weights > 0) & mask
        stats.update(_weight_statistics(weights, mask, low_hit, high_hit))
    return weights.detach(), stats


def _perce_pir(
    logp_with: torch.Tensor, logp_without: torch.Tensor | None, pir: torch.Tensor | None, pir_form: str
) -> torch.Tensor:
    """PerCE's score: the precomputed PIR if given (frozen weights), else Eq. 2 from the two log-probs."""
    if pir is not None:
        pir = pir.detach().float()
        return pir if pir_form == "log" else torch.exp(pir)
    if logp_without is None:
        raise ConfigError("perce weights need logp_without (the persona-free forward) or a precomputed pir")
    return pir_from_logprobs(logp_with, logp_without.detach().float(), pir_form)


def _entropy_score(entropy: torch.Tensor | None) -> torch.Tensor:
    if entropy is None:
        raise ConfigError("entce weights need the predictive entropy")
    return entropy.detach().float()


def _weight_statistics(
    weights: torch.Tensor, mask: torch.Tensor, low_hit: torch.Tensor, high_hit: torch.Tensor
) -> dict[str, float]:
    """Mean and spread of the weights over real tokens, and the shares at the low and high bound."""
    count = int(mask.sum())
    if not count:
        return {"weight_mean": 0.0, "weight_std": 0.0, "clipped_low": 0.0, "clipped_high": 0.0}
    values = weights[mask]
    return {
        "weight_mean": float(values.mean()),
        "weight_std": float(values.std(unbiased=False)),
        "clipped_low": float(low_hit.sum()) / count,
        "clipped_high": float(high_hit.sum()) / count,
    }


def weighted_ce(
    logp: torch.Tensor,
    weights: torch.Tensor,
    response_mask: torch.Tensor,
    *,
    normalizer: float | torch.Tensor | None = None,
    per_response: bool = False,
) -> torch.Tensor:
    """Token-weighted cross-entropy ``sum_i w_i * NLL_i / normalizer``.

    With ``per_response`` it is Eq. 5 read literally: each response's weighted sum is first divided
    by that response's own token count ``n_b``, then the sum over responses by ``normalizer``:
    ``sum_b (sum_i w_bi * NLL_bi / n_b) / normalizer``.

    Args:
        logp: (B, R) log-probs of the response tokens (with grad).
        weights: (B, R) token weights (detached here whatever is passed).
        response_mask: (B, R) 1 on real response tokens.
        normalizer: what the weighted sum is divided by. ``None``: the local count of response
            tokens (a plain mean), or of responses with ``per_response``. Under gradient
            accumulation or data parallelism pass the global count of response tokens in the
            optimizer step (transformers' ``num_items_in_batch``), the global sum of the weights for
            the weight-normalised variant, or the global count of responses with ``per_response``.
        per_response: divide each response's sum by its own token count first (see above).

    Returns:
        A scalar loss.
    """
    mask = response_mask.bool()
    terms = (weights.detach() * -logp).masked_fill(~mask, 0.0)  # (B, R)
    if per_response:
        lengths = mask.sum(-1)  # (B,)
        total = (terms.sum(-1) / lengths.clamp(min=1)).sum()
        if normalizer is None:
            normalizer = (lengths > 0).sum().clamp(min=1)
    else:
        total = terms.sum()
        if normalizer is None:
            normalizer = mask.sum().clamp(min=1)
    return total / normalizer
