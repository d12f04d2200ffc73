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
from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from percontrast.utils.errors import ConfigError

_HEAD_CHECKED = "_percontrast_head_checked"  # attribute set on a model whose head passed the check


def unwrap_model(model: nn.Module) -> nn.Module:
    """The underlying ``PreTrainedModel`` behind DDP, ``torch.compile`` and PEFT wrappers."""
    while True:
        if hasattr(model, "module") and isinstance(model.module, nn.Module):  # DDP / DataParallel
            model = model.module
        elif hasattr(model, "_orig_mod"):  # torch.compile
            model = model._orig_mod
        elif hasattr(model, "get_base_model") and callable(model.get_base_model):  # PEFT
            model = model.get_base_model()
        else:
            return model


@dataclass
class OutputHead:
    """The output projection of a causal LM and its post-processing of logits."""

    weight: torch.Tensor  # (V, H)
    bias: torch.Tensor | None
    softcap: float | None  # Gemma-2 style final logit soft-capping
    scale: float | None  # Granite style division of the logits
    multiplier: float | None = None  # Cohere style multiplication of the logits
    module: nn.Module | None = None  # the head itself: calling it lets ZeRO-3 / FSDP gather its weight

    @classmethod
    def of(cls, model: nn.Module) -> OutputHead:
        base = unwrap_model(model)
        head = base.get_output_embeddings()
        if not isinstance(head, nn.Linear):
            raise TypeError(f"unsupported output head {type(head).__name__}; expected nn.Linear")
        config = base.config
        multiplier = getattr(base, "logit_scale", None)  # Cohere keeps config.logit_scale on the model
        return cls(
            weight=head.weight,
            bias=head.bias,
            softcap=getattr(config, "final_logit_softcapping", None),
            scale=getattr(config, "logits_scaling", None),
            multiplier=multiplier if isinstance(multiplier, int | float) else None,
            module=head,
        )

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """(N, H) -> float32 (N, V).

        The head module is called (not its weight read) so that engines which gather parameters in a
        module's forward hooks (DeepSpeed ZeRO-3) see the call, also when a checkpointed chunk is
        recomputed in the backward pass.
        """
        if self.module is not None:
            logits = self.module(hidden).float()
        else:
            logits = nn.functional.linear(hidden, self.weight, self.bias).float()
        if self.multiplier is not None:
            logits = logits * self.multiplier
        if self.scale:
            logits = logits / self.scale
        if self.softcap:
            logits = torch.tanh(logits / self.softcap) * self.softcap
        return logits


