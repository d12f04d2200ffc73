"""Token labels, P/R/F1, AUROC and Figure 5's bins against hand computations and independent references."""

from __future__ import annotations

import itertools
import math
import random

import pytest

from percontrast.identification.labels import (
    personal_words,
    token_core,
    token_labels,
    tokens_overlapping,
    words,
)
from percontrast.identification.metrics import auroc, pir_breakdown, precision_recall_f1
from percontrast.utils.errors import DataError

RESPONSE = "I usually spend Saturdays behind the camera while couples say their vows."
# SmolLM2's tokenization of RESPONSE (offsets include each token's leading space).
OFFSETS = [(0, 1), (1, 9), (9, 15), (15, 17), (17, 21), (21, 25), (25, 32), (32, 36), (36, 43), (43, 49),
           (49, 57), (57, 61), (61, 67), (67, 72), (72, 73)]  # fmt: skip


def test_words_and_personal_words() -> None:
    text = "I'm an Indian-American photographer, don't ask."
    assert [text[s:e] for s, e in words(text)] == [
        "I'm",
        "an",
        "Indian-American",
        "photographer",
        "don't",
        "ask",
    ]
    found = personal_words(RESPONSE, ["behind the camera", "vows"])
    assert [RESPONSE[s:e] for s, e in found] == ["behind", "the", "camera", "vows"]
    with pytest.raises(DataError, match="not in the response"):
        personal_words(RESPONSE, ["tripod"])


def test_token_labels_by_hand() -> None:
    """'Saturdays' split into ' S' 'atur' 'days': all three inside the word; '.' after 'vows' is not."""
    assert token_core(RESPONSE, (36, 43)) == (37, 43)
    labels = token_labels(RESPONSE, OFFSETS, personal_words(RESPONSE, ["Saturdays", "vows"]))
    tokens = [RESPONSE[s:e] for s, e in OFFSETS]
    assert [t for t, label in zip(tokens, labels, strict=True) if label] == [" S", "atur", "days", " vows"]
    # A token that runs across a word boundary is never inside one word.
    assert token_labels("ab cd", [(0, 4)], [(0, 2)]) == [False]
    assert token_labels("ab  ", [(2, 4)], [(0, 2)]) == [False]  # whitespace only


def test_tokens_overlapping() -> None:
    flags = tokens_overlapping(RESPONSE, OFFSETS, [(16, 25)])  # "aturdays" from the middle of the word
    assert [RESPONSE[s:e] for (s, e), f in zip(OFFSETS, flags, strict=True) if f] == [" S", "atur", "days"]
    # The leading space of " camera" (offset 36) is not part of its core: a range ending at 37 misses it.
    assert tokens_overlapping(RESPONSE, [(36, 43)], [(30, 37)]) == [False]


def test_precision_recall_f1_by_hand() -> None:
    identified = [True, True, True, False, False, True]
    personal = [True, False, True, True, False, False]
    prf = precision_recall_f1(identified, personal)
    assert (prf.n_identified, prf.n_correct, prf.n_personal) == (4, 2, 3)
    assert prf.precision == pytest.approx(0.5)
    assert prf.recall == pytest.approx(2 / 3)
    assert prf.f1 == pytest.approx(2 * 0.5 * (2 / 3) / (0.5 + 2 / 3))
    empty = precision_recall_f1([False, False], [True, False])
    assert (empty.precision, empty.recall, empty.f1) == (0.0, 0.0, 0.0)


def _auroc_pairs(scores, labels) -> float:
    """Brute force: the share of (positive, negative) pairs ranked right, ties one half."""
    pos = [s for s, y in zip(scores, labels, strict=True) if y]
    neg = [s for s, y in zip(scores, labels, strict=True) if not y]
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p, n in itertools.product(pos, neg))
    return wins / (len(pos) * len(neg))


@pytest.mark.needs("sklearn")
@pytest.mark.parametrize("seed", range(5))
def test_auroc_equals_pair_counting_and_sklearn(seed: int) -> None:
    rng = random.Random(seed)
    scores = [round(rng.gauss(0, 1), 1) for _ in range(60)]  # rounded: many ties
    labels = [rng.random() < 0.3 + 0.1 * (s > 0) for s in scores]
    assert auroc(scores, labels) == pytest.approx(_auroc_pairs(scores, labels), abs=1e-12)
    from sklearn import metrics as sklearn_metrics

    assert auroc(scores, labels) == pytest.approx(sklearn_metrics.roc_auc_score(labels, scores), abs=1e-12)


def test_auroc_edge_cases() -> None:
    assert auroc([0.1, 0.9], [False, True]) == 1.0
    assert auroc([0.9, 0.1], [False, True]) == 0.0
    assert auroc([0.5, 0.5], [False, True]) == 0.5
    assert math.isnan(auroc([1.0, 2.0], [True, True]))


