"""Likelihood by token group (issue 21): the split, the group NLLs against an independent computation,
identical groups across models, and the mechanism PerCE claims (its high-PIR tokens are learned more)."""

from __future__ import annotations

import copy
import json
import math

import numpy as np
import pytest
import torch
from training_helpers import make_config, make_examples, sharpened_tiny

from percontrast.analysis.token_groups import group_sums, make_groups, measure_groups, summarize_groups
from percontrast.data.schema import Example
from percontrast.prompts.encoding import encode_example
from percontrast.scoring.pir import TokenScores, score_examples
from percontrast.utils.errors import DataError

ANNOTATED = [
    Example(
        id="q1",
        persona=["I am a wedding photographer.", "I like pepsi."],
        query="What keeps you busy on weekends?",
        response="I spend Saturdays behind the camera, often at weddings.",
        meta={"personal_spans": ["behind the camera", "weddings"]},
    ),
    Example(
        id="q2",
        persona=["I like pepsi."],
        query="Drink?",
        response="A cold Pepsi, always.",
        meta={"personal_spans": ["Pepsi"]},
    ),
]


def full_forward_logprobs(model, prompt_ids: list[int], response_ids: list[int]) -> list[float]:
    """Log-probs of the response from one plain forward of the whole unpadded sequence (float64
    log-softmax of all logits): the independent reference for the batched, chunked scorer."""
    with torch.no_grad():
        logits = model(torch.tensor([prompt_ids + response_ids])).logits[0].double()
    logp = torch.log_softmax(logits[len(prompt_ids) - 1 : -1], -1)
    return [float(logp[i, token]) for i, token in enumerate(response_ids)]


def fake_scores(example: Example, offsets, logp_with, pir) -> TokenScores:
    return TokenScores(
        id=example.id,
        tokens=[example.response[s:e] for s, e in offsets],
        token_ids=list(range(len(offsets))),
        offsets=[list(o) for o in offsets],
        logp_with=list(logp_with),
        logp_without=[a - b for a, b in zip(logp_with, pir, strict=True)],
        pir=list(pir),
        response=example.response,
        prompt_with="",
        prompt_without="",
    )


def test_split_and_sums_by_hand():
    """Hand-made tokens: the annotated rule (inside a personal word; pieces of it too; punctuation not) and
    the reference rule (PIR > threshold, strict), with sums checked against hand-computed values."""
    example = ANNOTATED[1]  # "A cold Pepsi, always."
    offsets = [(0, 1), (1, 6), (6, 9), (9, 12), (12, 13), (13, 20), (20, 21)]  # A| cold| Pe|psi|,| always|.
    logp = [-1.0, -2.0, -3.0, -0.5, -0.25, -4.0, -0.125]
    pir = [0.0, 1.0, 2.5, 1.5, -1.0, 0.5, 3.0]
    scores = [fake_scores(example, offsets, logp, pir)]
    groups = make_groups([example], scores, reference="hand", threshold=1.0)
    assert groups.masks["annotated"] == [[False, False, True, True, False, False, False]]
    assert groups.masks["reference_personal"] == [[False, False, True, True, False, False, True]]
    sums = group_sums(groups, scores)
    assert sums.pooled("annotated") == {"nll": 3.5 / 2, "pir": 4.0 / 2, "n_tokens": 2}
    assert sums.pooled("reference_personal") == {"nll": 3.625 / 3, "pir": 7.0 / 3, "n_tokens": 3}
    assert sums.pooled("reference_rest")["nll"] == pytest.approx(7.25 / 4)
    assert sums.pooled("all")["nll"] == pytest.approx(10.875 / 7)
    assert sums.pooled("not_annotated")["n_tokens"] == 5


def test_annotation_must_cover_all_or_none():
    plain = Example(id="p", persona=["x"], query="q", response="Hi.")
    offsets = [(0, 2), (2, 3)]
    scores = [
        fake_scores(ANNOTATED[1], [(0, 1)], [-1.0], [0.0]),
        fake_scores(plain, offsets, [-1.0, -1.0], [0, 0]),
    ]
    with pytest.raises(DataError, match="lack meta.personal_spans"):
        make_groups([ANNOTATED[1], plain], scores, reference="r")
    only_plain = make_groups([plain], scores[1:], reference="r")
    assert "annotated" not in only_plain.masks and only_plain.names[-1] == "all"


