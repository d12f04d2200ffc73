"""`SamplingConfig` and `DecodingConfig`: the one definition of ``percontrast generate``'s settings.

``percontrast generate`` builds its flags from these fields (defaults and help text) and
`generation.generate_predictions` takes a `DecodingConfig`. The defaults are the paper's sampling
(Appendix B): temperature 0.4, at most 512 new tokens, pure temperature sampling. Kept free of torch
so that ``percontrast --help`` stays fast. (`DecodingConfig` was called ``GenerationConfig``, the
name of transformers' own class; `SamplingConfig.hf_config` builds that one.)

    config = DecodingConfig(sampling=SamplingConfig(temperature=0.7), batch_size=4)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from percontrast.utils.errors import ConfigError

if TYPE_CHECKING:
    from transformers import GenerationConfig as HFGenerationConfig
    from transformers.tokenization_utils_base import PreTrainedTokenizerBase

    from percontrast.generation.contrastive import ContrastConfig

BACKENDS = ("transformers", "vllm")


@dataclass
class SamplingConfig:
    """How to decode.

    Attributes:
        max_new_tokens: most tokens generated per answer (paper: 512).
        temperature: sampling temperature (paper: 0.4); ignored when ``greedy``.
        greedy: decode greedily instead of sampling.
        seed: base seed of the sampler.
    """

    max_new_tokens: int = field(default=512, metadata={"help": "most new tokens per answer (default: 512)"})
    temperature: float = field(
        default=0.4, metadata={"help": "sampling temperature (default: 0.4, the paper's)"}
    )
    greedy: bool = field(default=False, metadata={"help": "greedy decoding instead of sampling"})
    seed: int = field(default=0, metadata={"help": "sampling seed (default: 0)"})

    def __post_init__(self) -> None:
        if self.max_new_tokens < 1:
            raise ConfigError(f"max_new_tokens must be >= 1, got {self.max_new_tokens}")
        if not self.greedy and not (self.temperature > 0 and math.isfinite(self.temperature)):
            raise ConfigError(
                f"temperature must be a finite number > 0 when sampling, got {self.temperature}; "
                "use greedy=True for greedy decoding"
            )

    def hf_config(self, tokenizer: PreTrainedTokenizerBase) -> HFGenerationConfig:
        """A complete transformers GenerationConfig (nothing left to the model's defaults)."""
        from transformers import GenerationConfig as HFGenerationConfig

        common = dict(
            max_new_tokens=self.max_new_tokens,
            pad_token_id=tokenizer.pad_token_id,
            eos_token_id=tokenizer.eos_token_id,
        )
        if self.greedy:
            return HFGenerationConfig(do_sample=False, **common)
        return HFGenerationConfig(do_sample=True, temperature=self.temperature, top_k=0, top_p=1.0, **common)


@dataclass
class DecodingConfig:
    """``percontrast generate``'s settings.

    Attributes:
        sampling: decoding settings.
        template: prompt template name; None: each example's own (`prompts.registry.resolve_template`).
        with_persona: include the persona in the prompt (False: the no-persona ablation).
        batch_size: examples per ``generate`` call.
        backend: ``transformers`` or ``vllm`` (optional, GPU).
        contrast: persona-contrastive decoding weight ``a`` (`percontrast.generation.contrastive`); 0 is plain.
        plausibility: keep only tokens with ``p_with >= b * max p_with`` (contrastive decoding), or None.
    """

    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    template: str | None = field(
        default=None,
        metadata={
            "help": "prompt template name (default: each example's own `template` field, else persona_chat)"
        },
    )
    with_persona: bool = field(
        default=True,
        metadata={"help": "leave the persona out of the prompt (ablation)", "flag": "--no-persona"},
    )
    batch_size: int = field(default=8, metadata={"help": "examples per generate call (default: 8)"})
    backend: str = field(
        default="transformers", metadata={"help": "vllm needs the vllm package (GPU)", "choices": BACKENDS}
    )
    contrast: float = field(
        default=0.0,
        metadata={
            "help": "persona-contrastive decoding: sample from log p_with + A * (log p_with - log p_without); "
            "the persona-free prompt runs alongside (about 2x the decoding cost). 0 (default): plain decoding",
            "metavar": "A",
        },
    )
    plausibility: float | None = field(
        default=None,
        metadata={
            "help": "with contrast: keep only tokens whose with-persona probability is >= B times the best "
            "one's (B in (0, 1]; default: no constraint)",
            "metavar": "B",
        },
    )

    @property
    def contrast_config(self) -> ContrastConfig:
        from percontrast.generation.contrastive import ContrastConfig

        return ContrastConfig(contrast=self.contrast, plausibility=self.plausibility)

    def __post_init__(self) -> None:
        from percontrast.prompts.registry import get_template

        if self.batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {self.batch_size}")
        if self.backend not in BACKENDS:
            raise ConfigError(f"backend must be one of {list(BACKENDS)}, got {self.backend!r}")
        if self.template is not None:
            get_template(self.template)
        if self.contrast_config.active:
            if not self.with_persona:
                raise ConfigError(
                    "contrast/plausibility compare the prompt with and without persona: they need with_persona=True"
                )
            if self.backend != "transformers":
                raise ConfigError("contrast/plausibility need the transformers backend (not vllm)")
