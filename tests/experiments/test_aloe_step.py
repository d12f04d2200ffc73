"""The runner's ALOE step is `percontrast aloe`: the same settings (one `AloeConfig`) and the same
requests to the simulator and the judge for the same profile."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from chat_server import ChatServer

from percontrast.cli import main
from percontrast.evaluation.aloe_config import AloeConfig
from percontrast.experiments.config import load_experiment_config
from percontrast.experiments.grid import Cell
from percontrast.experiments.runner import _Context, aloe_rows
from percontrast.modeling.load import load_model

FIXTURES = Path(__file__).parents[1] / "fixtures" / "aloe"
PROFILES, PERSONALITIES = str(FIXTURES / "profile_eval.jsonl"), str(FIXTURES / "personality_eval.jsonl")
KWARGS = {"enable_thinking": False}


def _replies() -> list[str]:
    # per turn: the simulator's message, then the judge's score (one conversation)
    return ["hi, I love hiking", "4", "what about you?", "3"]


def _strip(requests: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if not k.startswith("_")} for r in requests]


def test_a_runner_cell_and_percontrast_aloe_send_identical_requests(tmp_path: Path) -> None:
    with ChatServer(replies=_replies()) as server:
        argv = ["aloe", "--model", "tiny", "--profiles", PROFILES, "--personalities", PERSONALITIES]
        argv += ["--n-profiles", "1", "--n-personalities", "1", "--turns", "2", "--max-new-tokens", "4"]
        argv += ["--judge-url", server.url, "--judge-api-model", "m"]
        argv += ["--judge-chat-template-kwargs", json.dumps(KWARGS), "--out", str(tmp_path / "cli.json")]
        assert main(argv) == 0
        cli_requests = _strip(server.requests)

    config_path = tmp_path / "grid.yaml"
    values = {
        "name": "aloe-step",
        "output_dir": str(tmp_path / "out"),
        "grid": {"models": ["tiny"], "losses": ["ce"], "tasks": ["spc"], "learning_rates": [1e-3]},
        "tasks": {"spc": {"source": "persona_chat", "train_sample": 2, "test_sample": 2}},
        "evaluation": {
            "judge": {"url": "", "api_model": "m", "chat_template_kwargs": KWARGS, "predictions": False},
            "aloe": {
                "profiles": PROFILES,
                "personalities": PERSONALITIES,
                "n_profiles": 1,
                "n_personalities": 1,
                "n_turns": 2,
                "max_new_tokens": 4,
            },
        },
    }
    with ChatServer(replies=_replies()) as server:
        values["evaluation"]["judge"]["url"] = server.url
        config_path.write_text(yaml.safe_dump(values), encoding="utf-8")
        config = load_experiment_config(config_path)
        cell = Cell("tiny", "ce", "spc", 1e-3, None, None, 0)
        model, tokenizer = load_model("tiny")
        rows = aloe_rows(_Context(config, "r"), cell, model, tokenizer, tmp_path / "cell")
        runner_requests = _strip(server.requests)

    assert len(cli_requests) == 4 and runner_requests == cli_requests
    simulator, judge = cli_requests[0], cli_requests[1]
    defaults = AloeConfig()
    assert (simulator["max_tokens"], simulator["temperature"]) == (300, 1.0)
    assert (judge["max_tokens"], judge["temperature"]) == (
        defaults.judge.max_tokens,
        defaults.judge.temperature,
    )
    assert judge["chat_template_kwargs"] == KWARGS
    assert {r["metric"]: r["value"] for r in rows}["AL_avg"] == 3.0  # average_from = min(6, 2) = 2
    assert {r["metric"]: r["value"] for r in rows}["AL1"] == 4.0


def test_the_cli_flags_and_the_experiment_section_take_their_defaults_from_aloe_config() -> None:
    import argparse

    from percontrast.commands import aloe as aloe_command

    parser = argparse.ArgumentParser()
    aloe_command.add_parser(parser.add_subparsers())
    args = parser.parse_args(
        ["aloe", "--model", "m", "--profiles", "p", "--personalities", "q", "--out", "o"]
    )
    assert aloe_command.aloe_config(args) == AloeConfig(profiles="p", personalities="q")
