"""The next-reply task on Synthetic-Persona-Chat conversations: the demo's small personalization task.

Given one speaker's persona and the conversation so far, produce that speaker's next message. Every
message after the first of each bundled conversation (`percontrast.utils.bundled.SPC_CONVERSATIONS`, 100
conversations of Synthetic-Persona-Chat, Jandaghi et al. 2023, CC BY 4.0) becomes one `Example`:

- ``persona``: the replying speaker's persona sentences (what PerContrast removes);
- ``query``: the last ``history`` messages, one per line, ``"Partner: ..."`` / ``"You: ..."`` from the
  replying speaker's point of view;
- ``response``: the message the speaker actually sent;
- ``template``: ``persona_dialogue_chat`` (registered in `percontrast.prompts.registry`).

Held-out personas: conversation ``i`` (file order) is a test conversation when ``i % 5 == 4`` (20 of 100);
training examples whose persona also occurs in a test conversation are dropped (and counted), so no
test persona is ever trained on. `split_counts` reports what was dropped.

    from percontrast.data.persona_chat import next_reply_split
    train, test, counts = next_reply_split()

At the paper's data size (`bundled.SPC_VALID_CONVERSATIONS` / `SPC_TEST_CONVERSATIONS`: conversations of
SPC's own validation and test files, whose personas differ), `next_reply_files` trains on one file and
tests on the other; `read_spc_csv` reads the dataset's CSVs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from percontrast.data.schema import Example, iter_jsonl
from percontrast.utils.bundled import SPC_CONVERSATIONS
from percontrast.utils.errors import DataError

TASK = "spc_next_reply"
TEMPLATE = "persona_dialogue_chat"
SPEAKERS = ("User 1", "User 2")


def read_conversations(path: str | Path = SPC_CONVERSATIONS) -> list[dict[str, Any]]:
    """Read and validate Synthetic-Persona-Chat conversations (JSONL, one conversation per line)."""
    conversations = []
    for line, record in iter_jsonl(path):
        for name in ("user_1_persona", "user_2_persona", "utterances"):
            if name not in record:
                raise DataError("missing required field", path=str(path), line=line, field=name)
        for turn in record["utterances"]:
            if (
                not isinstance(turn, dict)
                or turn.get("speaker") not in SPEAKERS
                or not isinstance(turn.get("text"), str)
            ):
                raise DataError(
                    f"each utterance must be {{'speaker': one of {list(SPEAKERS)}, 'text': str}}",
                    path=str(path),
                    line=line,
                    field="utterances",
                )
        record["_line"] = line
        conversations.append(record)
    if not conversations:
        raise DataError("no conversations in file", path=str(path))
    return conversations


def next_reply_examples(conversation: dict[str, Any], index: int, history: int = 6) -> list[Example]:
    """One example per message after the first (both speakers), with up to ``history`` prior messages."""
    personas = {"User 1": conversation["user_1_persona"], "User 2": conversation["user_2_persona"]}
    turns = conversation["utterances"]
    examples = []
    for position in range(1, len(turns)):
        speaker = turns[position]["speaker"]
        response = turns[position]["text"].strip()
        if not response:
            continue
        context = turns[max(0, position - history) : position]
        lines = [
            f"{'You' if turn['speaker'] == speaker else 'Partner'}: {turn['text'].strip()}"
            for turn in context
        ]
        examples.append(
            Example(
                id=f"spc{index:03d}_t{position:02d}",
                persona=list(personas[speaker]),
                query="\n".join(lines),
                response=response,
                user_id=f"spc{index:03d}_{speaker.replace(' ', '').lower()}",
                task=TASK,
                template=TEMPLATE,
            )
        )
    return examples


def read_spc_csv(path: str | Path) -> tuple[list[dict[str, Any]], int]:
    """Conversations of one of the dataset's own CSV files (``Synthetic-Persona-Chat_valid.csv``, ``_test.csv``)
    in the bundled JSONL format, and the count of conversations left out.

    Columns: ``user 1 personas`` / ``user 2 personas`` (one sentence a line) and ``Best Generated
    Conversation`` (one ``User 1: ...`` / ``User 2: ...`` line a turn). A conversation with any other non-empty
    line (``* * *``, ``[Later]``, markdown-wrapped speakers: about 3% of them) is left out rather than
    guessed at. ``source_row`` is the 0-based data row in the file.
    """
    import csv
    import re

    turn = re.compile(r"^(User [12]): ?(.*)$")
    conversations, left_out = [], 0
    with open(path, encoding="utf-8", newline="") as handle:
        for row_index, row in enumerate(csv.DictReader(handle)):
            lines = [line.strip() for line in row["Best Generated Conversation"].split("\n") if line.strip()]
            matches = [turn.match(line) for line in lines]
            if not matches or not all(matches):
                left_out += 1
                continue
            conversations.append(
                {
                    "source_file": f"google-research-datasets/Synthetic-Persona-Chat:data/{Path(path).name}",
                    "source_row": row_index,
                    "user_1_persona": [s.strip() for s in row["user 1 personas"].split("\n") if s.strip()],
                    "user_2_persona": [s.strip() for s in row["user 2 personas"].split("\n") if s.strip()],
                    "utterances": [{"speaker": m.group(1), "text": m.group(2)} for m in matches],
                }
            )
    return conversations, left_out


def next_reply_files(
    train_path: str | Path, test_path: str | Path, history: int = 6
) -> tuple[list[Example], list[Example], dict[str, int]]:
    """Train examples from one conversations file and test examples from another (e.g. SPC's validation and
    test splits, whose personas differ); training examples whose persona occurs in the test file are dropped
    and counted, as in `next_reply_split`."""
    train = [
        example
        for index, conversation in enumerate(read_conversations(train_path))
        for example in next_reply_examples(conversation, index, history)
    ]
    test = [
        example
        for index, conversation in enumerate(read_conversations(test_path))
        for example in next_reply_examples(conversation, index, history)
    ]
    for example in test:
        example.id = "test_" + example.id
        example.user_id = "test_" + str(example.user_id)
    test_personas = {tuple(example.persona) for example in test}
    kept = [example for example in train if tuple(example.persona) not in test_personas]
    counts = {
        "train": len(kept),
        "test": len(test),
        "train_dropped_test_persona": len(train) - len(kept),
    }
    return kept, test, counts


def next_reply_split(
    path: str | Path = SPC_CONVERSATIONS, history: int = 6
) -> tuple[list[Example], list[Example], dict[str, int]]:
    """Train and held-out-persona test examples, and counts of what was kept and dropped."""
    conversations = read_conversations(path)
    train, test = [], []
    for index, conversation in enumerate(conversations):
        (test if index % 5 == 4 else train).extend(next_reply_examples(conversation, index, history))
    test_personas = {tuple(example.persona) for example in test}
    kept = [example for example in train if tuple(example.persona) not in test_personas]
    counts = {
        "conversations": len(conversations),
        "train": len(kept),
        "test": len(test),
        "train_dropped_test_persona": len(train) - len(kept),
    }
    return kept, test, counts
