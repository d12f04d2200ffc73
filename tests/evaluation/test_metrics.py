"""Golden tests of ROUGE and METEOR: hand-checked ROUGE values and direct NLTK / rouge-score calls."""

from __future__ import annotations

import numpy as np
import pytest

from percontrast.evaluation import metrics, wordnet
from percontrast.utils.errors import ConfigError

needs_wordnet = pytest.mark.needs("wordnet")

# (prediction, reference, rouge1 F1, rougeL F1), each worked out by hand in the comment.
ROUGE_CASES = [
    # 6 vs 6 tokens, overlap the,the,cat,on,mat = 5 -> P = R = 5/6; LCS "the cat on the mat" = 5.
    ("the cat sat on the mat", "the cat is on the mat", 5 / 6, 5 / 6),
    # same bag of words, reversed order: unigram F1 1; LCS of a b c d / d c b a is 1 -> 1/4.
    ("a b c d", "d c b a", 1.0, 0.25),
    # rouge-score lowercases and drops punctuation: identical after tokenization.
    ("The CAT!", "the cat", 1.0, 1.0),
    # nothing shared.
    ("blue sky", "green grass", 0.0, 0.0),
    # 2 tokens vs 4: overlap 2 -> P = 1, R = 1/2, F = 2/3; LCS 2 -> 2/3.
    ("great phone", "a great phone overall", 2 / 3, 2 / 3),
    # no stemmer: "cats" != "cat", "running" != "run": overlap "i" only; P = R = 1/3.
    ("i like cats", "i love cat", 1 / 3, 1 / 3),
]

REAL_LOOKING = [
    (
        "This blender is great for smoothies. It crushes ice easily, but it is quite loud in the morning.",
        "I use this blender every morning for my smoothies. It handles ice without trouble, though the noise wakes my kids.",
    ),
    (
        "We propose a token-level loss that upweights user-specific tokens during fine-tuning.",
        "In this paper we introduce a loss that gives more weight to personalized tokens when training language models.",
    ),
    (
        "The hotel was clean and the staff were friendly.",
        "Clean rooms, friendly staff, and a great breakfast.",
    ),
]


@pytest.mark.parametrize(("prediction", "reference", "rouge1", "rouge_l"), ROUGE_CASES)
def test_rouge_hand_checked(prediction: str, reference: str, rouge1: float, rouge_l: float) -> None:
    scores = metrics.rouge_scores([prediction], [reference])
    assert scores["rouge1"][0] == pytest.approx(rouge1)
    assert scores["rougeL"][0] == pytest.approx(rouge_l)


# One prediction each: good, missing (""), whitespace-only, and a good one against an empty reference.
EMPTY_PREDICTIONS = ["the cat sat on the mat", "", "   ", "x y"]
EMPTY_REFERENCES = ["the cat is on the mat", "some reference", " another reference ", ""]


def test_lamp_rule_scores_every_pair_and_empty_ones_score_zero() -> None:
    pairs = metrics.filter_pairs(EMPTY_PREDICTIONS, EMPTY_REFERENCES, "lamp")
    assert pairs.kept == [0, 1, 2, 3] and pairs.skipped == {}
    assert pairs.predictions == ["the cat sat on the mat", "", "", "x y"]
    assert pairs.references[2] == "another reference"  # stripped, as postprocess_text_generation
    assert pairs.scored_empty == {"empty_prediction": 2, "empty_reference": 1}
    result = metrics.lexical_metrics(EMPTY_PREDICTIONS, EMPTY_REFERENCES, ("rouge1", "rougeL"), rule="lamp")
    # Hand: pair 0 is 5/6 for both (see ROUGE_CASES); pairs 1-3 have an empty side: 0.
    assert result["rouge1"] == pytest.approx((5 / 6) / 4)
    assert result["rougeL"] == pytest.approx((5 / 6) / 4)
    assert result["n"] == result["n_total"] == 4 and result["empty_rule"] == "lamp"


def test_longlamp_rule_drops_only_unstripped_empty_sides() -> None:
    pairs = metrics.filter_pairs(EMPTY_PREDICTIONS, EMPTY_REFERENCES, "longlamp")
    # "" prediction (pair 1) and "" reference (pair 3) dropped; the whitespace-only prediction is kept.
    assert pairs.kept == [0, 2]
    assert pairs.skipped == {"empty_prediction": 1, "empty_reference": 1}
    assert pairs.scored_empty == {"empty_prediction": 1}
    result = metrics.lexical_metrics(
        EMPTY_PREDICTIONS, EMPTY_REFERENCES, ("rouge1", "rougeL"), rule="longlamp"
    )
    assert result["rouge1"] == pytest.approx((5 / 6 + 0.0) / 2)
    assert result["n"] == 2 and result["n_total"] == 4
    # None counts as missing, as `if d["generated_text"] and d["output"]` treats it.
    assert metrics.filter_pairs([None, "a"], ["r", None], "longlamp").skipped == {
        "empty_prediction": 1,
        "empty_reference": 1,
    }


