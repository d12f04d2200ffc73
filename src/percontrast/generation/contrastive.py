"""Persona-contrastive decoding: PerContrast's two distributions used to steer generation, no training.

PerContrast compares the next-token distribution with the persona in the prompt and without it. At
decoding time the same pair can amplify what the persona changes. At every step we sample from

    s_t(v) = log p(v | persona, x, y_<t) + a * (log p(v | persona, x, y_<t) - log p(v | x, y_<t))

(``a`` = ``contrast``; the idea of context-aware decoding, Shi et al. 2023, arXiv:2305.14739, and of
classifier-free guidance for language models, Sanchez et al. 2023, arXiv:2306.17806). With
``plausibility`` = b, only tokens whose with-persona probability is at least ``b`` times that of the
most likely token stay candidates (the adaptive plausibility constraint of contrastive decoding, Li et
al. 2023, arXiv:2210.15097): the contrast cannot promote a token the persona-conditioned model finds
implausible. Temperature applies to ``s_t`` afterwards, as it does to the logits in plain sampling.

How: `PersonaContrastProcessor` is a transformers ``LogitsProcessor`` handed to ``model.generate``,
which keeps running the with-persona prompt (its cache, sampling, EOS handling, left padding) exactly as
in plain generation. The processor runs the persona-free prompt through the same model with its own
KV cache, left-padded, with position ids counted over real tokens only, feeding it each step the token
generate just chose. ``generate`` applies custom processors before its temperature warper
(``GenerationMixin._get_logits_processor`` in transformers 5), so the processor sees the raw float32
logits of the with-persona branch.

Why not transformers' own ``UnbatchedClassifierFreeGuidanceLogitsProcessor`` (``guidance_scale``,
``negative_prompt_ids``)? Its formula is the same with ``guidance_scale = 1 + a`` on log-softmaxed
scores, but (1) it replaces the scores, so a plausibility processor placed after it no longer sees the
with-persona distribution, and processors passed to ``generate`` run after it; (2) its persona-free
branch takes position ids from the cache, counting left padding (exact only for relative-position models
such as RoPE, up to rounding); (3) at ``guidance_scale = 1`` it still returns ``log_softmax(scores)``,
which is not plain decoding bit for bit. `a = 0` without plausibility therefore bypasses the processor
entirely (`ContrastConfig.active`), and the tests check the processor's scores against an independent
computation from two full forwards and against transformers' processor.

    percontrast generate --model smollm2-135m-instruct --data test.jsonl --out preds.jsonl --contrast 1 --plausibility 0.1
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import transformers
from packaging.version import Version
from transformers import LogitsProcessor, PreTrainedModel
from transformers.cache_utils import DynamicCache

from percontrast.utils.errors import ConfigError

MAX_CONTRAST = 1000.0  # a * (a log-prob gap of ~60) stays far inside float16's range (65504)
# transformers 5.24 renamed the forward's `past_key_values` (argument and output field) to `cache`; the
# old name still works there but warns. Use whichever name the installed release has.
CACHE_ARG = "cache" if Version(transformers.__version__) >= Version("5.24") else "past_key_values"


@dataclass
class ContrastConfig:
    """Persona-contrastive decoding settings.

    Attributes:
        contrast: ``a`` in ``log p_with + a * (log p_with - log p_without)``; 0 is plain decoding.
        plausibility: ``b`` in (0, 1]: keep only tokens with ``p_with >= b * max p_with`` (None: all).
    """

    contrast: float = field(default=0.0, metadata={"help": "a: weight of the persona contrast; 0 = plain"})
    plausibility: float | None = field(
        default=None, metadata={"help": "b in (0, 1]: keep tokens with p_with >= b * max p_with"}
    )

    def __post_init__(self) -> None:
        if not math.isfinite(self.contrast) or not 0 <= self.contrast <= MAX_CONTRAST:
            raise ConfigError(
                f"contrast must be a number in [0, {MAX_CONTRAST:g}] (0: plain decoding; larger values turn "
                f"the scores into inf / nan, even in float32), got {self.contrast}"
            )
        if self.plausibility is not None and not (0 < self.plausibility <= 1):
            raise ConfigError(f"plausibility must be in (0, 1] or None, got {self.plausibility}")

    @property
    def active(self) -> bool:
        """Whether decoding differs from plain decoding (needs the persona-free prompt)."""
        return self.contrast != 0 or self.plausibility is not None


def contrast_scores(
    logp_with: torch.Tensor, logp_without: torch.Tensor, contrast: float, plausibility: float | None
) -> torch.Tensor:
    """The contrasted next-token scores.

    Args:
        logp_with: (B, V) log-probs with the persona (log-softmaxed).
        logp_without: (B, V) log-probs without the persona.
        contrast: ``a``.
        plausibility: ``b`` or None.

    Returns:
        (B, V) ``(1 + a) * logp_with - a * logp_without``, ``-inf`` where ``p_with < b * max p_with``.
    """
    scores = logp_with + contrast * (logp_with - logp_without)
    if plausibility is not None:
        threshold = logp_with.max(dim=-1, keepdim=True).values + math.log(plausibility)  # (B, 1)
        scores = scores.masked_fill(logp_with < threshold, -math.inf)
    return scores


class PersonaContrastProcessor(LogitsProcessor):
    """Replaces the with-persona logits by `contrast_scores`, running the persona-free prompt alongside.

    One instance serves one ``generate`` call (it holds that call's persona-free KV cache).

    Args:
        model: the generating model (the persona-free branch runs through it too).
        without_ids: (B, T') the persona-free prompts, left-padded, in the batch order of ``generate``.
        without_mask: (B, T') their attention mask, 0 on padding.
        config: the contrast settings.
        cache: optional KV cache already holding ``without_ids[:, :-1]`` (a prefix computed once and
            copied for several decodings of the same prompts); the first step then reads only the last
            prompt token. Default: the whole persona-free prompt is read at the first step.
    """

    def __init__(
        self,
        model: PreTrainedModel,
        without_ids: torch.Tensor,
        without_mask: torch.Tensor,
        config: ContrastConfig,
        cache: DynamicCache | None = None,
    ) -> None:
        self.model = model
        self.config = config
        self.next_ids = without_ids  # what the persona-free branch reads next: the prompt, then 1 token
        self.attention_mask = without_mask
        self.position_ids = (without_mask.cumsum(-1) - 1).clamp(min=0)  # positions of real tokens
        self.cache = cache
        if cache is not None:
            if cache.get_seq_length() != without_ids.shape[1] - 1:
                raise ValueError(
                    f"a prefilled cache must hold all but the last persona-free prompt token: it holds "
                    f"{cache.get_seq_length()}, the prompt has {without_ids.shape[1]}"
                )
            self.next_ids = without_ids[:, -1:]
            self.position_ids = self.position_ids[:, -1:]
        self.prompt_length: int | None = None  # length of generate's input_ids at the first step

    @torch.no_grad()
    def logp_without(self, input_ids: torch.Tensor) -> torch.Tensor:
        """(B, V) persona-free log-probs of the next token, given generate's ``input_ids`` (B, T)."""
        if self.prompt_length is None:  # first step: the prompt (or its last token, if prefilled)
            self.prompt_length = input_ids.shape[1]
            if self.cache is None:
                self.cache = DynamicCache(config=self.model.config)
        else:
            if input_ids.shape[1] != self.prompt_length + 1:
                raise RuntimeError(
                    "PersonaContrastProcessor missed a step: one instance serves one generate call, step by step"
                )
            self.prompt_length += 1
            self.next_ids = input_ids[:, -1:]  # the token generate just appended, (B, 1)
            ones = torch.ones_like(self.next_ids)
            self.attention_mask = torch.cat([self.attention_mask, ones], dim=1)
            self.position_ids = self.position_ids[:, -1:] + 1
        output = self.model(
            input_ids=self.next_ids,
            attention_mask=self.attention_mask,
            position_ids=self.position_ids,
            use_cache=True,
            **{CACHE_ARG: self.cache},
        )
        self.cache = getattr(output, CACHE_ARG)
        logits = output.logits[:, -1, :].to(torch.float32)  # (B, V), as generate casts its own
        return torch.log_softmax(logits, dim=-1)

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        logp_without = self.logp_without(input_ids)
        logp_with = torch.log_softmax(scores, dim=-1)
        return contrast_scores(logp_with, logp_without, self.config.contrast, self.config.plausibility)
