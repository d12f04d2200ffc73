"""PIR from the two log-probs of a response token (Eq. 2), in the two forms the package offers.

``log`` is the paper's Personal Influence Ratio, ``log P(y_i | persona, x, y_<i) - log P(y_i | x, y_<i)``;
``ratio`` is its ``exp``. Scoring (`scoring.pir`) and PerCE's weights (`training.losses`) both call
`pir_from_logprobs`, so the formula is written once. The module imports nothing heavy: config modules
read `PIR_FORMS` from here without importing torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from percontrast.utils.errors import ConfigError

if TYPE_CHECKING:
    import torch

PIR_FORMS = ("log", "ratio")
PirForm = Literal["log", "ratio"]  # the values of PIR_FORMS


def pir_from_logprobs(
    logp_with: torch.Tensor, logp_without: torch.Tensor, form: PirForm = "log"
) -> torch.Tensor:
    """PIR (same shape as the inputs) from the two log-probs: ``log`` is Eq. 2 (a log-ratio); ``ratio`` is
    its ``exp``."""
    if form not in PIR_FORMS:
        raise ConfigError(f"pir form must be one of {PIR_FORMS}, got {form!r}")
    log_ratio = logp_with - logp_without
    return log_ratio if form == "log" else log_ratio.exp()