def test_pir_breakdown_by_hand() -> None:
    pir = [-2.0, -0.5, 0.3, 1.0, 1.2, 2.5, 5.0]
    personal = [False, True, False, True, False, True, True]
    bins = pir_breakdown(pir, personal, threshold=1.0, edges=(-math.inf, 0.0, 1.0, 2.0, math.inf))
    # (-inf,0]: -2 right, -0.5 wrong (personal, not identified); (0,1]: 0.3 right, 1.0 wrong (1.0 is not > 1);
    # (1,2]: 1.2 wrong; (2,inf): 2.5 and 5.0 right.
    assert [(b.n_tokens, b.n_personal, b.n_correct, b.n_wrong) for b in bins] == [
        (2, 1, 1, 1),
        (2, 1, 1, 1),
        (1, 0, 0, 1),
        (2, 2, 2, 0),
    ]
    assert bins[0].label == "(-inf, 0]" and bins[-1].to_dict()["share_correct"] == 1.0


def test_marginal_logprobs_against_explicit_sums() -> None:
    import torch

    from percontrast.identification.counterfactual import donor_indices, marginal_logprobs

    logps = torch.log(torch.tensor([[0.5, 0.2, 0.9], [0.1, 0.6, 0.3], [0.4, 0.4, 0.4]], dtype=torch.float64))
    probs = logps.exp()
    # Posterior: P(y_i | y_<i) = sum_k prod_{j<=i} p_kj / sum_k prod_{j<i} p_kj, by hand.
    expected = []
    for i in range(3):
        upto = sum(float(probs[k, : i + 1].prod()) for k in range(3))
        before = sum(float(probs[k, :i].prod()) for k in range(3))
        expected.append(math.log(upto / before))
    assert marginal_logprobs(logps, "posterior").tolist() == pytest.approx(expected)
    assert marginal_logprobs(logps, "mean").tolist() == pytest.approx(probs.mean(0).log().tolist())
    assert marginal_logprobs(logps[:1], "posterior").tolist() == pytest.approx(logps[0].tolist())
    assert donor_indices(4, 2) == [[1, 2], [2, 3], [3, 0], [0, 1]]


def test_word_level_pir_sums_the_pieces_of_each_word() -> None:
    from percontrast.identification.labels import word_level_pir

    pir = [0.1, 0.2, 0.3, 1.5, 0.1, 0.4, 0.0, 0.0, 2.0, 0.0, 0.0, 0.0, 0.0, 0.7, 0.9]
    out = word_level_pir(RESPONSE, OFFSETS, pir)
    # " S" "atur" "days" form "Saturdays": 1.5 + 0.1 + 0.4 = 2.0 each; "." keeps its own 0.9.
    assert out[3:6] == pytest.approx([2.0, 2.0, 2.0])
    assert out[:3] == pir[:3] and out[8] == 2.0 and out[14] == 0.9


def test_bootstrap_prf_matches_a_loop_over_the_same_resamples() -> None:
    """Resampling answers: each resample's pooled P/R/F1 recomputed with `precision_recall_f1` on the
    concatenated answers, percentiles by sorting; the paired difference from the same resamples."""
    import numpy as np

    from percontrast.identification.metrics import bootstrap_prf

    rng = random.Random(3)
    personal = [[rng.random() < 0.3 for _ in range(rng.randint(1, 9))] for _ in range(25)]
    identified = {
        "percontrast": [[rng.random() < 0.4 for _ in row] for row in personal],
        "other": [[label if rng.random() < 0.7 else not label for label in row] for row in personal],
    }
    got = bootstrap_prf(identified, personal, n_bootstrap=200, seed=7)
    draws = np.random.default_rng(7).integers(0, len(personal), size=(200, len(personal)))
    f1 = {}
    for name, rows in identified.items():
        values = {"precision": [], "recall": [], "f1": []}
        for draw in draws:
            prf = precision_recall_f1(
                [x for i in draw for x in rows[i]], [x for i in draw for x in personal[i]]
            )
            for key in values:
                values[key].append(getattr(prf, key))
        f1[name] = values["f1"]
        for key, series in values.items():
            assert got[name][key] == pytest.approx(list(np.percentile(series, [2.5, 97.5])))
        assert (
            got[name]["f1"][0]
            <= precision_recall_f1([x for row in rows for x in row], [x for row in personal for x in row]).f1
            <= got[name]["f1"][1]
        )
    difference = np.subtract(f1["other"], f1["percontrast"])
    assert got["other"]["f1_minus_percontrast"] == pytest.approx(list(np.percentile(difference, [2.5, 97.5])))
    assert "f1_minus_percontrast" not in got["percontrast"]
    assert got["unit"] == "answer" and got["n_bootstrap"] == 200
    assert bootstrap_prf(identified, personal, n_bootstrap=0) == {}
    with pytest.raises(ValueError, match="answers"):
        bootstrap_prf({"x": identified["other"][:-1]}, personal, n_bootstrap=10)
