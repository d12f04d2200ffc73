"""Code shape: no function of the package is too long to hold in one's head (it reads top to bottom
in one screen).

A function is measured from its ``def`` line to the last line of its body (docstring included,
decorators not), methods and nested functions alike. Split a function that grows past the limit
along the steps it already has rather than raising the limit.
"""

from __future__ import annotations

import ast
from pathlib import Path

import percontrast

MAX_FUNCTION_LINES = 80
PACKAGE = Path(percontrast.__file__).parent


def function_lengths(path: Path) -> list[tuple[int, str, int]]:
    """``(line, qualified name, length)`` of every function and method defined in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[tuple[int, str, int]] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                name = f"{prefix}{child.name}"
                found.append((child.lineno, name, child.end_lineno - child.lineno + 1))
                visit(child, f"{name}.")
            elif isinstance(child, ast.ClassDef):
                visit(child, f"{prefix}{child.name}.")
            else:
                visit(child, prefix)

    visit(tree, "")
    return found


def test_the_measure_counts_from_def_to_the_last_line_of_the_body(tmp_path):
    source = tmp_path / "example.py"
    source.write_text(
        "@decorator\n"
        "def short():\n"
        '    """Doc."""\n'
        "    return 1\n"
        "\n"
        "class Holder:\n"
        "    def method(self):\n"
        "        def inner():\n"
        "            pass\n"
        "        return inner\n",
        encoding="utf-8",
    )
    assert function_lengths(source) == [
        (2, "short", 3),
        (7, "Holder.method", 4),
        (8, "Holder.method.inner", 2),
    ]


def test_no_function_is_longer_than_the_limit():
    modules = sorted(PACKAGE.rglob("*.py"))
    assert len(modules) > 50  # the package itself, not an empty folder
    offenders = [
        f"{path.relative_to(PACKAGE.parent)}:{line} {name} ({length} lines)"
        for path in modules
        for line, name, length in function_lengths(path)
        if length > MAX_FUNCTION_LINES
    ]
    assert not offenders, (
        f"functions longer than {MAX_FUNCTION_LINES} lines (split them along their steps):\n"
        + "\n".join(offenders)
    )
