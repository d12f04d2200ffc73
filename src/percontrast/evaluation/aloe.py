"""ALOE cross-scenario personalization (Wu et al., "Aligning LLMs with Individual Preferences via
Interaction", COLING 2025, arXiv:2410.03642), as the paper evaluates it (Tables 4 and 9).

Data: the user's copy of ALOE's ``profile_eval.jsonl`` and ``personality_eval.jsonl``, one bare JSON
string per line. The benchmark pairs the 20 evaluation profiles with the first 5 evaluation
personalities: 100 conversations.

Protocol, per conversation, for k = 1..10 rounds:
1. a user-simulator LLM, given the profile and personality and told to reveal them gradually, writes
   the user's message;
2. the model under test, which sees no persona (only the conversation), replies;
3. the judge scores that reply from 1 to 5 for how well it fits the user's profile and personality.

AL(k), the "alignment level" at turn k in ALOE, is the mean judge score at turn k over the
conversations (the judgements that parsed); the report also gives the average of AL(6..10), the
figure of the paper's tables. Conversations run in lock-step, so each turn is one batch per model.

    percontrast aloe --model runs/x --profiles profile_eval.jsonl --personalities personality_eval.jsonl
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path

from percontrast.data.schema import iter_jsonl
from percontrast.errors import ConfigError, DataError
from percontrast.evaluation import prompts as prompt_texts
from percontrast.evaluation.backends import ChatBackend, Messages
from percontrast.evaluation.judge import Judge

logger = logging.getLogger(__name__)


@dataclass
class AloeConfig:
    """ALOE settings (defaults: the benchmark's 20 x 5 conversations of 10 turns).

    Attributes:
        n_profiles: evaluation profiles used (the first ones in the file).
        n_personalities: evaluation personalities used (the first ones).
        n_turns: rounds per conversation.
        max_new_tokens: reply length of the model under test.
        temperature: sampling temperature of the model under test (0: greedy).
        simulator_max_new_tokens: length of the simulated user's messages.
        simulator_temperature: sampling temperature of the user simulator.
        system_prompt: system message of the model under test (no persona in it); empty: none.
        seed: base seed.
        average_from: first turn of the reported average AL(k..n_turns) (paper: 6).
    """

    n_profiles: int = 20
    n_personalities: int = 5
    n_turns: int = 10
    max_new_tokens: int = 256
    temperature: float = 0.4
    simulator_max_new_tokens: int = 96
    simulator_temperature: float = 0.7
    system_prompt: str = "You are a helpful assistant."
    seed: int = 0
    average_from: int = 6

    def __post_init__(self) -> None:
        for name in (
            "n_profiles",
            "n_personalities",
            "n_turns",
            "max_new_tokens",
            "simulator_max_new_tokens",
        ):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not 1 <= self.average_from <= self.n_turns:
            raise ConfigError(f"average_from must be in 1..n_turns={self.n_turns}, got {self.average_from}")


def read_aloe_strings(path: str | Path) -> list[str]:
    """An ALOE file: every non-blank line a bare JSON string (errors name the line)."""
    values = []
    for line, value in iter_jsonl(path):
        if not isinstance(value, str) or not value.strip():
            raise DataError(
                f"expected a non-empty JSON string, got {type(value).__name__}", path=str(path), line=line
            )
        values.append(value)
    return values


@dataclass
class Conversation:
    """One simulated user and the dialogue so far."""

    id: str
    profile: str
    personality: str
    turns: list[dict] = field(default_factory=list)  # {"user", "assistant", "score", "judge_replies"?}


def build_conversations(
    profiles_path: str | Path, personalities_path: str | Path, config: AloeConfig
) -> list[Conversation]:
    """The profile x personality grid (profile-major), checking that the files hold enough entries."""
    profiles, personalities = read_aloe_strings(profiles_path), read_aloe_strings(personalities_path)
    for name, values, wanted, path in (
        ("profiles", profiles, config.n_profiles, profiles_path),
        ("personalities", personalities, config.n_personalities, personalities_path),
    ):
        if len(values) < wanted:
            raise DataError(f"{len(values)} {name} in the file but {wanted} are asked for", path=str(path))
    return [
        Conversation(f"p{i:02d}_q{j}", profiles[i], personalities[j])
        for i in range(config.n_profiles)
        for j in range(config.n_personalities)
    ]


def _history(conversation: Conversation, assistant_name: str = "Assistant") -> str:
    lines = []
    for turn in conversation.turns:
        lines.append(f"User: {turn['user']}")
        if "assistant" in turn:
            lines.append(f"{assistant_name}: {turn['assistant']}")
    return "\n".join(lines)


def simulator_messages(conversation: Conversation, config: AloeConfig) -> Messages:
    """The simulator's view: it is the 'assistant' writing the user's lines; the model's replies are 'user'."""
    system = prompt_texts.ALOE_USER_SIMULATOR.format(
        profile=conversation.profile, personality=conversation.personality, n_turns=config.n_turns
    )
    messages = [{"role": "system", "content": system}, {"role": "user", "content": prompt_texts.ALOE_OPENING}]
    for turn in conversation.turns:
        messages.append({"role": "assistant", "content": turn["user"]})
        messages.append({"role": "user", "content": turn["assistant"]})
    return messages


def model_messages(conversation: Conversation, config: AloeConfig) -> Messages:
    """The model under test's view: no persona, only the conversation (the last user message open)."""
    messages = [{"role": "system", "content": config.system_prompt}] if config.system_prompt else []
    for turn in conversation.turns:
        messages.append({"role": "user", "content": turn["user"]})
        if "assistant" in turn:
            messages.append({"role": "assistant", "content": turn["assistant"]})
    return messages


def judge_messages(conversation: Conversation) -> Messages:
    """The judge's prompt for the latest reply."""
    last = conversation.turns[-1]
    history = (
        _history(Conversation(conversation.id, "", "", conversation.turns[:-1]))
        if len(conversation.turns) > 1
        else ""
    )
    history = (history + "\n" if history else "") + f"User: {last['user']}"
    text = prompt_texts.ALOE_JUDGE.format(
        profile=conversation.profile,
        personality=conversation.personality,
        history=history,
        reply=last["assistant"],
    )
    return [{"role": "user", "content": text}]


def run_aloe(
    model: ChatBackend,
    simulator: ChatBackend,
    judge: Judge,
    conversations: list[Conversation],
    config: AloeConfig,
    progress: bool = True,
) -> dict:
    """Run every conversation for ``config.n_turns`` rounds and summarise.

    Returns:
        ``{"al": {k: AL(k)}, "al_avg": mean of AL(average_from..n_turns), "n_conversations",
        "n_unparsed": {k: judgements with no parsable reply}, "config", "conversations": [...]}``.
    """
    from tqdm.auto import tqdm

    for turn in tqdm(range(1, config.n_turns + 1), desc="ALOE turns", disable=not progress):
        seed = config.seed + 7919 * turn
        user_messages = simulator.chat(
            [simulator_messages(c, config) for c in conversations],
            max_new_tokens=config.simulator_max_new_tokens,
            temperature=config.simulator_temperature,
            seed=seed,
        )
        for conversation, (message,) in zip(conversations, user_messages, strict=True):
            conversation.turns.append({"user": message})
        replies = model.chat(
            [model_messages(c, config) for c in conversations],
            max_new_tokens=config.max_new_tokens,
            temperature=config.temperature,
            seed=seed + 1,
        )
        for conversation, (reply,) in zip(conversations, replies, strict=True):
            conversation.turns[-1]["assistant"] = reply
        for conversation, judgement in zip(
            conversations, judge.score([judge_messages(c) for c in conversations]), strict=True
        ):
            conversation.turns[-1]["score"] = judgement.score
            if judgement.replies:
                conversation.turns[-1]["judge_replies"] = judgement.replies
    return summarise(conversations, config)


def summarise(conversations: list[Conversation], config: AloeConfig) -> dict:
    """AL(k) per turn (mean over parsed judgements), the average from ``average_from``, failure counts."""
    al, unparsed = {}, {}
    for k in range(1, config.n_turns + 1):
        scores = [c.turns[k - 1]["score"] for c in conversations if len(c.turns) >= k]
        parsed = [s for s in scores if s is not None]
        al[k] = sum(parsed) / len(parsed) if parsed else None
        unparsed[k] = len(scores) - len(parsed)
    tail = [al[k] for k in range(config.average_from, config.n_turns + 1)]
    return {
        "al": al,
        "al_avg": sum(tail) / len(tail) if tail and all(v is not None for v in tail) else None,
        "average_from": config.average_from,
        "n_conversations": len(conversations),
        "n_unparsed": unparsed,
        "config": asdict(config),
        "conversations": [asdict(c) for c in conversations],
    }


def aloe_table(summary: dict) -> str:
    """The per-turn markdown table: AL(k) for every turn and the average."""
    turns = sorted(summary["al"])
    header = "| " + " | ".join(f"AL({k})" for k in turns) + f" | avg {summary['average_from']}-{turns[-1]} |"
    cells = ["n/a" if summary["al"][k] is None else f"{summary['al'][k]:.3f}" for k in turns]
    cells.append("n/a" if summary["al_avg"] is None else f"{summary['al_avg']:.3f}")
    failures = sum(summary["n_unparsed"].values())
    note = f"\n{failures} judgement(s) could not be parsed: {summary['n_unparsed']}\n" if failures else ""
    return header + "\n|" + "---|" * (len(turns) + 1) + "\n| " + " | ".join(cells) + " |\n" + note


def write_aloe(summary: dict, out: str | Path, *, write_conversations: bool = True) -> None:
    """The summary JSON, the conversations JSONL beside it, and the table as markdown (each atomically).

    ``write_conversations=False`` leaves the conversations file alone (the CLI appends to it as each
    conversation finishes, so that an interrupted run resumes).
    """
    from percontrast.outputs import atomic_write_json, atomic_write_jsonl, atomic_write_text

    out = Path(out)
    body = {key: value for key, value in summary.items() if key != "conversations"}
    atomic_write_json(out, body)
    if write_conversations:
        atomic_write_jsonl(conversations_path(out), summary["conversations"])
    atomic_write_text(out.with_suffix(".md"), aloe_table(summary))


def conversations_path(out: str | Path) -> Path:
    """Where the conversations of the summary ``out`` are kept: ``<out stem>.conversations.jsonl``."""
    return Path(out).with_suffix(".conversations.jsonl")
