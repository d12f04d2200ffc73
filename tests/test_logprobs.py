"""Chunked response log-probs (invariant 3) against log_softmax(full logits).gather."""

from __future__ import annotations

import pytest
import torch

from percontrast.modeling.response_forward import (
    OutputHead,
    chunked_logprobs,
    enable_response_forward,
    response_logprobs,
)
from percontrast.prompts.encoding import pad_responses, pad_sequences


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
    logp = _padded_logprobs(model, prompts, responses, padding_side=side, chunk_size=2)
    for row, (prompt, response) in enumerate(zip(prompts, responses, strict=True)):
        expected = _reference_logprobs(model, prompt, response)
        torch.testing.assert_close(logp[row, : len(response)], expected, rtol=1e-5, atol=1e-5)
        assert torch.all(logp[row, len(response) :] == 0)


@torch.no_grad()
def _padded_logprobs(model, prompts, responses, padding_side="right", chunk_size=512):
    """`response_logprobs` on one padded batch: (B, max R), zero past each response."""
    enable_response_forward(model)
    batch = pad_sequences(prompts, responses, pad_id=0, padding_side=padding_side)
    response_ids, response_mask = pad_responses(responses, pad_id=0)
    logp, _ = response_logprobs(
        model,
        batch["input_ids"],
        batch["attention_mask"],
        batch["position_ids"],
        batch["response_start"],
        response_ids,
        response_mask,
        chunk_size=chunk_size,
    )
    return logp


@torch.no_grad()
def _reference_logprobs(model, prompt, response):
    """Independent reference: the model's own full logits for this sequence alone, log-softmax, gather."""
    full = torch.log_softmax(model(torch.tensor([prompt + response])).logits[0].float(), -1)
    return torch.stack([full[len(prompt) - 1 + i, token] for i, token in enumerate(response)])


# ------------------------------------------------------------------------ the head check (per model)


def _tiny_causal_lm(family: str, **extra):
    """A seeded one-layer model of ``family`` with a 64-token vocabulary, in eval mode."""
    import transformers

    classes = {
        "llama": (transformers.LlamaConfig, transformers.LlamaForCausalLM),
        "gemma2": (transformers.Gemma2Config, transformers.Gemma2ForCausalLM),
        "granite": (transformers.GraniteConfig, transformers.GraniteForCausalLM),
        "cohere": (transformers.CohereConfig, transformers.CohereForCausalLM),
    }
    config_class, model_class = classes[family]
    config = config_class(
        vocab_size=64,
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=8,
        max_position_embeddings=64,
        pad_token_id=0,
        bos_token_id=1,
        eos_token_id=2,
        tie_word_embeddings=False,
        **extra,
    )
    torch.manual_seed(0)
    model = model_class(config).eval()
    with torch.no_grad():  # logits of order 1-10, so a head that ignores a post-processing is far off
        model.get_output_embeddings().weight.normal_(0.0, 1.0)
    return model


def _with_biased_head(model):
    head = model.lm_head
    biased = torch.nn.Linear(head.in_features, head.out_features, bias=True)
    with torch.no_grad():
        biased.weight.copy_(head.weight)
        biased.bias.normal_(0.0, 2.0)
    model.lm_head = biased
    return model


class _ScaledLinear(torch.nn.Linear):
    """An output head that post-processes its logits in its own forward (invisible to OutputHead)."""

    def forward(self, hidden):
        return super().forward(hidden) * 3.0


def _with_scaled_head(model):
    head = model.lm_head
    scaled = _ScaledLinear(head.in_features, head.out_features, bias=False)
    with torch.no_grad():
        scaled.weight.copy_(head.weight)
    model.lm_head = scaled
    return model


def _score_one_batch(model):
    torch.manual_seed(1)
    prompts = [torch.randint(3, 64, (n,)).tolist() for n in (5, 2)]
    responses = [torch.randint(3, 64, (n,)).tolist() for n in (3, 4)]
    logp = _padded_logprobs(model, prompts, responses)
    expected = torch.zeros_like(logp)
    for row, (prompt, response) in enumerate(zip(prompts, responses, strict=True)):
        expected[row, : len(response)] = _reference_logprobs(model, prompt, response)
    return logp, expected