@pytest.fixture(scope="module")
def two_models(tmp_path_factory):
    """The tiny model (base) and the sharpened tiny model saved as a directory (another model, same tokenizer)."""
    directory = tmp_path_factory.mktemp("sharp")
    model, tokenizer = sharpened_tiny()
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return str(directory), model, tokenizer


def test_group_nll_against_full_forward(two_models):
    """Every group's NLL and PIR of each model, and the reference groups, recomputed from plain forwards;
    the groups are the same tokens for both models; ``all`` is the whole-response NLL."""
    directory, sharp, tokenizer = two_models
    from percontrast.modeling.load import load_model

    base, _ = load_model("tiny")
    examples = ANNOTATED + make_examples(3)
    for example in examples[2:]:
        example.meta = {"personal_spans": [example.response.split()[-1].strip(".")]}
    groups, sums = measure_groups(
        [("sharp", directory), ("base", "tiny")], examples, threshold=0.0, progress=False
    )
    # Independent: per token, plain-forward log-probs with and without persona.
    reference_pir, per_model = [], {"sharp": [], "base": []}
    for example in examples:
        item = encode_example(example, tokenizer)
        for name, model in (("sharp", sharp), ("base", base)):
            with_ = full_forward_logprobs(model, item.prompt_with_ids, item.response_ids)
            without = full_forward_logprobs(model, item.prompt_without_ids, item.response_ids)
            per_model[name].append((np.array(with_), np.array(with_) - np.array(without)))
        reference_pir.append(per_model["sharp"][-1][1])
    expected_high = [list(pir > 0.0) for pir in reference_pir]
    assert groups.masks["reference_personal"] == expected_high
    assert 0 < sum(map(sum, expected_high)) < sum(map(len, expected_high))
    for name in ("sharp", "base"):
        assert len(sums[name]) == 1
        for group in groups.names:
            chosen = [np.array(mask, dtype=bool) for mask in groups.masks[group]]
            nll = -sum(logp[m].sum() for (logp, _), m in zip(per_model[name], chosen, strict=True))
            pir = sum(p[m].sum() for (_, p), m in zip(per_model[name], chosen, strict=True))
            count = sum(m.sum() for m in chosen)
            pooled = sums[name][0].pooled(group)
            assert pooled["n_tokens"] == count  # the same tokens for every model
            assert pooled["nll"] == pytest.approx(nll / count, abs=1e-4)
            assert pooled["pir"] == pytest.approx(pir / count, abs=1e-4)
        whole = -sum(logp.sum() for logp, _ in per_model[name]) / sum(
            len(logp) for logp, _ in per_model[name]
        )
        assert sums[name][0].pooled("all")["nll"] == pytest.approx(whole, abs=1e-4)
    summary = summarize_groups(groups, sums, baseline="base", n_bootstrap=50)
    difference = summary["groups"]["all"]["differences"]["sharp"]["nll"]["mean"]
    assert difference == pytest.approx(
        sums["sharp"][0].pooled("all")["nll"] - sums["base"][0].pooled("all")["nll"]
    )


def test_other_tokenizer_is_an_error():
    example = ANNOTATED[1]
    reference = [fake_scores(example, [(0, 1), (1, 6)], [-1.0, -1.0], [0.0, 2.0])]
    groups = make_groups([example], reference, reference="r")
    other = copy.deepcopy(reference)
    other[0].token_ids = [5, 6]
    with pytest.raises(DataError, match="tokenises the response differently"):
        group_sums(groups, other, model="other")


def test_seeds_and_bootstrap_are_paired():
    """A model with two seeds: its figure is the mean of the seeds; the difference of two identical models is 0."""
    example = ANNOTATED[1]
    offsets = [(0, 1), (1, 6), (6, 9)]
    make = lambda logp: fake_scores(example, offsets, logp, [0.0, 2.0, 2.0])  # noqa: E731
    groups = make_groups([example], [make([-1.0, -1.0, -1.0])], reference="r")
    sums = {
        "base": [group_sums(groups, [make([-1.0, -1.0, -1.0])])],
        "twin": [group_sums(groups, [make([-1.0, -1.0, -1.0])])],
        "seeds": [
            group_sums(groups, [make([-1.0, -2.0, -2.0])]),
            group_sums(groups, [make([-1.0, -4.0, -4.0])]),
        ],
    }
    summary = summarize_groups(groups, sums, n_bootstrap=20)
    high = summary["groups"]["reference_personal"]
    assert high["models"]["seeds"]["nll"]["mean"] == pytest.approx(3.0)
    assert high["models"]["seeds"]["nll"]["per_seed"] == [2.0, 4.0]
    assert high["differences"]["twin"]["nll"] == {"mean": 0.0, "ci": [0.0, 0.0]}


