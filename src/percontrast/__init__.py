"""percontrast: token-level personalization of LLMs (PerContrast scoring, PerCE training).

Implements Zhang et al., 2026, "Rethinking Personalization in Large Language Models at the Token Level"
(arXiv:2603.06595). The public API is imported lazily, so ``import percontrast`` (and the CLI) stay fast:

    from percontrast import load_model, Example, score_examples
    model, tokenizer = load_model("smollm2-135m-instruct")
    scores = score_examples(model, tokenizer, [Example(id="x", persona=["I sew."], query="Hobby?",
                                                       response="I stitch clothes.")])
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_API = {
    "load_model": "percontrast.modeling.load",
    "Example": "percontrast.data.schema",
    "read_examples": "percontrast.data.schema",
    "write_jsonl": "percontrast.data.schema",
    "score_examples": "percontrast.scoring.pir",
    "TokenScores": "percontrast.scoring.pir",
    "token_weights": "percontrast.training.losses",
    "weighted_ce": "percontrast.training.losses",
    "PerCEConfig": "percontrast.training.config",
    "PerCETrainer": "percontrast.training.trainer",
    "train": "percontrast.training.trainer",
    "DecodingConfig": "percontrast.generation.config",
    "SamplingConfig": "percontrast.generation.config",
    "generate_predictions": "percontrast.generation.generate",
    "ContrastConfig": "percontrast.generation.contrastive",
    "run_identification": "percontrast.identification",
    "get_template": "percontrast.prompts.registry",
    "register_template": "percontrast.prompts.registry",
    "PromptTemplate": "percontrast.prompts.registry",
}
__all__ = sorted(_API) + ["__version__"]


def __getattr__(name: str) -> Any:
    if name in _API:
        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'percontrast' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
