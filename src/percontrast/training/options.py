"""PerCE's choices and their checks, without torch: the loss kinds, the weight modes, the clip range [m, M].

`training.losses` implements them; the config modules (`training.config`, `experiments.config`) validate
against them without importing torch, so that ``percontrast --help`` stays fast.
"""

from __future__ import annotations

import math
from numbers import Real
from typing import Literal

from percontrast.utils.errors import ConfigError

LOSS_KINDS = ("ce", "perce", "lossce", "entce")
WEIGHT_MODES = ("soft", "hard")
DEFAULT_MODE = {"ce": "soft", "perce": "soft", "lossce": "soft", "entce": "soft"}
# Hard mode's kept share: 20% for EntCE is the 80/20 paper's; for LossCE, Rho-1 treats its top-k% as a
# hyper-parameter and 0.6 is our choice (docs/training.md).
DEFAULT_HARD_FRACTION = {"lossce": 0.6, "entce": 0.2}
LossKind = Literal["ce", "perce", "lossce", "entce"]


def check_clip_range(clip_min: float, clip_max: float) -> None:
    """Check the clipping range [m, M] of the token weights (Eq. 6); errors say why each rule holds."""
    for name, value in (("clip_min", clip_min), ("clip_max", clip_max)):
        if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
            raise ConfigError(f"{name} must be a finite number, got {value!r}")
    if clip_min <= 0:
        # A weight of 0 or less removes a token from the loss (or trains it away from the reference):
        # the paper's m = 0.8 keeps every token in the objective with at least that weight.
        raise ConfigError(
            f"clip_min (m) must be > 0 so every response token keeps a positive weight, got {clip_min}"
        )
    if clip_min > clip_max:
        raise ConfigError(
            f"clip_min (m) must be <= clip_max (M): clip(x, m, M) is empty otherwise; got clip_min={clip_min}, "
            f"clip_max={clip_max}"
        )
