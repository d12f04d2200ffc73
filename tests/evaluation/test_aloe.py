"""ALOE: reading the bare-string files, the conversation views, AL(k), and a run on the fixtures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from percontrast.cli import main
from percontrast.errors import ConfigError, DataError
from percontrast.evaluation.aloe import (
    AloeConfig,
    Conversation,
    build_conversations,
    judge_messages,
    model_messages,
    read_aloe_strings,
    simulator_messages,
    summarise,
)

FIXTURES = Path(__file__).parents[1] / "fixtures" / "aloe"
PROFILES, PERSONALITIES = FIXTURES / "profile_eval.jsonl", FIXTURES / "personality_eval.jsonl"


def test_read_bare_strings_and_errors(tmp_path: Path) -> None:
    assert len(read_aloe_strings(PROFILES)) == 3
    bad = tmp_path / "bad.jsonl"
    bad.write_text('"ok"\n{"profile": "an object"}\n')
    with pytest.raises(DataError, match=r"bad.jsonl:2: expected a non-empty JSON string"):
        read_aloe_strings(bad)


def test_grid_is_profiles_times_first_personalities() -> None:
    conversations = build_conversations(PROFILES, PERSONALITIES, AloeConfig(n_profiles=3, n_personalities=5))
    assert len(conversations) == 15
    assert all("never uses it" not in c.personality for c in conversations)  # the 6th is left out
    assert conversations[0].id == "p00_q0" and conversations[-1].id == "p02_q4"
    with pytest.raises(DataError, match="3 profiles in the file but 20"):
        build_conversations(PROFILES, PERSONALITIES, AloeConfig())


def test_views_hide_the_persona_from_the_model() -> None:
    config = AloeConfig(n_turns=3, average_from=3)
    conversation = Conversation(
        "c", "PROFILE-TEXT", "PERSONALITY-TEXT", [{"user": "hi", "assistant": "hello"}, {"user": "more"}]
    )
    model_view = json.dumps(model_messages(conversation, config))
    assert "PROFILE-TEXT" not in model_view and "PERSONALITY-TEXT" not in model_view
    assert [m["role"] for m in model_messages(conversation, config)] == [
        "system",
        "user",
        "assistant",
        "user",
    ]
    simulator_view = simulator_messages(
        Conversation("c", "PROFILE-TEXT", "P", [{"user": "hi", "assistant": "hello"}]), config
    )
    assert "PROFILE-TEXT" in simulator_view[0]["content"]
    assert [m["role"] for m in simulator_view] == ["system", "user", "assistant", "user"]  # roles swapped
    conversation.turns[-1]["assistant"] = "LATEST"
    judge_text = judge_messages(conversation)[0]["content"]
    assert (
        "PROFILE-TEXT" in judge_text
        and "User: hi\nAssistant: hello\nUser: more" in judge_text
        and "LATEST" in judge_text
    )


def test_al_k_is_the_mean_per_turn_over_parsed_judgements() -> None:
    config = AloeConfig(n_turns=3, average_from=2)
    conversations = [
        Conversation("a", "", "", [{"score": 1.0}, {"score": 2.0}, {"score": 5.0}]),
        Conversation("b", "", "", [{"score": 3.0}, {"score": None}, {"score": 4.0}]),
    ]
    summary = summarise(conversations, config)
    assert summary["al"] == {1: 2.0, 2: 2.0, 3: 4.5}
    assert summary["al_avg"] == pytest.approx(3.25)
    assert summary["n_unparsed"] == {1: 0, 2: 1, 3: 0}


def test_config_validation() -> None:
    with pytest.raises(ConfigError, match="average_from"):
        AloeConfig(n_turns=3, average_from=6)


def test_aloe_cli_on_fixtures_with_tiny(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """End to end: tiny plays model, user and judge (numbers meaningless, the protocol is what is tested)."""
    out = tmp_path / "aloe.json"
    argv = [
        "aloe",
        "--model",
        "tiny",
        "--judge-model",
        "tiny",
        "--profiles",
        str(PROFILES),
        "--personalities",
        str(PERSONALITIES),
    ]
    argv += [
        "--n-profiles",
        "2",
        "--n-personalities",
        "2",
        "--turns",
        "3",
        "--max-new-tokens",
        "6",
        "--out",
        str(out),
    ]
    assert main(argv) == 0
    summary = json.loads(out.read_text())
    assert summary["n_conversations"] == 4 and set(summary["al"]) == {"1", "2", "3"}
    assert all(1.0 <= value <= 5.0 for value in summary["al"].values())
    conversations = [
        json.loads(line) for line in out.with_suffix(".conversations.jsonl").read_text().splitlines()
    ]
    assert len(conversations) == 4 and all(len(c["turns"]) == 3 for c in conversations)
    assert summary["al"]["2"] == pytest.approx(sum(c["turns"][1]["score"] for c in conversations) / 4)
    assert "AL(1) | AL(2) | AL(3) | avg 3-3" in capsys.readouterr().out