def test_groups_command(tmp_path, two_models, capsys):
    from percontrast.cli import main

    directory, _, _ = two_models
    data = tmp_path / "pqa.jsonl"
    record = {
        "id": "a",
        "persona": ["I like pepsi."],
        "question": "Drink?",
        "answer": "A cold Pepsi, always.",
    }
    data.write_text(json.dumps(record | {"personal_spans": ["Pepsi"]}) + "\n")
    out, plot = tmp_path / "g.json", tmp_path / "g.png"
    code = main(
        [
            "groups",
            "--model",
            "base=tiny",
            "--model",
            f"sharp={directory}",
            "--data",
            str(data),
            "--out",
            str(out),
        ]
        + ["--plot", str(plot), "--bootstrap", "10", "--reference", "sharp", "--threshold", "0.5"]
    )
    assert code == 0 and plot.stat().st_size > 0
    summary = json.loads(out.read_text())
    assert summary["reference"] == "sharp" and summary["threshold"] == 0.5 and summary["baseline"] == "base"
    assert list(summary["groups"]) == [
        "annotated",
        "not_annotated",
        "reference_personal",
        "reference_rest",
        "all",
    ]
    assert "| annotated |" in capsys.readouterr().out


# ----------------------------------------------------------------------------------- mechanism

MECHANISM_STEPS, MECHANISM_LR = 4, 1e-3


def gap_changes(tmp_path, plant=None) -> dict[str, float]:
    """Train CE and PerCE copies of the sharpened tiny model for the same steps on the same data; return, per
    loss, how much NLL(high-PIR group) - NLL(rest) moved (groups: PIR > 1 under the starting model).

    ``plant``: replaces `percontrast.training.trainer.token_weights` (to check that the test can fail).
    """
    from unittest import mock

    from percontrast.training.trainer import train

    model, tokenizer = sharpened_tiny()
    examples = make_examples(8)
    start = score_examples(model, tokenizer, examples, progress=False)
    groups = make_groups(examples, start, reference="start", threshold=1.0)

    def gap(scores) -> float:
        sums = group_sums(groups, scores)
        return sums.pooled("reference_personal")["nll"] - sums.pooled("reference_rest")["nll"]

    before = gap(start)
    changes = {}
    for loss in ("ce", "perce"):
        trained = copy.deepcopy(model)
        config = make_config(
            tmp_path / loss,
            loss=loss,
            max_steps=MECHANISM_STEPS,
            learning_rate=MECHANISM_LR,
            per_device_train_batch_size=4,
        )
        with mock.patch("percontrast.training.trainer.token_weights", plant) if plant else mock.MagicMock():
            train(config, model=trained, tokenizer=tokenizer, examples=examples)
        trained.eval()
        changes[loss] = gap(score_examples(trained, tokenizer, examples, progress=False)) - before
    return changes


MARGIN = 1.0


def test_perce_learns_high_pir_tokens_more_than_ce(tmp_path):
    """After the same steps, PerCE narrows the NLL gap between high-PIR tokens and the rest more than CE."""
    changes = gap_changes(tmp_path)
    assert changes["perce"] < changes["ce"] - MARGIN, changes


def _flipped(kind, **kwargs):
    from percontrast.training.losses import token_weights

    weights, stats = token_weights(kind, **kwargs)
    if kind != "perce":
        return weights, stats
    mask = kwargs["response_mask"].bool()
    low, high = kwargs.get("m", 0.8), kwargs.get("M", 5.0)
    return torch.where(mask, low + high - weights, torch.zeros_like(weights)), stats


def _off(kind, **kwargs):
    from percontrast.training.losses import token_weights

    return token_weights("ce", **{k: v for k, v in kwargs.items() if k in ("logp_with", "response_mask")})


@pytest.mark.parametrize("plant", [_flipped, _off], ids=["flipped", "off"])
def test_mechanism_test_fails_when_weights_are_planted_wrong(tmp_path, plant):
    """The mechanism assertion does not hold when PerCE's weights are inverted or all 1: it measures them."""
    changes = gap_changes(tmp_path, plant)
    assert not changes["perce"] < changes["ce"] - MARGIN, changes
    assert math.isfinite(changes["perce"])
