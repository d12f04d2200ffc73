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

from percontrast.utils.lazy import lazy_exports

_EXPORTS = {
    "ALL_METHODS": "percontrast.identification.identify",
    "DEFAULT_IDENTIFY_TEMPLATE": "percontrast.identification.identify",
    "METHODS": "percontrast.identification.identify",
    "IdentificationResult": "percontrast.identification.identify",
    "run_identification": "percontrast.identification.identify",
    "PRF": "percontrast.identification.metrics",
    "PirBin": "percontrast.identification.metrics",
    "auroc": "percontrast.identification.metrics",
    "pir_breakdown": "percontrast.identification.metrics",
    "precision_recall_f1": "percontrast.identification.metrics",
    "plot_pir_breakdown": "percontrast.identification.plot",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
