"""Which tokens of a persona-grounded answer carry the persona? (the paper's Appendix A)

Three methods find personal tokens in the answers of an annotated persona QA set and are scored
against the annotation at the token level:

- PerContrast: PIR (Eq. 2) above a threshold (1, as in the paper);
- word matching: content words shared by the persona and the answer (`word_match`);
- LLM as a judge: the model lists the answer's persona keywords with the Appendix D.2 prompt (`llm_judge`).

Run ``percontrast identify --model smollm2-135m-instruct --data persona_tokens.jsonl --out results.json
--plot fig.png``; from Python, `run_identification` and `plot_pir_breakdown`. docs/identification.md has
the rule that decides whether a token is correct, and the measured numbers.
"""

from percontrast.identification.identify import (
    ALL_METHODS,
    DEFAULT_IDENTIFY_TEMPLATE,
    METHODS,
    IdentificationResult,
    run_identification,
)
from percontrast.identification.metrics import PRF, PirBin, auroc, pir_breakdown, precision_recall_f1
from percontrast.identification.plot import plot_pir_breakdown

__all__ = [
    "ALL_METHODS",
    "DEFAULT_IDENTIFY_TEMPLATE",
    "METHODS",
    "PRF",
    "IdentificationResult",
    "PirBin",
    "auroc",
    "pir_breakdown",
    "plot_pir_breakdown",
    "precision_recall_f1",
    "run_identification",
]
