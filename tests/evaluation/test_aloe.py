"""ALOE as eval_own.py runs it: raw-line data, its prompts verbatim, its clean-up and parsing, AL(k), the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from chat_server import ChatServer

from percontrast.cli import main
from percontrast.evaluation.aloe import (
    AloeConfig,
    Conversation,
    build_conversations,
    judge_messages,
    model_messages,
    read_aloe_lines,
    remove_asterisk_text,
    simulator_messages,
    summarise,
)
from percontrast.utils.errors import ConfigError, DataError

FIXTURES = Path(__file__).parents[1] / "fixtures" / "aloe"
PROFILES, PERSONALITIES = FIXTURES / "profile_eval.jsonl", FIXTURES / "personality_eval.jsonl"

# The two prompts as Python literals, copied from github.com/ShujinWu-0814/ALOE evaluation/eval_own.py
# @ d5015c530d6ec4194c0f3062140cd8fad4241df4 (lines 68-80 and 96-105; the indentation is part of the text).
# fmt: off
THEIR_EVALUATE_PROMPT = '''
You will be given a user's profile, personalities, and a message that the user sent to a chatbot. You will also be given a response from a model. Your task is to carefully evaluate how much the response is tailored to the user's potential preferences based on the user's profile and personalities.
Here is the user's profile: {}
Here is the user's personalities: {}
Here is the user's message: {}
Here is the model's response: {}

You should follow the criteria for evaluation:
1. Is the conversational style of the message tailored to the user's personalities?
2. Is the content or topic relevant to the user's profile?
3. Is response human-like, engaging, and concise?
You should give a score to the response ranging from 1-5, where 1 represents the least tailored to the user and 5 represents the most user-aligned. Please do not include any analysis about how you evaluate the responses. Only output the score from 1-5. 
'''  # noqa: W291 (the literal's trailing space is ALOE's)

THEIR_ROLE_PLAY_PROMPT = '''Your task is to play the role of a person with the following profile and personalities traits and chat with a chatbot:
                            Profile: {}
                            Personalities: {}
                            Please ignore the gender pronouns in the personalities and use the correct pronouns based on the given profile.
                            Please follow the requirements:
                            1. You should determine the topic of conversation based on the given profile. You should determine the conversational styles based on the given personalities.
                            2. IMPORTANTLY!!! You should only reveal partial information about your profile in each round of conversation instead of disclosing all the provided information at once.
                            3. Keep in mind that you are chatting with a friend instead of a robot or assistant. So do not always seek for advice or recommendations.
                            4. Do not include any analysis about how you role-play this user. Only output your messages content.
                            Now, initiate the conversation with the chatbot in whatever way you like. Please always be concise in your questions and responses and remember that you are pretending to be a human now, so you should generate human-like language.'''
# fmt: on


def test_read_lines_like_readlines(tmp_path: Path) -> None:
    lines = read_aloe_lines(PROFILES)
    with open(PROFILES) as handle:
        assert lines == handle.readlines()
    assert (
        len(lines) == 3 and lines[0].startswith('"') and lines[0].endswith('"\n') and lines[-1].endswith('."')
    )
    bad = tmp_path / "bad.jsonl"
    bad.write_text('"ok"\n{"profile": "an object"}')
    with pytest.raises(DataError, match=r"bad.jsonl:2: expected a non-empty JSON string"):
        read_aloe_lines(bad)
    bad.write_text('"ok"\nnot json')
    with pytest.raises(DataError, match=r"bad.jsonl:2: not JSON"):
        read_aloe_lines(bad)


def test_grid_is_all_profiles_times_first_five_personalities() -> None:
    conversations = build_conversations(PROFILES, PERSONALITIES, AloeConfig())
    assert len(conversations) == 15
    assert all("never uses it" not in c.personality for c in conversations)  # the 6th is left out
    assert conversations[0].id == "p00_q0" and conversations[-1].id == "p02_q4"
    with pytest.raises(DataError, match="3 profiles in the file but 20"):
        build_conversations(PROFILES, PERSONALITIES, AloeConfig(n_profiles=20))


def test_views_are_alo_es() -> None:
    profile, personality = read_aloe_lines(PROFILES)[0], read_aloe_lines(PERSONALITIES)[0]
    conversation = Conversation(
        "c",
        profile,
        personality,
        [{"user": "hi", "assistant": "hello"}, {"user": "more", "assistant": "LATEST"}],
    )
    simulator = simulator_messages(conversation)
    assert simulator[0] == {"role": "user", "content": THEIR_ROLE_PLAY_PROMPT.format(profile, personality)}
    assert [m["role"] for m in simulator] == ["user", "assistant", "user", "assistant", "user"]
    assert [m["content"] for m in simulator[1:]] == ["hi", "hello", "more", "LATEST"]
    assert model_messages(conversation) == [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello"},
        {"role": "user", "content": "more"},
        {"role": "assistant", "content": "LATEST"},
    ]  # no system message, no persona
    assert judge_messages(conversation) == [
        {"role": "user", "content": THEIR_EVALUATE_PROMPT.format(profile, personality, "more", "LATEST")}
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("*waves* Hi  there!\n\nHow are you? *smiles*", "Hi there! How are you?"),
        ("a *b* c *d", "a c *d"),
        ("*a\nb* c", "*a b* c"),  # '.' does not cross a newline, as in ALOE's regex
        ("*sighs*", ""),
    ],
)
def test_remove_asterisk_text(text: str, expected: str) -> None:
    assert remove_asterisk_text(text) == expected


def test_al_k_is_the_mean_per_turn_over_parsed_judgements() -> None:
    config = AloeConfig(n_turns=3, average_from=2)
    conversations = [
        Conversation("a", "", "", [{"score": 1}, {"score": 2}, {"score": 5}]),
        Conversation("b", "", "", [{"score": 3}, {"score": None}, {"score": 4}]),
    ]
    summary = summarise(conversations, config)
    assert summary["al"] == {1: 2.0, 2: 2.0, 3: 4.5}
    assert summary["al_avg"] == pytest.approx(3.25)
    assert summary["n_unparsed"] == {1: 0, 2: 1, 3: 0}


def test_config_validation() -> None:
    with pytest.raises(ConfigError, match="average_from"):
        AloeConfig(n_turns=3, average_from=6)


def test_the_settings_record_keeps_its_flat_names(tmp_path: Path) -> None:
    """A conversations file written before the simulator and judge were nested `ChatModelConfig` roles
    resumes: the record names their settings as it did (``judge_max_new_tokens``...)."""
    from percontrast.evaluation.aloe import _aloe_settings

    config = AloeConfig(profiles=str(PROFILES), personalities=str(PERSONALITIES))
    identity = {"model": ["m"], "dtype": "auto", "simulator": ["s"], "judge": ["j"]}
    record = _aloe_settings(config, identity)
    expected = {"simulator_max_new_tokens": 300, "simulator_temperature": 1.0, "judge_max_new_tokens": 300}
    expected |= {"judge_temperature": 1.0, "judge_mode": None, "judge_samples": 1, "max_new_tokens": 512}
    expected |= {"temperature": 0.4, "n_turns": 10, "seed": 0, "average_from": 6, "chunk_size": 10} | identity
    assert {
        key: value for key, value in record.items() if key not in ("profiles", "personalities")
    } == expected


def test_cli_defaults_are_the_official_run() -> None:
    from percontrast.cli import build_parser

    args = build_parser().parse_args(
        ["aloe", "--model", "m", "--profiles", "p", "--personalities", "q", "--out", "o"]
    )
    assert (args.max_new_tokens, args.temperature, args.n_profiles, args.n_personalities, args.turns) == (
        512,
        0.4,
        None,
        5,
        10,
    )
    for role in ("simulator", "judge"):
        assert getattr(args, f"{role}_api_model") == "gpt-4o-mini-2024-07-18"
        assert getattr(args, f"{role}_max_tokens") == 300 and getattr(args, f"{role}_temperature") == 1.0


def test_aloe_cli_with_http_simulator_and_judge(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """End to end on files in ALOE's format: tiny is the model under test, scripted servers the others."""
    user_turn1 = ["*waves* Hi!  I'm new here.", "Hello *smiles*", "hey", "yo", "*sighs* fine", "ok then"]
    user_turn2 = ["more *a*", "*only action*", "b", "c", "d", "e"]
    judge_turn1 = ["4", " 5\n", "Score: 3", "2", "1", "6"]
    judge_turn2 = ["3", "3", "4", "oops", "5", "5"]
    out = tmp_path / "aloe.json"
    with (
        ChatServer(replies=user_turn1 + user_turn2) as simulator,
        ChatServer(replies=judge_turn1 + judge_turn2) as judge,
    ):
        argv = ["aloe", "--model", "tiny", "--profiles", str(PROFILES), "--personalities", str(PERSONALITIES)]
        argv += ["--n-personalities", "2", "--turns", "2", "--max-new-tokens", "6", "--out", str(out)]
        argv += ["--simulator-url", simulator.url, "--judge-url", judge.url]
        assert main(argv) == 0
    summary = json.loads(out.read_text())
    conversations = [
        json.loads(line) for line in out.with_suffix(".conversations.jsonl").read_text().splitlines()
    ]
    profiles, personalities = read_aloe_lines(PROFILES), read_aloe_lines(PERSONALITIES)
    assert summary["n_conversations"] == 6 and [c["id"] for c in conversations][-1] == "p02_q1"

    # The simulator: ALOE's prompt on the raw lines (the last profile line has no newline), first user message.
    first = simulator.requests[0]
    assert first["messages"] == [
        {"role": "user", "content": THEIR_ROLE_PLAY_PROMPT.format(profiles[0], personalities[0])}
    ]
    assert simulator.requests[5]["messages"][0]["content"] == THEIR_ROLE_PLAY_PROMPT.format(
        profiles[2], personalities[1]
    )
    assert (first["model"], first["max_tokens"], first["temperature"]) == ("gpt-4o-mini-2024-07-18", 300, 1.0)
    c0 = conversations[0]
    assert c0["turns"][0]["user"] == "Hi! I'm new here."  # remove_asterisk_text
    assert simulator.requests[6]["messages"][1:] == [
        {"role": "assistant", "content": "Hi! I'm new here."},
        {"role": "user", "content": c0["turns"][0]["assistant"]},
    ]

    # The judge: ALOE's prompt with the latest cleaned message and the latest reply; int() parsing.
    for index, request in enumerate(judge.requests):
        conversation, turn = conversations[index % 6], index // 6
        expected = THEIR_EVALUATE_PROMPT.format(
            conversation["profile"],
            conversation["personality"],
            conversation["turns"][turn]["user"],
            conversation["turns"][turn]["assistant"],
        )
        assert request["messages"] == [{"role": "user", "content": expected}]
        assert (request["model"], request["max_tokens"], request["temperature"]) == (
            "gpt-4o-mini-2024-07-18",
            300,
            1.0,
        )
    assert [c["turns"][0]["score"] for c in conversations] == [4, 5, None, 2, 1, None]
    assert summary["al"] == {"1": 3.0, "2": 4.0} and summary["al_avg"] == 4.0
    assert summary["n_unparsed"] == {"1": 2, "2": 1} and summary["n_empty_user_messages"] == {"1": 0, "2": 1}
    assert "AL(1) | AL(2) | avg 2-2" in capsys.readouterr().out
