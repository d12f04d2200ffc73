"""SPC's own validation / test splits: the CSV reader, the two-file split, and the bundled samples' personas
(no test persona and no annotated persona is trained on)."""

from __future__ import annotations

import csv
import json

import pytest

from percontrast.data.persona_chat import next_reply_files, read_conversations, read_spc_csv
from percontrast.utils.bundled import PERSONA_TOKENS_DEV, SPC_TEST_CONVERSATIONS, SPC_VALID_CONVERSATIONS
from percontrast.utils.errors import ConfigError


def write_csv(path, rows):
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["user 1 personas", "user 2 personas", "Best Generated Conversation"])
        writer.writerows(rows)


def test_read_spc_csv(tmp_path):
    path = tmp_path / "Synthetic-Persona-Chat_valid.csv"
    write_csv(
        path,
        [
            ["I like cats.\nI sew.", "I run.\n", "User 1: Hi!\n\nUser 2: Hello, do you run?\nUser 1:Yes."],
            ["A.", "B.", "User 1: Hi!\n* * *\nUser 2: Bye."],  # a stage line: left out, not guessed at
        ],
    )
    conversations, left_out = read_spc_csv(path)
    assert left_out == 1 and len(conversations) == 1
    conversation = conversations[0]
    assert conversation["user_1_persona"] == ["I like cats.", "I sew."]
    assert conversation["user_2_persona"] == ["I run."]
    assert conversation["utterances"] == [
        {"speaker": "User 1", "text": "Hi!"},
        {"speaker": "User 2", "text": "Hello, do you run?"},
        {"speaker": "User 1", "text": "Yes."},
    ]
    assert conversation["source_row"] == 0


def test_next_reply_files_drops_test_personas(tmp_path):
    def conversation(p1, p2):
        return {
            "user_1_persona": p1,
            "user_2_persona": p2,
            "utterances": [
                {"speaker": "User 1", "text": "Hi."},
                {"speaker": "User 2", "text": "Hey."},
                {"speaker": "User 1", "text": "Ok."},
            ],
        }

    train_file, test_file = tmp_path / "train.jsonl", tmp_path / "test.jsonl"
    train_file.write_text(json.dumps(conversation(["A."], ["Shared."])) + "\n")
    test_file.write_text(json.dumps(conversation(["Shared."], ["C."])) + "\n")
    train, test, counts = next_reply_files(train_file, test_file, history=2)
    assert [example.persona for example in train] == [["A."]]  # the "Shared." speaker's reply is dropped
    assert counts == {"train": 1, "test": 2, "train_dropped_test_persona": 1}
    assert {example.id for example in train}.isdisjoint(example.id for example in test)


def personas(path):
    return {
        frozenset(s.lower() for s in record[key])
        for record in read_conversations(path)
        for key in ("user_1_persona", "user_2_persona")
    }


def test_bundled_splits_share_no_persona_and_hold_no_annotated_persona():
    train, test = personas(SPC_VALID_CONVERSATIONS), personas(SPC_TEST_CONVERSATIONS)
    assert len(read_conversations(SPC_VALID_CONVERSATIONS)) == 250
    assert len(read_conversations(SPC_TEST_CONVERSATIONS)) == 100
    assert train.isdisjoint(test)
    annotated = [
        json.loads(line) for line in PERSONA_TOKENS_DEV.read_text(encoding="utf-8").splitlines() if line
    ]
    assert sum(record["persona_id"].startswith("spc_test") for record in annotated) == 40
    assert all(frozenset(s.lower() for s in record["persona"]) not in train for record in annotated)


def test_bundled_pool_is_large_enough():
    train, test, counts = next_reply_files(SPC_VALID_CONVERSATIONS, SPC_TEST_CONVERSATIONS, history=4)
    assert counts["train_dropped_test_persona"] == 0
    assert len(train) >= 2000 and len(test) >= 500


def test_persona_chat_task_takes_both_files_or_neither():
    from percontrast.experiments.config import TaskConfig

    with pytest.raises(ConfigError, match="both train_input and test_input"):
        TaskConfig(source="persona_chat", train_input="a.jsonl")
