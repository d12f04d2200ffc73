"""The HTML heatmap: one coloured span per token, colours by sign, annotated spans underlined."""

from __future__ import annotations

from percontrast.scoring.heatmap import pir_colour, render_heatmap
from percontrast.scoring.pir import TokenScores


def make_scores() -> TokenScores:
    response = "I stitch <clothes>."
    return TokenScores(
        id="x",
        tokens=["I", " stitch", " <clothes>", "."],
        token_ids=[1, 2, 3, 4],
        offsets=[[0, 1], [1, 8], [8, 18], [18, 19]],
        logp_with=[-1.0, -2.0, -3.0, -0.5],
        logp_without=[-1.0, -5.0, -2.0, -0.5],
        pir=[0.0, 3.0, -1.0, 0.0],
        response=response,
        prompt_with="P <b>",
        prompt_without="Q",
    )


def test_colours_follow_the_sign():
    assert pir_colour(0.0, 1.0) == "rgb(255,255,255)"
    assert pir_colour(5.0, 1.0) == "rgb(255,38,38)"  # saturated red
    assert pir_colour(-5.0, 1.0) == "rgb(38,38,255)"  # saturated blue


def test_tokens_are_escaped_and_annotated_spans_underlined():
    page = render_heatmap([make_scores()], scale=2.0, personal_spans={"x": ["stitch"]})
    assert page.count("<span class='tok") == 4
    assert page.count("class='tok gold'") == 1 and "PIR +3.000" in page
    assert "&lt;clothes&gt;" in page and "<clothes>" not in page
    assert "P &lt;b&gt;" in page  # prompts are escaped too
    assert "most personal: stitch (+3.00)" in page
