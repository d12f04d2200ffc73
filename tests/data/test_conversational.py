"""Conversational (``messages``) data: the persona-free prompt differs from the full one by the persona only.

The references are the tokenizer's own chat template applied to the record's messages, with and without
the persona, independently of our templates.
"""

from __future__ import annotations

import json

import pytest

from percontrast.data.conversational import example_from_messages, read_conversational
from percontrast.data.schema import read_examples
from percontrast.prompts.encoding import encode_example
from percontrast.utils.errors import DataError

PERSONA = "I am a nurse. I knit on weekends."
TURNS = [
    {"role": "user", "content": "Hi! Busy week?"},
    {"role": "assistant", "content": "Very, lots of night shifts."},
    {"role": "user", "content": "What will you do on Saturday?"},
    {"role": "assistant", "content": "Finish the scarf I am knitting."},
]


def reference(tokenizer, messages):
    return tokenizer.apply_chat_template(
        messages, tokenize=False, add_generation_prompt=True, enable_thinking=False
    )


def test_persona_as_system_message_is_removed_exactly(tiny):
    _, tokenizer = tiny
    record = {"id": "c1", "messages": [{"role": "system", "content": PERSONA}, *TURNS]}
    example = example_from_messages(record, index=0, persona_from="system")
    assert example.query == TURNS[2]["content"] and example.response == TURNS[3]["content"]
    assert example.history == TURNS[:2]
    encoded = encode_example(example, tokenizer)
    assert encoded.prompt_with == reference(tokenizer, record["messages"][:-1])
    assert encoded.prompt_without == reference(tokenizer, TURNS[:-1])


def test_persona_field_keeps_the_datas_own_system_message(tiny):
    _, tokenizer = tiny
    system = {"role": "system", "content": "Be brief."}
    record = {"id": "c2", "persona": ["I am a nurse.", "I knit on weekends."], "messages": [system, *TURNS]}
    encoded = encode_example(example_from_messages(record, index=0), tokenizer)
    with_persona = [
        {"role": "system", "content": "Be brief.\n\nI am a nurse.\nI knit on weekends."},
        *TURNS[:-1],
    ]
    assert encoded.prompt_with == reference(tokenizer, with_persona)
    assert encoded.prompt_without == reference(tokenizer, [system, *TURNS[:-1]])
    # No system message of the data's own: without persona there is none at all.
    bare = encode_example(example_from_messages({"persona": PERSONA, "messages": TURNS}, index=3), tokenizer)
    assert bare.prompt_without == reference(tokenizer, TURNS[:-1])
    assert bare.prompt_with == reference(tokenizer, [{"role": "system", "content": PERSONA}, *TURNS[:-1]])


@pytest.mark.parametrize(
    ("record", "persona_from", "message"),
    [
        ({"messages": TURNS}, "field", "no persona field.*persona-from system"),
        ({"messages": TURNS}, "system", "first message is not a system message"),
        ({"persona": PERSONA, "messages": TURNS[:-1]}, "field", "end with a user message and the assistant"),
        (
            {"persona": PERSONA, "messages": [{"role": "system", "content": PERSONA}, *TURNS]},
            "system",
            "twice",
        ),
        ({"persona": PERSONA, "messages": [{"role": "user"}]}, "field", "list of"),
    ],
)
def test_bad_records_name_the_problem(record, persona_from, message):
    with pytest.raises(DataError, match=message):
        example_from_messages(record, index=0, persona_from=persona_from)


@pytest.mark.needs("datasets")
def test_read_examples_takes_jsonl_parquet_and_saved_datasets(tmp_path, tiny):
    import datasets

    rows = [{"id": f"r{i}", "persona": PERSONA, "messages": TURNS} for i in range(3)]
    jsonl = tmp_path / "chats.jsonl"
    jsonl.write_text("".join(json.dumps(row) + "\n" for row in rows))
    dataset = datasets.Dataset.from_list(rows)
    dataset.to_parquet(str(tmp_path / "chats.parquet"))
    dataset.save_to_disk(str(tmp_path / "saved"))
    sources = [jsonl, tmp_path / "chats.parquet", tmp_path / "saved"]
    loaded = [read_examples(source) for source in sources] + [read_conversational(dataset)]
    for examples in loaded:
        assert [e.to_dict() for e in examples] == [e.to_dict() for e in loaded[0]]
    assert loaded[0][0].template == "messages_chat" and loaded[0][0].history == TURNS[:2]
    with pytest.raises(DataError, match="not a saved dataset"):
        read_examples(tmp_path)


def test_scoring_a_conversation_uses_the_history(tiny):
    from percontrast.scoring.pir import score_examples

    model, tokenizer = tiny
    example = example_from_messages({"id": "s", "persona": PERSONA, "messages": TURNS}, index=0)
    scores = score_examples(model, tokenizer, [example], progress=False)[0]
    assert "lots of night shifts" in scores.prompt_with and "lots of night shifts" in scores.prompt_without
    assert PERSONA in scores.prompt_with and PERSONA not in scores.prompt_without


@pytest.mark.needs("pyarrow")
def test_every_source_goes_through_the_same_checks(tmp_path):
    """read_examples reads JSONL and Parquet through one path: allow_empty_response and the duplicate-id
    check apply to both (before, Parquet, saved datasets and the Hub ignored allow_empty_response)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [{"id": "a", "persona": ["p"], "query": "q", "response": ""}]
    jsonl = tmp_path / "rows.jsonl"
    jsonl.write_text(json.dumps(rows[0]) + "\n")
    parquet = tmp_path / "rows.parquet"
    pq.write_table(pa.Table.from_pylist(rows), parquet)
    for source in (jsonl, parquet):
        with pytest.raises(DataError, match="response"):
            read_examples(source)
        assert read_examples(source, allow_empty_response=True)[0].response == ""
    pq.write_table(pa.Table.from_pylist(rows * 2), parquet)
    with pytest.raises(DataError, match=r"duplicate id 'a' \(first seen in row 0\)"):
        read_examples(parquet, allow_empty_response=True)
