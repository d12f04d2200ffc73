"""`IdentifyConfig`: the one definition of ``percontrast identify``'s settings (Section 5.1, Figure 5).

``percontrast identify`` builds its flags from these fields (defaults and help text; the keyword judge's,
``--judge-*``, from its `ChatModelConfig`) and `identification.run_identification` takes the dataclass.
Kept free of torch so that ``percontrast --help`` stays fast.

    result = run_identification(model, tokenizer, examples, IdentifyConfig(methods="percontrast,word_match"))
"""

from __future__ import annotations

from dataclasses import dataclass, field

from percontrast.modeling.config import ChatModelConfig
from percontrast.prompts.template import PromptTemplate


def keyword_judge() -> ChatModelConfig:
    """The LLM-judge baseline's model: greedy keyword lists of at most 32 tokens; no model of its own
    (the model under test judges, unless a url or a model is given)."""
    return ChatModelConfig(temperature=0.0, max_tokens=32)


@dataclass
class IdentifyConfig:
    """Which methods find the personal tokens, and how PIR and the judge are run (``template``: a name, or
    in the library a `PromptTemplate`)."""

    methods: str = field(
        default="percontrast,word_match,llm_judge",
        metadata={
            "help": "comma list of percontrast, word_match, llm_judge (default: these three), percontrast_word "
            "(PerContrast with word-level PIR), percontrast_facts and percontrast_facts_word (PIR of each "
            "persona fact alone, maximum over facts; one more forward per fact)"
        },
    )
    threshold: float = field(default=1.0, metadata={"help": "PIR above this is personal (default 1)"})
    template: str | PromptTemplate | None = field(
        default=None,
        metadata={"help": "prompt template for PIR (default: identify's own)"},
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
    judge: ChatModelConfig = field(
        default_factory=keyword_judge,
        metadata={
            "help": "the LLM judge baseline's model (default: the model under test, greedy)",
            "prefix": "judge",
            "role": "keyword judge",
            "title": "judge (default: the --model itself)",
            # The command's judge flags (the model under test judges unless --judge-url names a server):
            "only": ("url", "api_model", "key_env", "max_tokens"),
            "flags": {"max_tokens": "--judge-max-new-tokens"},  # identify's spelling, kept
        },
    )

    @property
    def method_list(self) -> tuple[str, ...]:
        """``methods`` split at the commas."""
        return tuple(m.strip() for m in self.methods.split(",") if m.strip())
