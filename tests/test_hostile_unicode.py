"""Text beyond ASCII (class 4 of the safety issue): token strings come from the offsets, so the byte
pieces of Hebrew, CJK and emoji characters never show as U+FFFD; files that are not UTF-8 and lone
surrogates are errors naming the file and line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from percontrast.data.schema import Example, read_examples
from percontrast.scoring.heatmap import _display_groups, render_heatmap
from percontrast.scoring.pir import score_examples
from percontrast.utils.errors import DataError

RESPONSE = "שלום! אני אוהבת לתפור 🧵 בגדים אדומים, 我喜欢缝纫。"


def test_token_strings_are_the_response_text_not_replacement_characters(tiny) -> None:
    model, tokenizer = tiny
    # The tiny byte-level BPE was trained on English: most of these characters are split into bytes.
    decoded = [tokenizer.decode([i]) for i in tokenizer(RESPONSE, add_special_tokens=False)["input_ids"]]
    assert sum("\ufffd" in piece for piece in decoded) > 10  # the failure this test guards against
    example = Example(id="he", persona=["I sew."], query="What do you do?", response=RESPONSE)
    (scores,) = score_examples(model, tokenizer, [example], progress=False)
    assert not any("\ufffd" in token for token in scores.tokens)
    assert "".join(scores.tokens) == RESPONSE
    assert len(scores.tokens) == len(scores.token_ids) == len(scores.pir)
    page = render_heatmap([scores])
    assert "\ufffd" not in page
    # Each character is one span: pieces are merged for display, their log-probs summed.
    groups = _display_groups(scores)
    assert all(text for text, *_ in groups) and "".join(text for text, *_ in groups) == RESPONSE
    assert page.count("<span class='tok") == len(groups) < len(scores.tokens)
    assert all("\ufffd" not in token for token, _ in scores.top_tokens(len(scores.pir)))


def test_a_file_that_is_not_utf8_names_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "latin1.jsonl"
    good = json.dumps({"id": "a", "persona": "p", "query": "q", "response": "r"})
    path.write_bytes(good.encode() + b"\n" + good.replace('"r"', '"caf\xe9"').encode("latin-1") + b"\n")
    with pytest.raises(DataError, match=rf"{path.name}:2: not UTF-8: byte 0xe9"):
        read_examples(path)


def test_a_lone_surrogate_names_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "surrogate.jsonl"
    path.write_text('{"id": "a", "persona": "p", "query": "q", "response": "bad \\ud800 half"}\n')
    with pytest.raises(DataError, match=rf"{path.name}:1: .*lone surrogate"):
        read_examples(path)
