"""docs/ARCHITECTURE.md's layout names every module as it is (issue 20): a module added, moved or renamed
without the doc fails here. Reproduce: add any module under the package without naming it there."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "percontrast"


def _layout_by_package() -> dict[str, str]:
    """The layout block's text per package ('' for top-level modules), continuation lines included."""
    text = (ROOT / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
    block = text.split("## Layout", 1)[1].split("```", 2)[1]
    sections: dict[str, str] = {"": ""}
    current = ""
    for line in block.splitlines():
        entry = re.match(r"^  (\S+)", line)
        if entry:
            name = entry.group(1)
            current = name.rstrip("/") if name.endswith("/") else ""
            sections.setdefault(current, "")
        sections[current] += line + "\n"
    return sections


def test_every_module_is_in_the_layout():
    sections = _layout_by_package()
    missing = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "__init__.py":
            continue
        relative = path.relative_to(PACKAGE)
        package = "/".join(relative.parts[:-1])
        if not re.search(rf"(?<![\w/]){re.escape(path.name)}\b", sections.get(package, "")):
            missing.append(str(relative))
    assert not missing, "modules missing from docs/ARCHITECTURE.md's layout:\n" + "\n".join(missing)


def test_the_layout_names_no_module_that_does_not_exist():
    sections = _layout_by_package()
    stale = []
    for package, text in sections.items():
        if package not in ("",) and not (PACKAGE / package).is_dir():
            continue
        for name in re.findall(r"(?<![\w/.])(\w+\.py)\b", text):
            if not list((PACKAGE / package).glob(name)) and not (ROOT / "benchmarks" / name).exists():
                stale.append(f"{package or '.'}: {name}")
    assert not stale, "the layout names modules that do not exist:\n" + "\n".join(stale)
