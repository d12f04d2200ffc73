"""``--dry-run`` prints the resolved protocol per paper table, and for configs/paper/qwen3_4b.yaml it is
the protocol table of docs/experiments.md, row for row, each row citing its source."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from percontrast.cli import main
from percontrast.experiments.config import load_experiment_config
from percontrast.experiments.protocol import protocol

ROOT = Path(__file__).parents[2]
HEADING = "### Protocol of `configs/paper/qwen3_4b.yaml`"


def _docs_rows() -> list[list[str]]:
    text = (ROOT / "docs" / "experiments.md").read_text(encoding="utf-8")
    section = text.split(HEADING, 1)[1]
    lines = [line for line in section.splitlines()[1:] if line.strip()]
    table = []
    for line in lines:
        if not line.startswith("|"):
            break
        table.append([cell.strip() for cell in line.strip().strip("|").split(" | ")])
    assert table[0] == ["Table", "Setting", "Value", "Source"]
    return table[2:]


def _printed_rows(text: str) -> list[list[str]]:
    rows = [line for line in text.splitlines() if line.startswith("| ")]
    assert rows[0] == "| Table | Setting | Value |"
    return [[cell.strip() for cell in line.strip().strip("|").split(" | ")] for line in rows[1:]]


def test_dry_run_prints_the_protocol_table_of_the_docs(capsys) -> None:
    assert main(["experiment", str(ROOT / "configs/paper/qwen3_4b.yaml"), "--dry-run"]) == 0
    printed = _printed_rows(capsys.readouterr().out)
    documented = _docs_rows()
    assert printed == [row[:3] for row in documented]
    for row in documented:  # every setting says where it comes from
        assert re.search(r"Paper|Appendix|eval_own\.py|ours|as PAG", row[3]), row
    settings = {row[1]: row[2] for row in printed}
    for needed in ("PAG prompt", "PAG learning rates", "generation", "simulator sampling", "judge sampling"):
        assert needed in settings
    assert "test 500 of abstract_generation_user [test]" in settings["PAG data"]
    assert settings["judge sampling"].startswith("sample, 1 sample(s), temperature 1, 300 tokens")


@pytest.mark.parametrize("path", sorted((ROOT / "configs" / "paper").glob("*.yaml")), ids=lambda p: p.name)
def test_every_paper_config_has_a_protocol(path: Path) -> None:
    rows = protocol(load_experiment_config(path))
    tables = {where for where, _, _ in rows}
    assert rows and all(value for _, _, value in rows)
    if "clip" in path.name:
        assert tables == {"Table 12"}
    if "14b" in path.name:
        assert {"Table 10"} <= tables
        scoring = next(v for w, s, v in rows if (w, s) == ("Table 10", "scoring"))
        assert scoring.startswith("sample: mean of 20 sample(s)")
