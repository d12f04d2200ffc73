"""Per-token log-probabilities of the response, computed at response positions only.

The model's own forward would materialise float32 logits for every position, (B, T, V): for a
LongLaMP-sized prompt that is most of the memory of a step. Instead the log-probs are computed inside
the model's forward call: `enable_response_forward` gives the causal LM's forward a keyword
``percontrast_response``; with it, the forward runs the decoder, gathers the final hidden states that
predict response tokens, and projects them to the vocabulary in chunks of rows, with log-softmax and
gather per chunk (invariant 3), returning ``(logp, entropy)``. Preparing a model is an explicit
call on it (a documented class swap; `scoring` and `PerCETrainer` make it on the model they are
given); `response_logprobs` refuses an unprepared model rather than changing it. Each chunk's log-probs and, in the
backward, their gradient are computed in one pass (`_FusedHeadLogprobs`, the fused linear
cross-entropy idea), so about one (chunk, V) float32 block of logits is alive at a time, forward or
backward (two for a soft-capped head, whose derivative needs its output; in bf16 a (chunk, V) bf16 copy
for the projections comes on top), beside the (V, H) float32 gradient of the head's weight. Heads that must be called as modules (ZeRO-3, hooked or custom heads) keep a checkpointed
chunk loop, whose backward holds about five blocks.

Why inside the forward: every engine that wraps the model sees an ordinary forward call whose outputs
are the log-probs. DDP's gradient hooks and PEFT's adapters run as usual, and FSDP (FSDP2's
``fully_shard``, as accelerate applies it) unshards the output embedding for the call and registers its
backward hooks on these outputs; reading the output embedding after the call returned would see a
sharded parameter, and gradients that flowed around the root's outputs would skip its reduce-scatter.

Reimplementing the head is only right if `OutputHead` does what the model's own forward does to its
logits (a bias, Gemma-2's soft-capping, Granite's division, Cohere's multiplication are handled). So
the first call on each model compares our head with the model's own logits at the last position of
that same forward (which ``logits_to_keep=1`` computes anyway) and raises `ConfigError` naming the
model class and the largest difference on a mismatch; the result is cached on the model object.

``torch.nn.DataParallel`` replicates the model per call, so it is refused (use DDP).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable

import torch
from torch import nn

from percontrast.modeling.fused_head import (
    _HEAD_CHECKED,
    OutputHead,
    _can_fuse,  # noqa: F401 (tests reach the fused path's switch here)
    check_output_head,
    chunked_logprobs,
    unwrap_model,
)
from percontrast.utils.errors import ConfigError


def _refuse_data_parallel(model: nn.Module) -> None:
    module = model
    while True:
        if isinstance(module, nn.DataParallel):
            raise ConfigError(
                "torch.nn.DataParallel is not supported: it replicates the model on every call, so the "
                "hidden-state capture of percontrast.modeling.response_forward would see one replica per GPU. Use one process "
                "per GPU (DistributedDataParallel: `torchrun --nproc_per_node N` or `accelerate launch`)"
            )
        inner = getattr(module, "module", None)
        if not isinstance(inner, nn.Module):
            inner = getattr(module, "_orig_mod", None)
        if not isinstance(inner, nn.Module):
            return
        module = inner


class _ResponseForward:
    """Marker mixed into a causal LM's class by `enable_response_forward`."""


_RESPONSE_CLASSES: dict[type, type] = {}


def _response_forward_method(cls: type) -> Callable[..., object]:
    """``cls.forward`` plus a keyword ``percontrast_response``, with the original's signature (transformers'
    ``generate`` and Trainer read it: ``position_ids``, ``logits_to_keep``, ``labels`` must stay visible)."""
    original = cls.forward

    def forward(
        self: nn.Module, *args: object, percontrast_response: dict | None = None, **kwargs: object
    ) -> object:
        if percontrast_response is None:
            return original(self, *args, **kwargs)
        return _response_forward(self, functools.partial(original, self), percontrast_response, **kwargs)

    signature = inspect.signature(original)
    parameters = list(signature.parameters.values())
    extra = inspect.Parameter("percontrast_response", inspect.Parameter.KEYWORD_ONLY, default=None)
    at = next(
        (k for k, p in enumerate(parameters) if p.kind is inspect.Parameter.VAR_KEYWORD), len(parameters)
    )
    forward.__signature__ = signature.replace(parameters=[*parameters[:at], extra, *parameters[at:]])
    forward.__doc__ = original.__doc__
    return forward


