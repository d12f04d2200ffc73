"""`GroupsConfig`: the one definition of ``percontrast groups``' settings (issue 21, section 1).

``percontrast groups`` builds its flags from these fields, and `percontrast.analysis.token_groups` takes its
defaults from them. Kept free of torch so that ``percontrast --help`` stays fast.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from percontrast.utils.errors import ConfigError

DEFAULT_THRESHOLD = 1.0  # a token is personal when its PIR under the reference model exceeds this


@dataclass
class GroupsConfig:
    """How the token groups are defined and measured."""

    reference: str | None = field(
        default=None,
        metadata={
            "help": "model name (or alias/directory) whose PIR defines the groups (default: the first)"
        },
    )
    threshold: float = field(
        default=DEFAULT_THRESHOLD, metadata={"help": "reference PIR above which a token is personal"}
    )
    baseline: str | None = field(
        default=None, metadata={"help": "model differences are taken from (default: the first)"}
    )
    template: str | None = field(
        default=None, metadata={"help": "prompt template (default: each example's own)"}
    )
    max_length: int | None = field(
        default=None, metadata={"help": "truncate the persona so prompt+response fits"}
    )
    batch_size: int = field(default=16, metadata={"help": "most sequences per forward"})
    bootstrap: int = field(default=1000, metadata={"help": "bootstrap resamples (0: no intervals)"})

    def __post_init__(self) -> None:
        if not math.isfinite(self.threshold):
            raise ConfigError(f"threshold must be a finite number, got {self.threshold}")
        if self.batch_size < 1:
            raise ConfigError(f"batch_size must be a positive integer, got {self.batch_size}")
        if self.bootstrap < 0:
            raise ConfigError(f"bootstrap must be >= 0, got {self.bootstrap}")
