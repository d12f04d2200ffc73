"""The Appendix D.2 prompts (against the paper's text), judge keyword parsing and construction parsing."""

from __future__ import annotations

import re

import pytest

from percontrast.data.schema import Example
from percontrast.data.synthetic import ConstructionError, parse_construction_reply
from percontrast.identification.llm_judge import judge_messages, match_keywords, parse_keywords
from percontrast.utils.bundled import load_published_prompt

# The paper's Appendix D.2 as its text reads (line breaks lost), between "User:" and "Assistant:".
PAPER_CONSTRUCTION = (
    "Now I have a paragraph of a person’s persona: {persona} I want you to write a short question to this person "
    "and a corresponding short answer. Note that the answer should be concise, able to be inferred from his/her "
    "persona (but not the question), and may have words that are different from those in the persona. Highlight "
    "the keywords in the answer that reflect his/her persona. The keywords should also be short, not the whole sentence."
)
PAPER_JUDGE = (
    "This is the persona of user 1: {persona} This is the conversation between two users: User 2: {user 2’s speech} "
    "User 1: {user 1’s speech} Identify the keywords in user 1’s speech in the conversation that reflect his/her "
    "persona (but not only the words in the description of his/her persona). Keywords:"
)


def _flat(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def test_prompts_equal_the_paper_up_to_line_breaks() -> None:
    construction = load_published_prompt("synthetic_construction")
    assert construction.fields == ("persona",) and "Appendix D.2" in construction.source
    assert _flat(construction.text) == PAPER_CONSTRUCTION
    judge = load_published_prompt("identification_judge")
    assert judge.fields == ("persona", "question", "answer")
    renamed = judge.text.replace("{question}", "{user 2’s speech}").replace("{answer}", "{user 1’s speech}")
    assert _flat(renamed) == PAPER_JUDGE


def test_judge_messages_frame_the_qa_as_a_conversation() -> None:
    example = Example(
        id="x", persona=["I like to sew.", "I am short."], query="Free afternoon?", response="I stitch."
    )
    (turn,) = judge_messages(example)
    assert turn["role"] == "user"
    assert "I like to sew. I am short.\n" in turn["content"]
    assert "User 2: Free afternoon?\nUser 1: I stitch.\n" in turn["content"]
    assert turn["content"].endswith("Keywords:")


KEYWORD_CASES = [
    ("stitch, crafts", ["stitch", "crafts"]),
    ("Keywords: stitch; crafts.", ["stitch", "crafts"]),
    ('1. "stitch"\n2. **crafts**\n- Stitch', ["stitch", "crafts"]),
    ("* cover my ears", ["cover my ears"]),
    ('User 1: "Rick and Morty, I have rewatched it."', ["Rick and Morty", "I have rewatched it"]),
    ("", []),
    ("   \n", []),
]


@pytest.mark.parametrize(("reply", "expected"), KEYWORD_CASES)
def test_parse_keywords(reply: str, expected: list[str]) -> None:
    assert parse_keywords(reply) == expected


def test_match_keywords_whole_words_any_case_every_occurrence() -> None:
    answer = "I sew, and sewing is what I Sew best."
    ranges, unmatched = match_keywords(answer, ["sew", "needle", "ewi"])
    assert [answer[s:e] for s, e in ranges] == ["sew", "Sew"]  # not inside "sewing"
    assert unmatched == ["needle", "ewi"]


CONSTRUCTION_CASES = [
    (
        "Question: What's your favorite way to spend a free afternoon?\nAnswer: I usually **stitch** clothes or crafts.",
        (
            "What's your favorite way to spend a free afternoon?",
            "I usually stitch clothes or crafts.",
            ["stitch"],
        ),
    ),
    (
        "**Question:** Which device do you use for music?\n**Answer:** I like the ones that __cover my ears__.\n",
        ("Which device do you use for music?", "I like the ones that cover my ears.", ["cover my ears"]),
    ),
    (
        "Q: Where do you work?\nA: In the ER, mostly nights.\nKeywords: ER, nights",
        ("Where do you work?", "In the ER, mostly nights.", ["ER", "nights"]),
    ),
    (
        "Question: Drink?\nAnswer: A cold *Pepsi*.\nHighlighted keywords: pepsi",
        ("Drink?", "A cold Pepsi.", ["Pepsi"]),
    ),
]


@pytest.mark.parametrize(("reply", "expected"), CONSTRUCTION_CASES)
def test_parse_construction_reply(reply: str, expected) -> None:
    item = parse_construction_reply(reply)
    assert (item.question, item.answer, item.personal_spans) == (expected[0], expected[1], expected[2])


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        ("Sure! Here is a question for this person.", "no question"),
        ("Question: Where do you live?", "no answer"),
        ("Question: Where do you live?\nAnswer: Near the sea.", "no keywords"),
        ("Question: Pets?\nAnswer: Two cats.\nKeywords: dogs", "keyword not in the answer"),
        ("Question: Pets?\nAnswer: Two cats.\nKeywords: cat", "keyword not in the answer"),  # not whole words
    ],
)
def test_unusable_construction_replies_say_why(reply: str, reason: str) -> None:
    with pytest.raises(ConstructionError, match=reason):
        parse_construction_reply(reply)