def enable_response_forward(model: nn.Module) -> None:
    """Let the causal LM behind ``model`` compute response log-probs inside its own forward call.

    The base model's class is swapped for a subclass (same name) whose ``forward`` accepts
    ``percontrast_response={"response_start", "response_ids", "response_mask", "chunk_size",
    "with_entropy"}`` and then returns ``(logp, entropy)`` instead of the usual output; without that
    keyword it is the model's own forward, with the same signature. A class swap (not an instance
    attribute) survives ``copy.deepcopy`` and FSDP2's own class swap, and keeps ``save_pretrained``'s
    architecture name. Idempotent. This is the one place that changes the caller's model: `response_logprobs`
    refuses a model that was not prepared; `scoring.pir.score_examples`, `scoring.pir.score_units` and `PerCETrainer`
    call it on the model they are given (so after them the model has the response forward; its own forward,
    ``generate`` and ``save_pretrained`` behave as before).

    Call it before anything replaces ``forward`` on the model *instance*: accelerate's mixed precision
    (``Accelerator.prepare_model`` with bf16/fp16) sets ``model.forward`` to autocast and fp32-output
    wrappers around the class's ``forward`` as it is at that moment; enabled first, those wrappers wrap the
    response forward (so the log-probs are computed under autocast, as the model's own forward would be).
    `PerCETrainer` calls it in its constructor, before the Trainer prepares the model.

    Raises:
        ConfigError: if an instance-level ``forward`` already shadows the class's, which would make the
            response keyword reach the model's original forward and be ignored.
    """
    base = unwrap_model(model)
    if isinstance(base, _ResponseForward):
        _refuse_shadowed_forward(base)
        return
    cls = type(base)
    if cls not in _RESPONSE_CLASSES:
        namespace = {
            "__module__": cls.__module__,
            "__qualname__": cls.__qualname__,
            "forward": _response_forward_method(cls),
        }
        _RESPONSE_CLASSES[cls] = type(cls.__name__, (_ResponseForward, cls), namespace)
    base.__class__ = _RESPONSE_CLASSES[cls]
    _refuse_shadowed_forward(base)


def _require_response_forward(model: nn.Module) -> None:
    """Refuse a model that `enable_response_forward` has not prepared (its forward would ignore the keyword)."""
    base = unwrap_model(model)
    if not isinstance(base, _ResponseForward):
        raise ConfigError(
            f"{type(base).__name__} is not prepared for response log-probs: call "
            "percontrast.modeling.response_forward.enable_response_forward(model) once before scoring it (score_examples, "
            "score_units and PerCETrainer do; with accelerate's mixed precision, before accelerator.prepare)"
        )


def _refuse_shadowed_forward(base: nn.Module) -> None:
    """Refuse a model whose instance attribute ``forward`` hides the class's (response) forward."""
    shadow = vars(base).get("forward")
    if shadow is None or getattr(shadow, "__func__", None) is type(base).forward:
        return
    inner = shadow
    while hasattr(inner, "__wrapped__") or hasattr(inner, "model_forward"):
        inner = getattr(inner, "__wrapped__", None) or inner.model_forward
    if getattr(inner, "__func__", inner) is type(base).forward:
        return  # a wrapper (accelerate's autocast / fp32 outputs) around the response forward itself
    raise ConfigError(
        f"{type(base).__name__}.forward was replaced on the model instance (accelerate's mixed-precision "
        "wrapper does this in Accelerator.prepare) before percontrast enabled its response forward, so the "
        "response log-probs would be silently dropped; call percontrast.modeling.response_forward.enable_response_forward(model) "
        "before accelerator.prepare(model) (PerCETrainer and the percontrast commands do)"
    )


