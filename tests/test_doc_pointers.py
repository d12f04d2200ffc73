"""Every file a doc or docstring names exists, and every section it points to is a heading there.

Pointers are what a reader follows: a path such as ``docs/training.md`` or ``benchmarks/x.py`` in the
code, the docs, the configs or the tests, and a section pointer such as ``docs/training.md, "Mixed
precision"`` (a bare ``ARCHITECTURE.md`` is ``docs/ARCHITECTURE.md``). Reproduce a broken one:
``grep -rn "ARCHITECTURE.md, \\"Formats\\"" src`` before the section moved names led nowhere.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = [
    *sorted((ROOT / "src" / "percontrast").rglob("*.py")),
    *sorted((ROOT / "docs").rglob("*.md")),
    ROOT / "README.md",
    *sorted((ROOT / "configs").rglob("*.yaml")),
    *sorted((ROOT / "benchmarks").glob("*.py")),
    *sorted(p for p in (ROOT / "tests").rglob("*.py") if p.name != "test_doc_pointers.py"),
]
PATH = re.compile(
    r"(?<![\w/.-])((?:docs|tests|benchmarks|configs|src/percontrast)/[\w./-]+\.(?:md|py|yaml|txt|jsonl|json|png))(?![\w])"
)
SECTION = re.compile(r"([\w/]+\.md),? (?:section )?[\"'“]([^\"'”\n]{3,80})[\"'”]")
WRITTEN = re.compile(r"--(?:out|plot|html|output_dir)[ =]$")  # an output a command will write, not a pointer


def _pointers(pattern: re.Pattern) -> list[tuple[str, re.Match]]:
    found = []
    for source in SOURCES:
        text = source.read_text(encoding="utf-8")
        for match in pattern.finditer(text):
            if WRITTEN.search(text[max(0, match.start() - 12) : match.start()]):
                continue
            line = text.count("\n", 0, match.start()) + 1
            found.append((f"{source.relative_to(ROOT)}:{line}", match))
    return found


def _markdown(name: str) -> Path:
    if "/" in name:
        return ROOT / name
    return ROOT / "docs" / name if (ROOT / "docs" / name).exists() else ROOT / name


def test_every_named_path_exists():
    missing = [
        f"{where}: {match.group(1)}"
        for where, match in _pointers(PATH)
        if not (ROOT / match.group(1)).exists()
    ]
    assert not missing, "paths named in docs or code that do not exist:\n" + "\n".join(missing)


def test_every_named_section_is_a_heading_of_that_file():
    broken = []
    pointers = _pointers(SECTION)
    assert pointers, "the pattern finds no section pointer at all: it is broken"
    for where, match in pointers:
        document, section = _markdown(match.group(1)), match.group(2).strip().lower()
        if not document.exists():
            broken.append(f"{where}: {match.group(1)} does not exist")
            continue
        headings = [
            line.lstrip("#").strip().lower()
            for line in document.read_text().splitlines()
            if line.startswith("#")
        ]
        if not any(section in heading for heading in headings):
            broken.append(f"{where}: {match.group(1)} has no heading {match.group(2)!r}")
    assert not broken, "section pointers that lead nowhere:\n" + "\n".join(broken)


@pytest.mark.parametrize("text", ['see docs/nowhere.md, "Nothing"', "python benchmarks/absent.py"])
def test_a_broken_pointer_is_caught(text):
    match = SECTION.search(text) or PATH.search(text)
    assert match is not None