def _chunk_logprobs(
    hidden: torch.Tensor, targets: torch.Tensor, head: OutputHead, with_entropy: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    logits = head.logits(hidden)  # (n, V) float32
    log_normalizer = torch.logsumexp(logits, dim=-1)  # (n,)
    logp = logits.gather(-1, targets[:, None]).squeeze(-1) - log_normalizer
    if with_entropy:
        with torch.no_grad():  # entropy only feeds detached weights
            probs = torch.softmax(logits, dim=-1)
            entropy = log_normalizer - (probs * logits).sum(-1)
    else:
        entropy = torch.zeros_like(logp)
    return logp, entropy.detach()


def _autocast_state(device_type: str) -> tuple[bool, torch.dtype]:
    return torch.is_autocast_enabled(device_type), torch.get_autocast_dtype(device_type)


class _FusedHeadLogprobs(torch.autograd.Function):
    """Response log-probs through the output head, chunk by chunk, with a hand-written backward.

    The checkpointed path (`_chunk_logprobs` under `torch.utils.checkpoint`) lets autograd differentiate
    log_softmax and gather: its backward holds the recomputed logits, the softmax, the gradient of the
    logits and their cast at once, about five (chunk, V) float32 blocks (1.5 GiB at chunk 512 with
    Qwen3's 151,936-token vocabulary). Here the backward recomputes a chunk's logits once and turns them
    *in place* into the gradient of the log-probs with respect to the logits,
    ``g * (onehot(y) - softmax(z))``, then into the gradient of the raw head output (soft-capping,
    scaling, multiplier undone in place), and projects it to the hidden states and the head's weight: the
    peak is about one block (two with a soft-cap), beside the (V, H) float32 weight gradient. This is the idea of fused linear cross-entropy (Liger Kernel), written for
    our per-token upstream gradients (the PerCE weights) and the head post-processing of `OutputHead`.
    Only the row-wise log-normaliser (N,) is kept from the forward.

    Under autocast the backward computes in the forward's autocast dtype (inputs cast once, before the
    chunk loop), so the recomputed logits are the forward's and the projections run in the precision
    autograd's own backward of the head would use.
    """

    @staticmethod
    def forward(
        ctx: object,
        hidden: torch.Tensor,
        weight: torch.Tensor,
        bias: torch.Tensor | None,
        targets: torch.Tensor,
        head: OutputHead,
        chunk_size: int,
        with_entropy: bool,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        count = hidden.shape[0]
        logp = torch.empty(count, dtype=torch.float32, device=hidden.device)
        log_normalizer = torch.empty_like(logp)
        entropy = torch.zeros_like(logp)
        for start in range(0, count, chunk_size):
            rows = slice(start, start + chunk_size)
            # (n, V) float32; post-processed in place: the linear's output is a fresh tensor
            logits = _post_process(
                nn.functional.linear(hidden[rows], weight, bias).float(), head, inplace=True
            )
            target_logits = logits.gather(-1, targets[rows, None]).squeeze(-1)
            if with_entropy:
                normalizer = torch.logsumexp(logits, dim=-1)
                probs = torch.softmax(logits, dim=-1)
                entropy[rows] = normalizer - (probs * logits).sum(-1)
                del probs
            else:  # logsumexp in place (max, exp, sum): no second (n, V) block
                peak = logits.amax(dim=-1, keepdim=True)
                normalizer = logits.sub_(peak).exp_().sum(-1).log_() + peak.squeeze(-1)
            log_normalizer[rows] = normalizer
            logp[rows] = target_logits - normalizer
            del logits
        ctx.save_for_backward(hidden, weight, bias, targets, log_normalizer)
        ctx.head, ctx.chunk_size = head, chunk_size
        ctx.autocast = _autocast_state(hidden.device.type)
        ctx.mark_non_differentiable(entropy)
        return logp, entropy

    @staticmethod
    def backward(ctx: object, grad_logp: torch.Tensor, _grad_entropy: torch.Tensor) -> tuple:
        hidden, weight, bias, targets, log_normalizer = ctx.saved_tensors
        head: OutputHead = ctx.head
        enabled, dtype = ctx.autocast
        need_hidden, need_weight, need_bias = ctx.needs_input_grad[:3]
        # The forward's precision: under autocast its linear ran in the autocast dtype. Cast once, here,
        # not per chunk (an autocast context per chunk would cast the (V, H) weight again every time).
        compute_dtype = dtype if enabled else torch.promote_types(hidden.dtype, weight.dtype)
        hidden_c, weight_c = hidden.to(compute_dtype), weight.to(compute_dtype)
        bias_c = bias.to(compute_dtype) if bias is not None else None
        grad_hidden = torch.empty_like(hidden) if need_hidden else None
        grad_weight = torch.zeros_like(weight, dtype=torch.float32) if need_weight else None
        grad_bias = torch.zeros_like(bias, dtype=torch.float32) if need_bias else None
        for start in range(0, hidden.shape[0], ctx.chunk_size):
            rows = slice(start, start + ctx.chunk_size)
            upstream = grad_logp[rows].float()[:, None]  # (n, 1)
            # z, (n, V) float32: the forward's logits again, post-processed in place
            grad = _post_process(
                nn.functional.linear(hidden_c[rows], weight_c, bias_c).float(), head, inplace=True
            )
            capped = grad.clone() if head.softcap else None  # the soft-cap's derivative needs its output
            # d logp / dz = onehot(y) - softmax(z), times the upstream gradient; in place.
            grad.sub_(log_normalizer[rows, None]).exp_().mul_(-upstream)
            grad.scatter_add_(-1, targets[rows, None], upstream)
            _undo_post_process(grad, head, capped)
            del capped
            grad_raw = grad.to(compute_dtype)  # the same block when float32
            if need_hidden:
                grad_hidden[rows] = (grad_raw @ weight_c).to(hidden.dtype)
            if need_weight:
                grad_weight += (grad_raw.T @ hidden_c[rows]).float()
            if need_bias:
                grad_bias += grad.sum(0)
            del grad, grad_raw
        return (
            grad_hidden,
            grad_weight.to(weight.dtype) if need_weight else None,
            grad_bias.to(bias.dtype) if need_bias else None,
            None,
            None,
            None,
            None,
        )


def _post_process(logits: torch.Tensor, head: OutputHead, inplace: bool = False) -> torch.Tensor:
    """`OutputHead.logits`' post-processing of float32 logits: multiplier, scale, soft-cap."""
    if not inplace:
        logits = logits.clone() if (head.multiplier is not None or head.scale or head.softcap) else logits
    if head.multiplier is not None:
        logits.mul_(head.multiplier)
    if head.scale:
        logits.div_(head.scale)
    if head.softcap:
        logits.div_(head.softcap).tanh_().mul_(head.softcap)
    return logits


def _undo_post_process(grad: torch.Tensor, head: OutputHead, capped: torch.Tensor | None) -> None:
    """The chain rule through `_post_process`, in place: from d/d(its output) to d/d(its input)."""
    if head.softcap:
        # z = c * tanh(l / c): dz/dl = 1 - (z / c)^2, computed in the block that holds z
        grad.mul_(capped.div_(head.softcap).square_().neg_().add_(1))
    if head.scale:
        grad.div_(head.scale)
    if head.multiplier is not None:
        grad.mul_(head.multiplier)


def _can_fuse(head: OutputHead) -> bool:
    """Whether the head's weight may be read outside its module's forward call.

    DeepSpeed ZeRO-3 partitions parameters and gathers them only in the module's forward hooks (its
    parameters carry ``ds_id``), and a head with hooks of its own (sharded on its own, or instrumented)
    may rely on them too; so may a head whose class has a forward of its own (a scaled or quantised
    Linear). Those keep the checkpointed path, which calls the module for every chunk.
    """
    if hasattr(head.weight, "ds_id"):
        return False
    module = head.module
    if module is not None and (
        type(module).forward is not nn.Linear.forward
        or "forward" in vars(module)  # accelerate's device_map / offloading hooks replace it per instance
        or module._forward_pre_hooks
        or module._forward_hooks
        or nn.modules.module._global_forward_pre_hooks
        or nn.modules.module._global_forward_hooks
    ):
        return False
    return type(head.weight) in (torch.Tensor, nn.Parameter)


def chunked_logprobs(
    hidden: torch.Tensor,
    targets: torch.Tensor,
    head: OutputHead,
    *,
    chunk_size: int = 512,
    with_entropy: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Log-probability of each target token, and optionally the predictive entropy.

    Args:
        hidden: (N, H) final hidden states at the positions that predict ``targets``.
        targets: (N,) token ids.
        head: the output projection.
        chunk_size: rows projected to the vocabulary at a time.
        with_entropy: also return the entropy of the predictive distribution (no gradient).

    Returns:
        ``(logp, entropy)``, each (N,) float32; entropy is zeros unless asked for.
    """
    if hidden.shape[0] == 0:
        empty = hidden.new_zeros(0, dtype=torch.float32)
        return empty, empty
    if _can_fuse(head):
        return _FusedHeadLogprobs.apply(
            hidden, head.weight, head.bias, targets, head, chunk_size, with_entropy
        )
    logps, entropies = [], []
    use_checkpoint = torch.is_grad_enabled() and (hidden.requires_grad or head.weight.requires_grad)
    for start in range(0, hidden.shape[0], chunk_size):
        rows = slice(start, start + chunk_size)
        if use_checkpoint:
            logp, entropy = checkpoint(
                _chunk_logprobs, hidden[rows], targets[rows], head, with_entropy, use_reentrant=False
            )
        else:
            logp, entropy = _chunk_logprobs(hidden[rows], targets[rows], head, with_entropy)
        logps.append(logp)
        entropies.append(entropy)
    return torch.cat(logps), torch.cat(entropies)


def check_output_head(model: nn.Module, last_hidden: torch.Tensor, last_logits: torch.Tensor) -> None:
    """Check `OutputHead` against the model's own logits, once per model (cached on the model).

    Args:
        model: the model (possibly wrapped).
        last_hidden: (B, H) final hidden states at the last position of a forward.
        last_logits: (B, V) the model's own logits at that position, from the same forward.

    Raises:
        ConfigError: if they differ by more than the dtype's rounding allows (float32: 1e-4, lower
            precision: 2e-2, relative to the largest logit and at least absolute).
    """
    base = unwrap_model(model)
    if getattr(base, _HEAD_CHECKED, False):
        return
    with torch.no_grad():
        expected = last_logits.detach().float()
        ours = OutputHead.of(model).logits(last_hidden.detach())
        if ours.shape != expected.shape:
            raise ConfigError(
                f"{type(base).__name__}: the output embedding gives {tuple(ours.shape)} logits where the model's "
                f"forward gives {tuple(expected.shape)}; percontrast.modeling.response_forward cannot score this model"
            )
        relative = 1e-4 if last_logits.dtype in (torch.float32, torch.float64) else 2e-2
        tolerance = relative * max(1.0, float(expected.abs().max()))
        difference = float((ours - expected).abs().max())
    if not difference <= tolerance:  # also catches NaN
        raise ConfigError(
            f"{type(base).__name__}: the logits percontrast computes from the output embedding (weight, bias, "
            f"final_logit_softcapping, logits_scaling, logit_scale) differ from the model's own by up to "
            f"{difference:.3g} (tolerance {tolerance:.3g}) at the last position; this model post-processes its "
            "logits in a way percontrast.modeling.response_forward does not reproduce, so its scores would be wrong. "
            "Extend OutputHead for it, or use another model"
        )
    setattr(base, _HEAD_CHECKED, True)


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
    refuses a model that was not prepared; `scoring.score_examples`, `scoring.score_units` and `PerCETrainer`
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
    """`response_logprobs` of one side of a paired batch (`encoding.pad_pairs`, `collator.PairedCollator`).

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