# (name, model builder): heads whose post-processing OutputHead reproduces.
HANDLED_HEADS = [
    ("llama", lambda: _tiny_causal_lm("llama")),
    ("llama with a bias in lm_head", lambda: _with_biased_head(_tiny_causal_lm("llama"))),
    ("gemma2 soft-capping", lambda: _tiny_causal_lm("gemma2", final_logit_softcapping=2.0)),
    ("granite logits_scaling", lambda: _tiny_causal_lm("granite", logits_scaling=4.0)),
    ("cohere logit_scale", lambda: _tiny_causal_lm("cohere", logit_scale=0.25)),
    # The head module itself is called, so whatever its own forward does is reproduced.
    ("llama scaling inside lm_head", lambda: _with_scaled_head(_tiny_causal_lm("llama"))),
]
# (name, model builder, class named in the error): heads that OutputHead would get wrong.
REFUSED_HEADS = [
    (
        # Llama ignores this config field; OutputHead would apply it.
        "llama with a soft-cap it does not apply",
        lambda: _tiny_causal_lm("llama", final_logit_softcapping=2.0),
        "LlamaForCausalLM",
    ),
]


@pytest.mark.parametrize("name, build", HANDLED_HEADS, ids=[case[0] for case in HANDLED_HEADS])
def test_head_check_passes_for_heads_we_reproduce_and_scores_match(name, build):
    from percontrast.modeling.response_forward import _HEAD_CHECKED

    model = build()
    logp, expected = _score_one_batch(model)
    torch.testing.assert_close(logp, expected, rtol=1e-5, atol=1e-5)
    assert getattr(model, _HEAD_CHECKED) is True  # checked once, cached on the model


@pytest.mark.parametrize("name, build, class_name", REFUSED_HEADS, ids=[case[0] for case in REFUSED_HEADS])
def test_head_check_refuses_heads_we_would_get_wrong(name, build, class_name):
    from percontrast.modeling.response_forward import _HEAD_CHECKED
    from percontrast.utils.errors import ConfigError

    model = build()
    with pytest.raises(
        ConfigError, match=rf"{class_name}: the logits .* differ from the model's own by up to"
    ):
        _score_one_batch(model)
    assert not getattr(model, _HEAD_CHECKED, False)


def test_head_check_runs_once_per_model(monkeypatch):
    import percontrast.modeling.response_forward as logprobs

    model = _tiny_causal_lm("llama")
    calls = []
    real = logprobs.check_output_head
    monkeypatch.setattr(logprobs, "check_output_head", lambda *args: calls.append(1) or real(*args))
    _score_one_batch(model)
    _score_one_batch(model)
    assert len(calls) == 1


def test_data_parallel_is_refused_with_a_clear_message():
    from percontrast.utils.errors import ConfigError

    model = torch.nn.DataParallel(_tiny_causal_lm("llama"))
    with pytest.raises(ConfigError, match=r"DataParallel is not supported.*torchrun --nproc_per_node"):
        _score_one_batch(model)


@pytest.mark.parametrize("name, build", HANDLED_HEADS, ids=[case[0] for case in HANDLED_HEADS])
def test_head_check_has_no_false_alarm_in_bfloat16(name, build):
    """bfloat16 rounds the model's logits (and Gemma-2's soft-cap arithmetic) differently from our
    float32 post-processing; the check's lower-precision tolerance must absorb that."""
    from percontrast.modeling.response_forward import _HEAD_CHECKED

    model = build().to(torch.bfloat16)
    _score_one_batch(model)
    assert getattr(model, _HEAD_CHECKED) is True


