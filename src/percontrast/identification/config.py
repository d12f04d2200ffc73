"""`IdentifyConfig`: the one definition of ``percontrast identify``'s settings (Section 5.1, Figure 5).

``percontrast identify`` builds its flags from these fields (defaults and help text) and passes them
to `identification.run_identification` with `IdentifyConfig.run_kwargs`. Kept free of torch so that
``percontrast --help`` stays fast.

    result = run_identification(model, tokenizer, examples, judge=None, **IdentifyConfig().run_kwargs())
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from percontrast.evaluation.judge_config import ChatModelConfig


@dataclass
class IdentifyConfig:
    """Which methods find the personal tokens, and how PIR and the judge are run."""

    methods: str = field(
        default="percontrast,word_match,llm_judge",
        metadata={
            "help": "comma list of percontrast, word_match, llm_judge (default: these three), percontrast_word "
            "(PerContrast with word-level PIR), percontrast_facts and percontrast_facts_word (PIR of each "
            "persona fact alone, maximum over facts; one more forward per fact)"
        },
    )
    threshold: float = field(default=1.0, metadata={"help": "PIR above this is personal (default 1)"})
    template: str | None = field(
        default=None, metadata={"help": "prompt template for PIR (default: identify's own)"}
    )
    donors: int = field(
        default=0,
        metadata={
            "help": "0: PIR with the persona removed (Eq. 2, default); K>0: persona-free term marginalised "
            "over K other personas"
        },
    )
    bootstrap: int = field(
        default=1000, metadata={"help": "resamples of the answers for 95%% intervals (0: none)"}
    )
    batch_size: int = field(default=16, metadata={"help": "sequences per forward / generate call"})
    judge_max_new_tokens: int = field(
        default=32, metadata={"help": "length of the judge's keyword reply (greedy)"}
    )
    judge_url: str | None = field(
        default=None, metadata={"help": "OpenAI-compatible API root, e.g. http://127.0.0.1:8000/v1"}
    )
    judge_api_model: str | None = field(default=None, metadata={"help": "model name sent to --judge-url"})
    judge_key_env: str = field(
        default=ChatModelConfig.key_env, metadata={"help": "environment variable holding the API key"}
    )

    @property
    def method_list(self) -> tuple[str, ...]:
        """``methods`` split at the commas."""
        return tuple(m.strip() for m in self.methods.split(",") if m.strip())

    def run_kwargs(self) -> dict[str, Any]:
        """The keyword arguments of `identification.run_identification` (all but ``judge``)."""
        return dict(
            methods=self.method_list,
            threshold=self.threshold,
            template=self.template,
            batch_size=self.batch_size,
            judge_max_new_tokens=self.judge_max_new_tokens,
            donors=self.donors,
            bootstrap=self.bootstrap,
        )