@pytest.mark.parametrize("rule", ["lamp", "longlamp"])
def test_empty_rules_against_the_official_code_with_rouge_score(rule: str) -> None:
    """Replays each benchmark's own filtering and stripping and calls rouge-score directly."""
    from rouge_score import rouge_scorer

    pairs = list(zip(EMPTY_PREDICTIONS, EMPTY_REFERENCES, strict=True))
    if rule == "longlamp":  # LongLaMP generation_metrics.py evaluate_data, lines 43-46
        pairs = [(p, r) for p, r in pairs if p and r]
    predictions = [p.strip() for p, _ in pairs]  # postprocess_text(_generation)
    references = [r.strip() for _, r in pairs]
    scorer = rouge_scorer.RougeScorer(["rouge1", "rougeL"], use_stemmer=False)
    direct = [scorer.score(r, p) for p, r in zip(predictions, references, strict=True)]
    result = metrics.lexical_metrics(EMPTY_PREDICTIONS, EMPTY_REFERENCES, ("rouge1", "rougeL"), rule=rule)
    assert result["per_example"]["rouge1"] == [s["rouge1"].fmeasure for s in direct]
    assert result["rougeL"] == pytest.approx(np.mean([s["rougeL"].fmeasure for s in direct]))


def test_unknown_empty_rule_is_an_error() -> None:
    with pytest.raises(ConfigError, match="longlamp"):
        metrics.filter_pairs(["a"], ["a"], "every")


def test_task_names_map_to_their_benchmark_rule() -> None:
    assert metrics.empty_rule_of_task("LaMP_4") == "lamp"
    assert metrics.empty_rule_of_task("LongLaMP_product_review") == "longlamp"
    assert metrics.empty_rule_of_task("persona_qa") is None and metrics.empty_rule_of_task(None) is None


def test_unknown_metric_is_an_error() -> None:
    with pytest.raises(ConfigError, match="bleu"):
        metrics.lexical_metrics(["a"], ["a"], metrics=("bleu",), rule="lamp")


def test_bootstrap_is_seeded_and_matches_direct_aggregator() -> None:
    from rouge_score import rouge_scorer, scoring

    predictions = [case[0] for case in ROUGE_CASES]
    references = [case[1] for case in ROUGE_CASES]
    first = metrics.bootstrap_rouge(predictions, references, seed=3)
    assert first == metrics.bootstrap_rouge(predictions, references, seed=3)
    # Independent reference: the aggregator driven directly, same seed.
    scorer = rouge_scorer.RougeScorer(["rouge1", "rougeL"], use_stemmer=False)
    aggregator = scoring.BootstrapAggregator()
    for prediction, reference in zip(predictions, references, strict=True):
        aggregator.add_scores(scorer.score(reference, prediction))
    np.random.seed(3)
    direct = aggregator.aggregate()
    assert first["rougeL"] == direct["rougeL"].mid.fmeasure
    # The global NumPy state is restored.
    np.random.seed(11)
    expected_next = np.random.rand()
    np.random.seed(11)
    metrics.bootstrap_rouge(predictions, references, seed=3)
    assert np.random.rand() == expected_next


@needs_wordnet
def test_meteor_equals_direct_nltk_calls() -> None:
    from nltk.tokenize import word_tokenize
    from nltk.translate.meteor_score import meteor_score

    wordnet.ensure_nltk_data()
    predictions = [p for p, _ in REAL_LOOKING]
    references = [r for _, r in REAL_LOOKING]
    ours = metrics.meteor_scores(predictions, references)
    direct = [
        meteor_score([word_tokenize(r)], word_tokenize(p), alpha=0.9, beta=3, gamma=0.5)
        for p, r in REAL_LOOKING
    ]
    assert ours == direct
    assert all(0.0 < value < 1.0 for value in ours)


@needs_wordnet
def test_meteor_known_values() -> None:
    # Values printed by NLTK 3.10.4's meteor_score with WordNet 3.0 (our offline copy), pinned so a
    # change in tokenization, WordNet data or NLTK shows up here.
    ours = metrics.meteor_scores(
        ["The cat sat on the mat", "on the mat sat the cat"], ["The cat sat on the mat"] * 2
    )
    assert ours[0] == pytest.approx(0.9976851851851852)
    assert ours[1] == pytest.approx(0.5, abs=1e-12)


@needs_wordnet
def test_lexical_metrics_all_three_with_direct_rouge() -> None:
    from rouge_score import rouge_scorer

    result = metrics.lexical_metrics(
        [p for p, _ in REAL_LOOKING], [r for _, r in REAL_LOOKING], rule="longlamp", bootstrap=True, seed=0
    )
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)
    direct = [scorer.score(r, p)["rougeL"].fmeasure for p, r in REAL_LOOKING]
    assert result["per_example"]["rougeL"] == direct
    assert result["rougeL"] == pytest.approx(np.mean(direct))
    assert set(result["bootstrap"]) == {"rouge1", "rougeL", "seed"}
    assert result["n"] == 3 and result["n_skipped"] == {}


@needs_wordnet
@pytest.mark.parametrize("rule", ["lamp", "longlamp"])
def test_meteor_of_empty_sides_is_zero_as_nltk_gives_it(rule: str) -> None:
    from nltk.tokenize import word_tokenize
    from nltk.translate.meteor_score import meteor_score

    wordnet.ensure_nltk_data()
    result = metrics.lexical_metrics(EMPTY_PREDICTIONS, EMPTY_REFERENCES, ("meteor",), rule=rule)
    kept = [0, 1, 2, 3] if rule == "lamp" else [0, 2]
    direct = [
        meteor_score(
            [word_tokenize(EMPTY_REFERENCES[i].strip())],
            word_tokenize(EMPTY_PREDICTIONS[i].strip()),
            alpha=0.9,
            beta=3,
            gamma=0.5,
        )
        for i in kept
    ]
    assert result["per_example"]["meteor"] == direct
    assert direct[1:] == [0.0] * (len(kept) - 1) and direct[0] > 0.5
