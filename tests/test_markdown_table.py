"""`utils.tables.markdown_table`, the one renderer every markdown table goes through."""

from __future__ import annotations

import pytest

from percontrast.utils.tables import markdown_table


def test_header_rule_and_rows():
    text = markdown_table(
        ["method", "F1", "n"], [["percontrast", "0.444", 12], ["judge", 0.5, 3]], align="lr"
    )
    assert text == ("| method | F1 | n |\n|---|---:|---|\n| percontrast | 0.444 | 12 |\n| judge | 0.5 | 3 |")


def test_a_row_of_the_wrong_width_and_a_bad_alignment_are_refused():
    with pytest.raises(ValueError, match="a row has 1 cells for 2 columns"):
        markdown_table(["a", "b"], [["x"]])
    with pytest.raises(ValueError, match="align must be up to 2 letters"):
        markdown_table(["a", "b"], [], align="lc")


def test_no_other_renderer_writes_a_rule():
    """Issue 27: nine hand-written renderers became one; a new one would write its own ``|---``."""
    from pathlib import Path

    package = Path(__file__).resolve().parents[1] / "src" / "percontrast"
    writers = [
        str(path.relative_to(package))
        for path in package.rglob("*.py")
        if path.name != "tables.py"
        and ('"|---' in path.read_text(encoding="utf-8") or '"---|"' in path.read_text(encoding="utf-8"))
    ]
    assert writers == []
