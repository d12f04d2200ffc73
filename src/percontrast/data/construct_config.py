"""`ConstructConfig`: the one definition of ``percontrast construct``'s settings (the paper's Figure 6).

``percontrast construct`` builds its flags from these fields (defaults and help text; the construction
model's, ``--url``, ``--api-model``, ``--key-env``, ``--temperature``, ``--max-new-tokens``, from its
`ChatModelConfig`), and `data.synthetic.construct_files` takes this dataclass. The server
(``writer.url``, ``writer.api_model``) has no default: the construction model is always named.

    construct_files(ConstructConfig(ChatModelConfig(url="http://127.0.0.1:8000/v1", api_model="m")), "p.jsonl", "o.jsonl")
"""

from __future__ import annotations

from dataclasses import dataclass, field

from percontrast.modeling.config import ChatModelConfig


def construction_model() -> ChatModelConfig:
    """The construction model's sampling (temperature 0.7, replies of at most 256 tokens); its server is
    always given."""
    return ChatModelConfig(temperature=0.7, max_tokens=256)


@dataclass
class ConstructConfig:
    """Which server writes the persona QA items, and how it samples."""

    writer: ChatModelConfig = field(
        default_factory=construction_model,
        metadata={
            "help": "the construction model: an OpenAI-compatible server (url and api_model required)",
            "prefix": "",  # construct's flags: --url, --api-model, --key-env, --temperature, --max-new-tokens
            "role": "construction model",
            "only": ("url", "api_model", "key_env", "temperature", "max_tokens"),
            "flags": {"max_tokens": "--max-new-tokens"},  # construct's spelling, kept
        },
    )
    seed: int = field(default=0, metadata={"help": "seed sent to the server"})
    limit: int | None = field(default=None, metadata={"help": "use only the first N personas"})
