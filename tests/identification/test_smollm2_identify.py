"""The real model on the whole bundled dev set: PIR must separate personal from other tokens.

Measured on 2026-11-28 (docs/identification.md): AUROC 0.648 with identify's default template. A broken
label alignment or a PIR sign error gives about 0.5 or below, which this catches.
"""

from __future__ import annotations

import pytest

from percontrast.data.persona_qa import read_persona_qa
from percontrast.identification import run_identification
from percontrast.identification.config import IdentifyConfig

pytestmark = [pytest.mark.smollm2, pytest.mark.slow]


def test_pir_separates_personal_tokens_on_the_dev_set(smollm2) -> None:
    config = IdentifyConfig(methods="percontrast,percontrast_word")
    result = run_identification(*smollm2, read_persona_qa(), config, progress=False)
    assert result.n_tokens > 1500 and 0.2 < result.n_personal / result.n_tokens < 0.4
    assert result.auroc > 0.6
    assert (
        result.auroc_word > result.auroc
    )  # whole words carry the persona's effect, not only their first piece
    assert result.methods["percontrast"].f1 > 0.35
