"""`ScoreConfig`: the one definition of ``percontrast score``'s settings.

``percontrast score`` builds its flags from these fields (defaults and help text) and
`scoring.pir.score_examples` takes the dataclass. Kept free of torch so that ``percontrast --help`` stays
fast.

    scores = score_examples(model, tokenizer, examples, ScoreConfig(pir_form="ratio"))
"""

from __future__ import annotations

from dataclasses import dataclass, field

from percontrast.prompts.template import PromptTemplate
from percontrast.scoring.formula import PIR_FORMS
from percontrast.utils.errors import ConfigError


@dataclass
class ScoreConfig:
    """How PerContrast token scores (PIR, Eq. 2) are computed (``template``: a name, or in the library a
    `PromptTemplate`)."""

    template: str | PromptTemplate | None = field(
        default=None,
        metadata={
            "help": "prompt template name (default: each example's own `template` field, else persona_chat)"
        },
    )
    pir_form: str = field(
        default="log",
        metadata={"help": "log: Eq. 2 of the paper (default); ratio: exp of it", "choices": PIR_FORMS},
    )
    batch_size: int = field(default=16, metadata={"help": "most sequences per forward"})
    max_batch_tokens: int = field(default=8192, metadata={"help": "most padded tokens per forward"})
    max_length: int | None = field(
        default=None, metadata={"help": "truncate the persona so prompt+response fits"}
    )

    def __post_init__(self) -> None:
        if self.pir_form not in PIR_FORMS:
            raise ConfigError(f"pir_form must be one of {PIR_FORMS}, got {self.pir_form!r}")
        for name, value in (("batch size", self.batch_size), ("max batch tokens", self.max_batch_tokens)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name} must be a positive integer, got {value}")
