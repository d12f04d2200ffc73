"""`EvaluateConfig`: the one definition of ``percontrast evaluate``'s metric settings.

``percontrast evaluate`` builds its flags from these fields (defaults and help text) and passes them
to `evaluation.evaluate_run.evaluate_predictions` with `EvaluateConfig.evaluate_kwargs`; the judge's own
flags (``--judge-*``) are `commands.evaluate.add_judge_arguments`. Kept free of torch so that
``percontrast --help`` stays fast.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ROUGE_TOKENIZERS = ("default", "multilingual")


@dataclass
class EvaluateConfig:
    """Which metrics score a predictions file, and how."""

    metrics: str = field(
        default="rouge,meteor",
        metadata={"help": "comma list of rouge, meteor, judge (default: rouge,meteor)"},
    )
    bootstrap: bool = field(
        default=False, metadata={"help": "also report evaluate's bootstrap ROUGE (seeded)"}
    )
    seed: int = field(default=0, metadata={"help": "bootstrap seed (default: 0)"})
    benchmark: str | None = field(
        default=None,
        metadata={
            "help": "whose rule for empty predictions applies: lamp scores every pair (empty = 0), longlamp "
            "drops pairs with a '' side (default: from --data's task; lamp when unknown)",
            "choices": ("lamp", "longlamp"),
        },
    )
    partial: bool = field(
        default=False,
        metadata={
            "help": "with --data, score only the predicted examples instead of failing on missing ids "
            "(the output is labelled partial)"
        },
    )
    rouge_tokenizer: str = field(
        default="default",
        metadata={
            "help": "default: rouge-score's [a-z0-9] tokenizer, the official LaMP/LongLaMP setting (drops "
            "other scripts); multilingual: Unicode words, one token per CJK character, for other data",
            "choices": ROUGE_TOKENIZERS,
        },
    )

    def evaluate_kwargs(self) -> dict[str, Any]:
        """The keyword arguments of `evaluation.evaluate_run.evaluate_predictions` (but the metrics list)."""
        return dict(
            bootstrap=self.bootstrap,
            seed=self.seed,
            benchmark=self.benchmark,
            partial=self.partial,
            rouge_tokenizer=self.rouge_tokenizer,
        )