def _response_forward(
    base: nn.Module,
    original_forward: object,
    spec: dict,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    position_ids: torch.Tensor,
    **_ignored: object,  # what wrappers add (PEFT: labels=None, return_dict=None, ...)
) -> tuple[torch.Tensor, torch.Tensor]:
    """The body of the patched forward: decoder, response positions, chunked head (see the module doc)."""
    if not getattr(base, _HEAD_CHECKED, False):
        # Once per model: the model's own forward (logits_to_keep=1) against our head, same input.
        captured: list[torch.Tensor] = []
        handle = base.get_decoder().register_forward_hook(
            lambda _m, _i, out: captured.append(
                out.last_hidden_state if hasattr(out, "last_hidden_state") else out[0]
            )
        )
        try:
            with torch.no_grad():
                outputs = original_forward(
                    input_ids=input_ids[:1],
                    attention_mask=attention_mask[:1],
                    position_ids=position_ids[:1],
                    use_cache=False,
                    logits_to_keep=1,
                )
        finally:
            handle.remove()
        logits = outputs.logits if hasattr(outputs, "logits") else outputs[0]  # (1, 1, V)
        check_output_head(base, captured[0][:, -1], logits[:, -1])
    decoder_output = base.get_decoder()(
        input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids, use_cache=False
    )
    hidden = (
        decoder_output.last_hidden_state
        if hasattr(decoder_output, "last_hidden_state")
        else decoder_output[0]
    )
    response_start, response_ids = spec["response_start"], spec["response_ids"]
    mask = spec["response_mask"].bool()
    batch, width = response_ids.shape
    # The hidden state at t - 1 predicts the token at t.
    source = (response_start[:, None] - 1 + torch.arange(width, device=hidden.device)[None, :]).clamp(
        0, hidden.shape[1] - 1
    )
    rows = torch.arange(batch, device=hidden.device)[:, None].expand(batch, width)
    selected = hidden[rows[mask], source[mask]]  # (N, H)
    logp_flat, entropy_flat = chunked_logprobs(
        selected,
        response_ids[mask],
        OutputHead.of(base),
        chunk_size=spec["chunk_size"],
        with_entropy=spec["with_entropy"],
    )
    logp = torch.zeros((batch, width), dtype=torch.float32, device=hidden.device)
    entropy = torch.zeros_like(logp)
    return logp.masked_scatter(mask, logp_flat), entropy.masked_scatter(mask, entropy_flat)


def response_logprobs(
    model: nn.Module,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    position_ids: torch.Tensor,
    response_start: torch.Tensor,
    response_ids: torch.Tensor,
    response_mask: torch.Tensor,
    *,
    chunk_size: int = 512,
    with_entropy: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Log-probs of the response tokens under the model, laid out by response position.

    Args:
        model: a causal LM (possibly wrapped).
        input_ids, attention_mask, position_ids: (B, T) the padded ``prompt + response`` batch.
        response_start: (B,) index in the sequence of each row's first response token.
        response_ids: (B, R) the response tokens, padded.
        response_mask: (B, R) 1 on real response tokens.
        chunk_size: rows of the vocabulary projection computed at a time.
        with_entropy: also return the predictive entropy at each response position.

    Returns:
        ``(logp, entropy)``, each (B, R) float32 and zero where ``response_mask`` is 0.

    Raises:
        ConfigError: if ``model`` was not prepared with `enable_response_forward` (this function never
            changes the caller's model itself), or is wrapped in ``torch.nn.DataParallel``.
    """
    _refuse_data_parallel(model)
    _require_response_forward(model)
    return model(
        input_ids=input_ids,
        attention_mask=attention_mask,
        position_ids=position_ids,
        percontrast_response={
            "response_start": response_start,
            "response_ids": response_ids,
            "response_mask": response_mask,
            "chunk_size": chunk_size,
            "with_entropy": with_entropy,
        },
    )


def pair_logprobs(
    model: nn.Module,
    batch: dict[str, torch.Tensor],
    side: str,
    *,
    chunk_size: int = 512,
    with_entropy: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """`response_logprobs` of one side of a paired batch (`prompts.encoding.pad_pairs`, `training.collator.PairedCollator`).

    Args:
        model: a causal LM (possibly wrapped).
        batch: ``{side}_input_ids``, ``{side}_attention_mask``, ``{side}_position_ids``,
            ``{side}_response_start`` for ``side`` in ("with", "without"), and the shared ``response_ids``
            and ``response_mask``.
        side: ``"with"`` (the persona in the prompt) or ``"without"``.
        chunk_size, with_entropy: as in `response_logprobs`.
    """
    return response_logprobs(
        model,
        batch[f"{side}_input_ids"],
        batch[f"{side}_attention_mask"],
        batch[f"{side}_position_ids"],
        batch[f"{side}_response_start"],
        batch["response_ids"],
        batch["response_mask"],
        chunk_size=chunk_size,
        with_entropy=with_entropy,
    )