def test_response_forward_survives_deepcopy_and_keeps_the_architecture_name(tmp_path):
    """The forward that computes log-probs belongs to the model it is called on: a deep copy (as the demo
    makes one per training run) scores with its own parameters, and save_pretrained names the real class."""
    import copy
    import json

    from percontrast.modeling.load import load_model
    from percontrast.modeling.response_forward import response_logprobs

    model, _ = load_model("tiny", seed=0)
    torch.manual_seed(0)
    batch = pad_sequences([[5, 6, 7]], [[8, 9]], pad_id=0)
    args = [batch["input_ids"], batch["attention_mask"], batch["position_ids"], batch["response_start"]]
    args += [torch.tensor([[8, 9]]), torch.ones(1, 2, dtype=torch.long)]
    enable_response_forward(model)
    before = response_logprobs(model, *args)[0]
    clone = copy.deepcopy(model)
    with torch.no_grad():
        clone.lm_head.weight.mul_(3.0)
    assert not torch.allclose(response_logprobs(clone, *args)[0], before)
    assert torch.equal(response_logprobs(model, *args)[0], before)
    model.save_pretrained(tmp_path)
    assert json.loads((tmp_path / "config.json").read_text())["architectures"] == ["LlamaForCausalLM"]


def test_response_forward_keeps_the_signature_generate_reads():
    """transformers' generate passes position_ids and logits_to_keep only if forward's signature names them;
    after scoring (which swaps the class) left-padded generation must be unchanged."""
    import inspect

    from percontrast.generation.generate import left_pad
    from percontrast.modeling.load import load_model
    from percontrast.modeling.response_forward import enable_response_forward

    model, tokenizer = load_model("tiny", seed=0)
    prompts = left_pad([[5, 6, 7, 8, 9], [10, 11]], tokenizer.pad_token_id)
    settings = dict(max_new_tokens=4, do_sample=False, pad_token_id=tokenizer.pad_token_id)
    before = model.generate(**prompts, **settings)
    enable_response_forward(model)
    parameters = inspect.signature(model.forward).parameters
    assert {"input_ids", "position_ids", "logits_to_keep", "labels", "percontrast_response"} <= set(
        parameters
    )
    assert torch.equal(model.generate(**prompts, **settings), before)


# The fused head (one pass per chunk, hand-written backward) against autograd through the plain
# log_softmax of the full logits: values and gradients of hidden, weight and bias, for every post-processing.
FUSED_CASES = {
    "plain": {},
    "bias": {"bias": True},
    "softcap, scale and multiplier": {"softcap": 2.0, "scale": 3.0, "multiplier": 0.7},
    "bias and softcap": {"bias": True, "softcap": 1.5},
}


def _plain_logits(hidden, weight, bias, softcap=None, scale=None, multiplier=None):
    logits = torch.nn.functional.linear(hidden, weight, bias).float()
    if multiplier is not None:
        logits = logits * multiplier
    if scale:
        logits = logits / scale
    if softcap:
        logits = torch.tanh(logits / softcap) * softcap
    return logits


