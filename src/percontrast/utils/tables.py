"""The one markdown-table renderer: every table the package prints or writes (metrics, identification,
token groups and kinds, the experiment's tables, the protocol) goes through `markdown_table`.

    markdown_table(["method", "F1"], [["percontrast", "0.444"]], align="lr")
    # | method | F1 |
    # |---|---:|
    # | percontrast | 0.444 |
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[object]], align: str = "") -> str:
    """A GitHub-flavoured markdown table, without a trailing newline.

    Args:
        header: the column names.
        rows: one sequence of cells per row (each cell is written with ``str``); each must have as many
            cells as the header.
        align: one letter per column, ``l`` (left) or ``r`` (right); missing letters are ``l``.
    """
    if any(letter not in "lr" for letter in align) or len(align) > len(header):
        raise ValueError(f"align must be up to {len(header)} letters l or r, got {align!r}")
    rule = (
        "|" + "|".join("---:" if letter == "r" else "---" for letter in align.ljust(len(header), "l")) + "|"
    )
    lines = ["| " + " | ".join(header) + " |", rule]
    for row in rows:
        cells = [str(cell) for cell in row]
        if len(cells) != len(header):
            raise ValueError(f"a row has {len(cells)} cells for {len(header)} columns: {cells}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
