"""Chunked response log-probs (invariant 3) against log_softmax(full logits).gather."""

from __future__ import annotations

import pytest
import torch

from percontrast.encoding import pad_sequences
from percontrast.logprobs import OutputHead, chunked_logprobs, response_logprobs


def reference(hidden, weight, targets):
    logits = (hidden @ weight.T).float()
    return torch.log_softmax(logits, -1).gather(-1, targets[:, None]).squeeze(-1)


@pytest.mark.parametrize("chunk_size", [1, 3, 7, 64])
def test_chunked_equals_full_log_softmax_and_gradients_match(chunk_size):
    torch.manual_seed(0)
    hidden = torch.randn(13, 8, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(50, 8, dtype=torch.float64, requires_grad=True)
    targets = torch.randint(0, 50, (13,))
    head = OutputHead(weight=weight, bias=None, softcap=None, scale=None)
    logp, entropy = chunked_logprobs(hidden, targets, head, chunk_size=chunk_size, with_entropy=True)
    expected = reference(hidden, weight, targets)
    torch.testing.assert_close(logp, expected.float(), rtol=1e-6, atol=1e-6)
    probs = torch.softmax(hidden.detach() @ weight.detach().T, -1)
    torch.testing.assert_close(entropy, -(probs * probs.log()).sum(-1).float(), rtol=1e-5, atol=1e-5)
    assert not entropy.requires_grad
    grads = torch.autograd.grad(logp.sum(), (hidden, weight))
    expected_grads = torch.autograd.grad(expected.sum(), (hidden, weight))
    for got, want in zip(grads, expected_grads, strict=True):
        torch.testing.assert_close(got, want.to(got.dtype), rtol=1e-5, atol=1e-6)


def test_softcap_and_scale_follow_the_model_convention():
    torch.manual_seed(1)
    hidden, weight, targets = torch.randn(4, 6), torch.randn(9, 6), torch.randint(0, 9, (4,))
    head = OutputHead(weight=weight, bias=None, softcap=2.0, scale=3.0)
    logp, _ = chunked_logprobs(hidden, targets, head, chunk_size=2)
    logits = torch.tanh((hidden @ weight.T) / 3.0 / 2.0) * 2.0
    torch.testing.assert_close(logp, torch.log_softmax(logits, -1).gather(-1, targets[:, None]).squeeze(-1))


@pytest.mark.parametrize("side", ["left", "right"])
def test_response_logprobs_match_full_model_logits(tiny, side):
    model, _ = tiny
    torch.manual_seed(0)
    prompts = [torch.randint(5, 300, (n,)).tolist() for n in (7, 3, 11)]
    responses = [torch.randint(5, 300, (n,)).tolist() for n in (4, 6, 1)]
    batch = pad_sequences(prompts, responses, pad_id=0, padding_side=side)
    width = max(len(r) for r in responses)
    response_ids = torch.zeros((3, width), dtype=torch.long)
    response_mask = torch.zeros((3, width), dtype=torch.long)
    for row, response in enumerate(responses):
        response_ids[row, : len(response)] = torch.tensor(response)
        response_mask[row, : len(response)] = 1
    with torch.no_grad():
        logp, _ = response_logprobs(
            model,
            batch["input_ids"],
            batch["attention_mask"],
            batch["position_ids"],
            batch["response_start"],
            response_ids,
            response_mask,
            chunk_size=2,
        )
        for row, (prompt, response) in enumerate(zip(prompts, responses, strict=True)):
            # Independent reference: the model's own full logits for this sequence alone.
            logits = model(torch.tensor([prompt + response])).logits[0]
            full = torch.log_softmax(logits.float(), -1)
            expected = torch.stack([full[len(prompt) - 1 + i, token] for i, token in enumerate(response)])
            torch.testing.assert_close(logp[row, : len(response)], expected, rtol=1e-5, atol=1e-5)
            assert torch.all(logp[row, len(response) :] == 0)