@pytest.mark.parametrize("case", FUSED_CASES, ids=list(FUSED_CASES))
@pytest.mark.parametrize("chunk_size", [1, 4, 64])
def test_fused_head_values_and_gradients_equal_autograd_through_full_log_softmax(case, chunk_size):
    from percontrast.modeling.response_forward import _can_fuse

    options = dict(FUSED_CASES[case])
    torch.manual_seed(0)
    hidden = torch.randn(11, 8, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(40, 8, dtype=torch.float64, requires_grad=True)
    bias = torch.randn(40, dtype=torch.float64, requires_grad=True) if options.pop("bias", False) else None
    targets = torch.randint(0, 40, (11,))
    upstream = torch.rand(11, dtype=torch.float64) * 5  # per-token weights, as PerCE's
    head = OutputHead(
        weight=weight, bias=bias, **{k: options.get(k) for k in ("softcap", "scale", "multiplier")}
    )
    assert _can_fuse(head)
    logp, _ = chunked_logprobs(hidden, targets, head, chunk_size=chunk_size)
    logits = _plain_logits(hidden.double(), weight, bias, **options).double()
    expected = torch.log_softmax(logits, -1).gather(-1, targets[:, None]).squeeze(-1)
    torch.testing.assert_close(logp, expected.float(), rtol=1e-6, atol=1e-6)
    inputs = [t for t in (hidden, weight, bias) if t is not None]
    got = torch.autograd.grad((logp.double() * upstream).sum(), inputs)
    want = torch.autograd.grad((expected * upstream).sum(), inputs)
    for name, g, w in zip(("hidden", "weight", "bias"), got, want, strict=False):
        torch.testing.assert_close(g, w, rtol=1e-5, atol=1e-6, msg=lambda m, name=name: f"{name}: {m}")


def test_fused_head_under_bf16_autocast_matches_the_checkpointed_path():
    from percontrast.modeling.response_forward import _can_fuse

    torch.manual_seed(0)
    hidden = torch.randn(9, 16, requires_grad=True)
    module = torch.nn.Linear(16, 300, bias=False)
    weight = module.weight
    targets = torch.randint(0, 300, (9,))
    upstream = torch.rand(9)
    fused = OutputHead(weight=weight, bias=None, softcap=None, scale=None)
    module.register_forward_hook(lambda m, i, o: None)  # a hooked head keeps the checkpointed path
    checkpointed = OutputHead(weight=weight, bias=None, softcap=None, scale=None, module=module)
    assert _can_fuse(fused) and not _can_fuse(checkpointed)
    results = []
    for head in (fused, checkpointed):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            logp, _ = chunked_logprobs(hidden, targets, head, chunk_size=4)
        results.append((logp, torch.autograd.grad((logp * upstream).sum(), (hidden, weight))))
    (logp_f, grads_f), (logp_c, grads_c) = results
    torch.testing.assert_close(logp_f, logp_c, rtol=0, atol=1e-5)  # the same bf16 logits, the same log-probs
    for got, want in zip(grads_f, grads_c, strict=True):
        # Both backwards project in bfloat16: they agree to bf16's rounding of the gradient (2**-8 relative).
        torch.testing.assert_close(got, want, rtol=2**-7, atol=2**-7 * float(want.abs().max()))


def test_fused_head_entropy_and_no_grad():
    torch.manual_seed(2)
    hidden, weight, targets = torch.randn(6, 5), torch.randn(30, 5), torch.randint(0, 30, (6,))
    head = OutputHead(weight=weight, bias=None, softcap=None, scale=None)
    with torch.no_grad():
        logp, entropy = chunked_logprobs(hidden, targets, head, chunk_size=4, with_entropy=True)
    probs = torch.softmax(hidden @ weight.T, -1)
    torch.testing.assert_close(entropy, -(probs * probs.log()).sum(-1), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(
        logp, probs.log().gather(-1, targets[:, None]).squeeze(-1), rtol=1e-5, atol=1e-5
    )


def test_an_unprepared_model_is_refused_not_changed():
    """`response_logprobs` never swaps the caller's model class; preparing it is the caller's explicit call."""
    from percontrast.modeling.load import load_model
    from percontrast.utils.errors import ConfigError

    model, _ = load_model("tiny", seed=0)
    cls = type(model)
    batch = pad_sequences([[5, 6, 7]], [[8, 9]], pad_id=0)
    args = [batch["input_ids"], batch["attention_mask"], batch["position_ids"], batch["response_start"]]
    args += [torch.tensor([[8, 9]]), torch.ones(1, 2, dtype=torch.long)]
    with pytest.raises(
        ConfigError, match=r"LlamaForCausalLM is not prepared.*enable_response_forward\(model\)"
    ):
        response_logprobs(model, *args)
    assert type(model) is cls
    enable_response_forward(model)
    enable_response_forward(model)  # idempotent
    assert type(model).__mro__[2] is cls and type(model).__name__ == cls.__name__
    logp, _ = response_logprobs(model, *args)
    assert logp.shape == (1, 2)
