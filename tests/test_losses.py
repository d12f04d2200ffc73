"""The loss family of `percontrast.training.losses` against `F.cross_entropy` and hand computations."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from percontrast.training.losses import DEFAULT_MODE, LOSS_KINDS, check_clip_range, token_weights, weighted_ce
from percontrast.utils.errors import ConfigError


def random_batch(seed: int = 0, batch: int = 3, width: int = 7, vocab: int = 11):
    """Logits (B, R, V), targets (B, R), a ragged response mask (B, R) and the target log-probs."""
    generator = torch.Generator().manual_seed(seed)
    logits = torch.randn(batch, width, vocab, generator=generator) * 3
    targets = torch.randint(0, vocab, (batch, width), generator=generator)
    lengths = torch.tensor([width, width - 3, 1])[:batch]
    mask = (torch.arange(width)[None, :] < lengths[:, None]).long()
    logp = torch.log_softmax(logits, -1).gather(-1, targets[..., None]).squeeze(-1) * mask
    return logits, targets, mask, logp


def reference_ce(logits, targets, mask):
    """Plain CE over the masked tokens, by `F.cross_entropy` with ignore_index."""
    labels = targets.masked_fill(mask == 0, -100)
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=-100)


def test_ce_weights_give_cross_entropy():
    logits, targets, mask, logp = random_batch()
    weights, stats = token_weights("ce", logp_with=logp, response_mask=mask)
    torch.testing.assert_close(weighted_ce(logp, weights, mask), reference_ce(logits, targets, mask))
    assert stats["weight_mean"] == 1.0 and stats["clipped_low"] == stats["clipped_high"] == 0.0


def test_perce_with_m_equal_M_equal_1_is_exactly_ce():
    logits, targets, mask, logp = random_batch(1)
    logp_without = logp + torch.randn(logp.shape)  # any persona-free log-probs
    ce_weights, _ = token_weights("ce", logp_with=logp, response_mask=mask)
    weights, _ = token_weights(
        "perce", logp_with=logp, logp_without=logp_without, response_mask=mask, clip_min=1.0, clip_max=1.0
    )
    assert torch.equal(weights, ce_weights)
    assert torch.equal(weighted_ce(logp, weights, mask), weighted_ce(logp, ce_weights, mask))
    torch.testing.assert_close(weighted_ce(logp, weights, mask), reference_ce(logits, targets, mask))


@pytest.mark.parametrize("pir_form", ["log", "ratio"])
def test_perce_weights_by_hand(pir_form):
    logp_with = torch.tensor([[-1.0, -2.0, -0.5, -3.0], [-1.0, -1.0, 0.0, 0.0]])
    logp_without = torch.tensor([[-1.5, -1.0, -7.0, -3.0], [-2.0, -1.0, 0.0, 0.0]])
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0]])
    # log PIR: [0.5, -1, 6.5, 0], [1, 0]; ratio: exp of those.
    pir = [[0.5, -1.0, 6.5, 0.0], [1.0, 0.0]]
    if pir_form == "ratio":
        pir = [[math.exp(v) for v in row] for row in pir]
    clip = lambda v: min(max(v, 0.8), 5.0)  # noqa: E731
    expected = torch.tensor([[clip(v) for v in pir[0]], [clip(v) for v in pir[1]] + [0.0, 0.0]])
    weights, stats = token_weights(
        "perce", logp_with=logp_with, logp_without=logp_without, response_mask=mask, pir_form=pir_form
    )
    torch.testing.assert_close(weights, expected)
    flat = pir[0] + pir[1]
    assert stats["clipped_low"] == pytest.approx(sum(v <= 0.8 for v in flat) / 6)
    assert stats["clipped_high"] == pytest.approx(sum(v >= 5.0 for v in flat) / 6)
    assert stats["pir_mean"] == pytest.approx(sum(flat) / 6)
    assert stats["weight_mean"] == pytest.approx(float(expected.sum()) / 6)
    # The weighted CE, by hand: sum_i w_i * (-logp_i) / n.
    nll = [1.0, 2.0, 0.5, 3.0, 1.0, 1.0]
    by_hand = sum(w * value for w, value in zip(expected[mask.bool()].tolist(), nll, strict=True)) / 6
    assert weighted_ce(logp_with, weights, mask).item() == pytest.approx(by_hand)
    assert weighted_ce(logp_with, weights, mask, normalizer=10.0).item() == pytest.approx(by_hand * 6 / 10)


@pytest.mark.parametrize("kind", LOSS_KINDS)
def test_weights_are_detached_and_the_gradient_is_minus_w_over_n(kind):
    _, _, mask, logp = random_batch(2)
    logp_with = logp.clone().requires_grad_(True)
    logp_without = (logp + 0.3 * torch.randn(logp.shape)).requires_grad_(True)
    entropy = torch.rand(logp.shape).requires_grad_(True)
    weights, _ = token_weights(
        kind, logp_with=logp_with, logp_without=logp_without, entropy=entropy, response_mask=mask
    )
    assert not weights.requires_grad
    loss = weighted_ce(logp_with, weights, mask, normalizer=5.0)
    loss.backward()
    # d loss / d logp_i = -w_i / normalizer: no term from the weights' own dependence on logp.
    torch.testing.assert_close(logp_with.grad, -weights / 5.0 * mask)
    assert logp_without.grad is None and entropy.grad is None


def test_soft_lossce_by_hand():
    logp = torch.tensor([[-1.2, -3.0, -0.2, -0.8]])
    mask = torch.ones_like(logp, dtype=torch.long)
    nll = torch.tensor([1.2, 3.0, 0.2, 0.8])  # row mean 1.3; ratios 0.92, 2.31, 0.15, 0.62
    expected = (nll / 1.3).clamp(0.8, 5.0)[None]
    weights, stats = token_weights("lossce", logp_with=logp, response_mask=mask, mode="soft")
    torch.testing.assert_close(weights, expected)
    assert stats["clipped_low"] == pytest.approx(2 / 4)  # 0.15 and 0.62 clip to m


@pytest.mark.parametrize("kind, score_name", [("lossce", "nll"), ("entce", "entropy")])
def test_hard_mode_keeps_the_top_fraction_per_row(kind, score_name):
    scores = torch.tensor([[0.1, 0.9, 0.5, 0.7, 0.3], [2.0, 1.0, 3.0, 0.0, 0.0]])
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]])
    inputs = (
        {"logp_with": -scores}
        if score_name == "nll"
        else {"logp_with": torch.zeros_like(scores), "entropy": scores}
    )
    weights, stats = token_weights(kind, response_mask=mask, mode="hard", hard_fraction=0.4, **inputs)
    # ceil(0.4 * 5) = 2 of row 0 (0.9, 0.7), ceil(0.4 * 3) = 2 of row 1 (3.0, 2.0); weight 1 / 0.4.
    expected = torch.tensor([[0, 2.5, 0, 2.5, 0], [2.5, 0, 2.5, 0, 0]])
    torch.testing.assert_close(weights, expected)
    assert stats["clipped_high"] == pytest.approx(4 / 8)
    # A row's weights do not depend on the other rows of the batch.
    alone, _ = token_weights(
        kind, response_mask=mask[1:], mode="hard", hard_fraction=0.4, **{k: v[1:] for k, v in inputs.items()}
    )
    torch.testing.assert_close(alone, expected[1:])


def test_bad_values_name_the_allowed_ones():
    _, _, mask, logp = random_batch()
    with pytest.raises(ConfigError, match=r"loss kind must be one of \('ce', 'perce', 'lossce', 'entce'\)"):
        token_weights("focal", logp_with=logp, response_mask=mask)
    with pytest.raises(ConfigError, match="weight mode must be one of"):
        token_weights("lossce", logp_with=logp, response_mask=mask, mode="medium")
    with pytest.raises(ConfigError, match=r"clip_min \(m\) must be <= clip_max \(M\)"):
        token_weights(
            "perce", logp_with=logp, logp_without=logp, response_mask=mask, clip_min=2.0, clip_max=1.0
        )
    with pytest.raises(ConfigError, match="logp_without"):
        token_weights("perce", logp_with=logp, response_mask=mask)


@pytest.mark.parametrize(
    "m, M, message",
    [
        (0.0, 5.0, r"clip_min \(m\) must be > 0"),
        (-1.0, 5.0, r"clip_min \(m\) must be > 0"),
        (2.0, 1.0, "clip_min \\(m\\) must be <= clip_max"),
        (0.8, math.inf, "clip_max must be a finite number"),
        (math.nan, 5.0, "clip_min must be a finite number"),
        ("0.8", 5.0, "clip_min must be a finite number"),
    ],
)
def test_clip_range_is_checked_and_the_error_says_why(m, M, message):
    with pytest.raises(ConfigError, match=message):
        check_clip_range(m, M)


def test_clip_range_accepts_the_paper_values_and_m_equal_M():
    check_clip_range(0.8, 5.0)
    check_clip_range(1.0, 1.0)
    check_clip_range(1, 5)


def test_lossce_and_entce_share_the_default_mode_and_clip_of_perce():
    """The two baselines default to the same soft, clipped weighting as PerCE (see losses.py)."""
    assert DEFAULT_MODE["lossce"] == DEFAULT_MODE["entce"] == DEFAULT_MODE["perce"] == "soft"
    entropy = torch.tensor([[0.1, 2.0, 0.4, 9.5]])  # row mean 3.0
    mask = torch.ones_like(entropy, dtype=torch.long)
    weights, _ = token_weights(
        "entce", logp_with=torch.zeros_like(entropy), entropy=entropy, response_mask=mask
    )
    torch.testing.assert_close(weights, (entropy / 3.0).clamp(0.8, 5.0))


def test_per_response_normalisation_by_hand():
    """Eq. 5 read literally: mean over each response's own tokens, then over responses."""
    logp = torch.tensor([[-1.0, -2.0, -3.0, -4.0], [-0.5, -1.5, 0.0, 0.0], [-2.0, 0.0, 0.0, 0.0]])
    weights = torch.tensor([[1.0, 0.8, 5.0, 1.0], [2.0, 1.0, 0.0, 0.0], [0.8, 0.0, 0.0, 0.0]])
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0], [1, 0, 0, 0]])
    # Response means of w * NLL: (1 + 1.6 + 15 + 4) / 4 = 5.4; (1 + 1.5) / 2 = 1.25; 1.6 / 1 = 1.6.
    by_hand = (5.4 + 1.25 + 1.6) / 3
    assert weighted_ce(logp, weights, mask, per_response=True).item() == pytest.approx(by_hand)
    # With a global count of responses (e.g. 5 in the optimizer step) the sum is divided by it.
    assert weighted_ce(logp, weights, mask, per_response=True, normalizer=5).item() == pytest.approx(
        (5.4 + 1.25 + 1.6) / 5
    )
    # Token normalisation differs: (21.6 + 2.5 + 1.6) / 7.
    assert weighted_ce(logp, weights, mask).item() == pytest.approx((21.6 + 2.5 + 1.6) / 7)
    # Splitting the batch and summing the pieces (accumulation with the global count) gives the same.
    pieces = sum(
        weighted_ce(logp[rows], weights[rows], mask[rows], per_response=True, normalizer=3)
        for rows in (slice(0, 1), slice(1, 3))
    )
    assert pieces.item() == pytest.approx(by_hand)
