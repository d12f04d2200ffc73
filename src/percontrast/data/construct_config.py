"""`ConstructConfig`: the one definition of ``percontrast construct``'s settings (the paper's Figure 6).

``percontrast construct`` builds its flags from these fields (defaults and help text), and
`data.synthetic.construct_files` takes this dataclass. The server settings (``url``, ``api_model``)
have no default: the construction model is always named.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from percontrast.modeling.config import ChatModelConfig


@dataclass
class ConstructConfig:
    """Which server writes the persona QA items, and how it samples."""

    url: str = field(metadata={"help": "OpenAI-compatible API root, e.g. http://127.0.0.1:8000/v1"})
    api_model: str = field(metadata={"help": "model name the server expects"})
    key_env: str = field(
        default=ChatModelConfig.key_env, metadata={"help": "environment variable holding the API key"}
    )
    temperature: float = field(default=0.7, metadata={"help": "sampling temperature (default 0.7)"})
    max_new_tokens: int = field(default=256, metadata={"help": "reply length limit"})
    seed: int = field(default=0, metadata={"help": "seed sent to the server"})
    limit: int | None = field(default=None, metadata={"help": "use only the first N personas"})
