"""`EvaluateConfig`: the one definition of ``percontrast evaluate``'s settings.

``percontrast evaluate`` builds its flags from these fields (defaults and help text; the judge's,
``--judge-*``, from its `JudgeConfig`) and `evaluation.files.evaluate_predictions` takes the dataclass.
Kept free of torch so that ``percontrast --help`` stays fast.

    result = evaluate_predictions("predictions.jsonl", EvaluateConfig(metrics="rouge"), data_path="test.jsonl")
"""

from __future__ import annotations

from dataclasses import dataclass, field

from percontrast.evaluation.judge_config import JudgeConfig

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
    judge: JudgeConfig = field(
        default_factory=JudgeConfig,
        metadata={"help": "the LLM judge of the metric 'judge' (Table 10's prompts)", "prefix": "judge"},
    )
