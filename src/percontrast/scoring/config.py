"""`ScoreConfig`: the one definition of ``percontrast score``'s settings.

``percontrast score`` builds its flags from these fields (defaults and help text) and passes them to
`scoring.score_examples` with `ScoreConfig.score_kwargs`. Kept free of torch so that
``percontrast --help`` stays fast.

    scores = score_examples(model, tokenizer, examples, **ScoreConfig(pir_form="ratio").score_kwargs())
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from percontrast.utils.errors import ConfigError

PIR_FORMS = ("log", "ratio")


@dataclass
class ScoreConfig:
    """How PerContrast token scores (PIR, Eq. 2) are computed."""

    template: str | None = field(
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

    def score_kwargs(self) -> dict[str, Any]:
        """The keyword arguments of `scoring.score_examples`."""
        return dict(
            template=self.template,
            pir_form=self.pir_form,
            max_batch_size=self.batch_size,
            max_batch_tokens=self.max_batch_tokens,
            max_length=self.max_length,
        )
