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
    "load_model": "percontrast.modeling",
    "Example": "percontrast.data.schema",
    "read_examples": "percontrast.data.schema",
    "write_jsonl": "percontrast.data.schema",
    "score_examples": "percontrast.scoring",
    "TokenScores": "percontrast.scoring",
    "token_weights": "percontrast.losses",
    "weighted_ce": "percontrast.losses",
    "PerCEConfig": "percontrast.perce_config",
    "PerCETrainer": "percontrast.training",
    "train": "percontrast.training",
    "DecodingConfig": "percontrast.generation_config",
    "SamplingConfig": "percontrast.generation_config",
    "generate_predictions": "percontrast.generation",
    "ContrastConfig": "percontrast.decoding",
    "run_identification": "percontrast.identification",
    "get_template": "percontrast.templates",
    "register_template": "percontrast.templates",
    "PromptTemplate": "percontrast.templates",
}
__all__ = sorted(_API) + ["__version__"]


def __getattr__(name: str) -> Any:
    if name in _API:
        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'percontrast' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
