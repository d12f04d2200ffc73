"""Data that ships inside the package, and how to find it.

Everything the package, its tests and its benchmarks read at run time lives under
``src/percontrast/resources/`` (see its README for sources and licences). Nothing here reads
outside the installed package.

- ``persona_tokens/dev.jsonl``: the hand-annotated persona QA set (120 items, Synthetic-Persona-Chat
  personas, CC BY 4.0) used by `percontrast identify` and the demo.
- ``spc/spc_new_conversations_sample100.jsonl``: 100 Synthetic-Persona-Chat conversations (CC BY 4.0),
  the demo's next-reply task.
- ``spc/spc_valid_conversations_sample250.jsonl`` and ``spc/spc_test_conversations_sample100.jsonl``: 250 and
  100 conversations of Synthetic-Persona-Chat's own validation and test splits (different personas), the
  next-reply task at the paper's data size (`percontrast.data.persona_chat.next_reply_files`).
- ``prompts/<name>.txt``: prompts from publications, verbatim, each with its source
  (`load_published_prompt`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources as _importlib_resources
from pathlib import Path

from percontrast.utils.errors import ConfigError

RESOURCES = Path(str(_importlib_resources.files("percontrast") / "resources"))
PERSONA_TOKENS_DEV = RESOURCES / "persona_tokens" / "dev.jsonl"
SPC_CONVERSATIONS = RESOURCES / "spc" / "spc_new_conversations_sample100.jsonl"
SPC_VALID_CONVERSATIONS = RESOURCES / "spc" / "spc_valid_conversations_sample250.jsonl"
SPC_TEST_CONVERSATIONS = RESOURCES / "spc" / "spc_test_conversations_sample100.jsonl"
PROMPTS_DIR = RESOURCES / "prompts"

_HEADER_END = "---\n"


@dataclass(frozen=True)
class PublishedPrompt:
    """A prompt as its source publishes it.

    Attributes:
        name: file stem under ``resources/prompts``.
        text: the prompt, exactly (placeholders in ``{braces}``).
        source: where it comes from (paper appendix, or a repository file, line and commit).
        fields: the placeholder names the text contains, as declared in the header.
    """

    name: str
    text: str
    source: str
    fields: tuple[str, ...]

    def fill(self, **values: str) -> str:
        """Replace each declared ``{field}`` by its value in one pass (braces elsewhere stay; a value that
        itself contains ``{field}`` is not filled again, as with `str.format`)."""
        missing = sorted(set(self.fields) - set(values))
        extra = sorted(set(values) - set(self.fields))
        if missing or extra:
            raise ConfigError(
                f"prompt {self.name!r} takes fields {list(self.fields)}; missing {missing}, unexpected {extra}"
            )
        if not self.fields:
            return self.text
        pattern = "|".join(re.escape("{" + key + "}") for key in self.fields)
        return re.sub(pattern, lambda match: values[match.group(0)[1:-1]], self.text)


@cache  # each file is read and checked once per process (PublishedPrompt is frozen)
def load_published_prompt(name: str) -> PublishedPrompt:
    """Read ``resources/prompts/<name>.txt``.

    The file is a header of ``key: value`` lines (``source`` required, ``fields`` a comma-separated
    list), a line ``---``, then the prompt text verbatim up to the end of the file (a single final
    newline is not part of the prompt).
    """
    path = PROMPTS_DIR / f"{name}.txt"
    if not path.is_file():
        known = sorted(p.stem for p in PROMPTS_DIR.glob("*.txt"))
        raise ConfigError(f"no published prompt {name!r} in {PROMPTS_DIR}; known: {known}")
    raw = path.read_text(encoding="utf-8")
    if _HEADER_END not in raw:
        raise ConfigError(f"{path}: expected a header, a line '---', then the prompt text")
    header, text = raw.split(_HEADER_END, 1)
    meta: dict[str, str] = {}
    for number, line in enumerate(header.splitlines(), start=1):
        if not line.strip():
            continue
        key, sep, value = line.partition(":")
        if not sep:
            raise ConfigError(f"{path}:{number}: expected 'key: value' in the header, got {line!r}")
        meta[key.strip()] = value.strip()
    if "source" not in meta:
        raise ConfigError(f"{path}: the header must name the prompt's source ('source: ...')")
    if text.endswith("\n"):
        text = text[:-1]
    fields = tuple(f.strip() for f in meta.get("fields", "").split(",") if f.strip())
    for field_name in fields:
        if "{" + field_name + "}" not in text:
            raise ConfigError(f"{path}: declared field {{{field_name}}} does not occur in the text")
    return PublishedPrompt(name=name, text=text, source=meta["source"], fields=fields)
