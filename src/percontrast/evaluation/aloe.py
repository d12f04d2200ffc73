"""ALOE cross-scenario personalization (Wu et al., "Aligning LLMs with Individual Preferences via
Interaction", COLING 2025, arXiv:2410.03642), run as its authors run it (the paper's Tables 4 and 9).

The protocol is ALOE's ``evaluation/eval_own.py`` (github.com/ShujinWu-0814/ALOE @ d5015c5, cited by
line below); where it differs from that script it says so.

Data: ALOE's ``datasets/profile_eval.jsonl`` (20 profiles) and ``personality_eval.jsonl``, one bare JSON
string per line, the last line without a newline. The script reads them with ``readlines()`` (lines
62-66) and formats the *raw lines* into its prompts: the JSON quotes stay, and every line but the last
keeps its newline. We do the same (`read_aloe_lines`), after checking that each line is a JSON string.
Every profile is paired with the first 5 personalities (lines 90-91): 100 conversations.

Per conversation, for k = 1..10 rounds (lines 94-157):
1. the user simulator writes the user's message. Its conversation starts with the role-play prompt
   (profile and personality filled in) as the first *user* message, no system message (lines 96-107);
   its own messages are its assistant turns, the model's replies its user turns. Each message is
   cleaned as theirs is (`remove_asterisk_text`, lines 18-23) before anyone sees it.
2. the model under test replies to the conversation so far, with no system message and no persona
   (lines 110-114). It samples with the paper's inference settings (Appendix B: temperature 0.4, 512
   new tokens); ALOE's script uses the model's default generation config and 2048 new tokens.
3. the judge sees the profile, the personality, the latest user message and the latest reply, in
   ALOE's prompt (lines 68-80, 117), and its reply is read as ``int(reply)`` (lines 120, 147).

ALOE's simulator and judge are ``gpt-4o-mini-2024-07-18`` with ``max_tokens=300`` and the API's
default temperature (1.0) (``call_gpt``, lines 25-32): those are the defaults of `AloeConfig`
(``aloe_config.py``), the one definition of the settings behind ``percontrast aloe`` and the runner's
``aloe:`` section; both run `evaluate_aloe`. Replies that still hold a reasoning block (``<think>``, a
Qwen3 simulator or judge in thinking mode) are counted per turn, and a judge's is never parsed. AL(k), the alignment level at turn k, is the mean judge score at turn k (line
160) over the judgements that parsed; the report adds the average of AL(6..10), the paper's figure.

Differences kept on purpose: a judge reply ``int`` cannot read (or outside 1-5) is counted as unparsed
rather than stopping the run (ALOE's script raises); a backend failure after retries stops the run
(ALOE's script drops the rest of that conversation, lines 131-135); the model's reply is its newly
generated tokens (ALOE splits the decoded sequence on ``'assistant\\n\\n'``, line 58) and the prompt
is not truncated (ALOE truncates on the left at the model's context length, line 56).

    percontrast aloe --model runs/x --profiles profile_eval.jsonl --personalities personality_eval.jsonl \
        --simulator-url https://api.openai.com/v1 --judge-url https://api.openai.com/v1 --out aloe.json
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from percontrast.evaluation import judge_prompts as prompt_texts
from percontrast.evaluation.aloe_config import (  # noqa: F401 (re-exported: the settings live there)
    ALOE_API_MODEL,
    ALOE_API_URL,
    ALOE_MAX_TOKENS,
    ALOE_TEMPERATURE,
    AloeConfig,
)
from percontrast.evaluation.judge import ALOE, Judge, judge_from_config
from percontrast.modeling.chat import ChatBackend, Messages, holds_reasoning
from percontrast.utils.errors import ConfigError, DataError
from percontrast.utils.tables import markdown_table

logger = logging.getLogger(__name__)


def remove_asterisk_text(text: str) -> str:
    """ALOE's clean-up of simulator messages (eval_own.py lines 18-23): drop ``*...*``, squeeze spaces."""
    cleaned = re.sub(r"\*.*?\*", "", text)
    return re.sub(r"\s+", " ", cleaned).strip()


def read_aloe_lines(path: str | Path) -> list[str]:
    """An ALOE file as ``readlines()`` gives it (what ALOE puts in its prompts), each line checked.

    Raises:
        DataError: naming the line, if a line is not a non-empty JSON string.
    """
    with open(path, encoding="utf-8") as handle:
        lines = handle.readlines()
    for number, line in enumerate(lines, start=1):
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(
                f"not JSON ({exc.msg}); expected a JSON string", path=str(path), line=number
            ) from None
        if not isinstance(value, str) or not value.strip():
            raise DataError(
                f"expected a non-empty JSON string, got {type(value).__name__}", path=str(path), line=number
            )
    return lines


@dataclass
class Conversation:
    """One simulated user (the raw ALOE lines) and the dialogue so far.

    ``turns`` holds ``{"user_raw", "user", "assistant", "score", "judge_replies"?}`` per round: the
    simulator's message before and after `remove_asterisk_text`, the reply, the judge's score.
    """

    id: str
    profile: str
    personality: str
    turns: list[dict] = field(default_factory=list)


def build_conversations(
    profiles_path: str | Path, personalities_path: str | Path, config: AloeConfig
) -> list[Conversation]:
    """The profile x personality grid (profile-major, as ALOE's loops), checking the files hold enough."""
    profiles, personalities = read_aloe_lines(profiles_path), read_aloe_lines(personalities_path)
    n_profiles = len(profiles) if config.n_profiles is None else config.n_profiles
    for name, values, wanted, path in (
        ("profiles", profiles, n_profiles, profiles_path),
        ("personalities", personalities, config.n_personalities, personalities_path),
    ):
        if len(values) < wanted:
            raise DataError(f"{len(values)} {name} in the file but {wanted} are asked for", path=str(path))
    return [
        Conversation(f"p{i:02d}_q{j}", profiles[i], personalities[j])
        for i in range(n_profiles)
        for j in range(config.n_personalities)
    ]


def simulator_messages(conversation: Conversation) -> Messages:
    """The simulator's view (``role_play_conv``): the role-play prompt as the first user message, then
    its own (cleaned) messages as assistant turns and the model's replies as user turns."""
    prompt = prompt_texts.aloe_role_play_prompt(conversation.profile, conversation.personality)
    messages = [{"role": "user", "content": prompt}]
    for turn in conversation.turns:
        messages.append({"role": "assistant", "content": turn["user"]})
        messages.append({"role": "user", "content": turn["assistant"]})
    return messages


def model_messages(conversation: Conversation) -> Messages:
    """The model under test's view (``eval_model_conv``): the conversation only, no system message."""
    messages = []
    for turn in conversation.turns:
        messages.append({"role": "user", "content": turn["user"]})
        if "assistant" in turn:
            messages.append({"role": "assistant", "content": turn["assistant"]})
    return messages


def judge_messages(conversation: Conversation) -> Messages:
    """ALOE's judge prompt for the latest round: profile, personality, latest message, latest reply."""
    last = conversation.turns[-1]
    text = prompt_texts.aloe_judge_prompt(
        conversation.profile, conversation.personality, last["user"], last["assistant"]
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
    """Run every conversation for ``config.n_turns`` rounds, in lock-step (one batch per model per round).

    Returns:
        `summarise`'s dict.
    """
    from tqdm.auto import tqdm

    for turn in tqdm(range(1, config.n_turns + 1), desc="ALOE turns", disable=not progress):
        seed = config.seed + 7919 * turn
        user_messages = simulator.chat(
            [simulator_messages(c) for c in conversations],
            max_new_tokens=config.simulator.max_tokens,
            temperature=config.simulator.temperature,
            seed=seed,
        )
        for conversation, (message,) in zip(conversations, user_messages, strict=True):
            turn = {"user_raw": message, "user": remove_asterisk_text(message)}
            if holds_reasoning(message):  # a reasoning model in thinking mode: counted in the summary
                turn["user_reasoning"] = True
            conversation.turns.append(turn)
        replies = model.chat(
            [model_messages(c) for c in conversations],
            max_new_tokens=config.max_new_tokens,
            temperature=config.temperature,
            seed=seed + 1,
        )
        for conversation, (reply,) in zip(conversations, replies, strict=True):
            conversation.turns[-1]["assistant"] = reply
        judgements = judge.score([judge_messages(c) for c in conversations], ALOE)
        for conversation, judgement in zip(conversations, judgements, strict=True):
            conversation.turns[-1]["score"] = judgement.score
            if judgement.replies:
                conversation.turns[-1]["judge_replies"] = judgement.replies
            if judgement.n_reasoning:
                conversation.turns[-1]["judge_reasoning"] = judgement.n_reasoning
    return summarise(conversations, config)


def summarise(conversations: list[Conversation], config: AloeConfig) -> dict:
    """AL(k) per turn (mean over parsed judgements), the average from ``average_from``, failure counts.

    Returns:
        ``{"al": {k: AL(k)}, "al_avg", "average_from", "n_conversations", "n_unparsed": {k: count},
        "n_empty_user_messages": {k: count}, "n_reasoning_user_messages": {k: count},
        "n_reasoning_judge_replies": {k: count}, "config", "conversations": [...]}``. A judge reply
        that holds a reasoning block is never parsed (it is in ``n_unparsed`` too).
    """
    al, unparsed, empty, user_reasoning, judge_reasoning = {}, {}, {}, {}, {}
    for k in range(1, config.n_turns + 1):
        turns = [c.turns[k - 1] for c in conversations if len(c.turns) >= k]
        parsed = [t["score"] for t in turns if t.get("score") is not None]
        al[k] = sum(parsed) / len(parsed) if parsed else None
        unparsed[k] = len(turns) - len(parsed)
        empty[k] = sum(1 for t in turns if "user" in t and not t["user"])
        user_reasoning[k] = sum(1 for t in turns if t.get("user_reasoning"))
        judge_reasoning[k] = sum(t.get("judge_reasoning", 0) for t in turns)
    tail = [al[k] for k in range(config.average_from, config.n_turns + 1)]
    if any(empty.values()):
        logger.warning("simulator messages empty after remove_asterisk_text, per turn: %s", empty)
    if any(user_reasoning.values()) or any(judge_reasoning.values()):
        logger.warning(
            "replies holding a reasoning block (<think>), per turn: simulator %s, judge %s; switch "
            "thinking off (chat_template_kwargs: {enable_thinking: false})",
            user_reasoning,
            judge_reasoning,
        )
    return {
        "al": al,
        "al_avg": sum(tail) / len(tail) if tail and all(v is not None for v in tail) else None,
        "average_from": config.average_from,
        "n_conversations": len(conversations),
        "n_unparsed": unparsed,
        "n_empty_user_messages": empty,
        "n_reasoning_user_messages": user_reasoning,
        "n_reasoning_judge_replies": judge_reasoning,
        "config": asdict(config),
        "conversations": [asdict(c) for c in conversations],
    }


def aloe_table(summary: dict) -> str:
    """The per-turn markdown table: AL(k) for every turn and the average."""
    turns = sorted(summary["al"])
    header = [f"AL({k})" for k in turns] + [f"avg {summary['average_from']}-{turns[-1]}"]
    cells = ["n/a" if summary["al"][k] is None else f"{summary['al'][k]:.3f}" for k in turns]
    cells.append("n/a" if summary["al_avg"] is None else f"{summary['al_avg']:.3f}")
    failures = sum(summary["n_unparsed"].values())
    note = f"\n{failures} judgement(s) could not be parsed: {summary['n_unparsed']}\n" if failures else ""
    for key, what in (
        ("n_reasoning_user_messages", "simulator message(s)"),
        ("n_reasoning_judge_replies", "judge reply(ies)"),
    ):
        counts = summary.get(key, {})
        if sum(counts.values()):
            note += f"\n{sum(counts.values())} {what} held a reasoning block (<think>): {counts}\n"
    return markdown_table(header, [cells]) + "\n" + note


def write_aloe(summary: dict, out: str | Path, *, write_conversations: bool = True) -> None:
    """The summary JSON, the conversations JSONL beside it, and the table as markdown (each atomically).

    ``write_conversations=False`` leaves the conversations file alone (the CLI appends to it as each
    conversation finishes, so that an interrupted run resumes).
    """
    from percontrast.utils.files import atomic_write_json, atomic_write_jsonl, atomic_write_text

    out = Path(out)
    body = {key: value for key, value in summary.items() if key != "conversations"}
    atomic_write_json(out, body)
    if write_conversations:
        atomic_write_jsonl(conversations_path(out), summary["conversations"])
    atomic_write_text(out.with_suffix(".md"), aloe_table(summary))


def conversations_path(out: str | Path) -> Path:
    """Where the conversations of the summary ``out`` are kept: ``<out stem>.conversations.jsonl``."""
    return Path(out).with_suffix(".conversations.jsonl")


def evaluate_aloe(
    config: AloeConfig,
    out: str | Path,
    backends: Callable[[], tuple[ChatBackend, ChatBackend, ChatBackend]],
    identity: dict,
    progress: bool = True,
) -> dict:
    """Run ALOE (or resume it) into ``out``: what ``percontrast aloe`` and the experiment runner call.

    Conversations go ``config.chunk_size`` at a time; each finished one is appended to the
    conversations file at once, so a rerun with the same settings resumes after it (other settings:
    an error naming the file). The judge is built here from ``config`` (ALOE's token limit and
    temperature, `ALOE`'s ``int()`` parse), so both callers send the same requests.

    Args:
        config: the settings; ``profiles`` and ``personalities`` must be set.
        out: the summary JSON (`write_aloe` writes the table and conversations beside it).
        backends: returns ``(model under test, simulator, judge backend)``; called only when a
            conversation is left to run.
        identity: what names the backends in the settings record (model, simulator, judge, dtype...).
        progress: show a progress bar over turns.

    Returns:
        `summarise`'s dict, plus ``simulator`` and ``judge`` (who ran them).
    """
    from percontrast.utils.files import check_run_settings, read_finished

    if not (config.profiles and config.personalities):
        raise ConfigError("ALOE needs `profiles` and `personalities` (ALOE's profile/personality_eval.jsonl)")
    saved = conversations_path(out)
    conversations = build_conversations(config.profiles, config.personalities, config)
    check_run_settings(saved, _aloe_settings(config, identity), kind="aloe")
    finished = read_finished(saved)
    todo = [c for c in conversations if c.id not in finished]
    if finished:
        logger.info(
            "resuming: %d of %d conversations already in %s", len(finished), len(conversations), saved
        )
    who = {"simulator": identity.get("simulator"), "judge": {"backend": identity.get("judge")}}
    if todo:
        who = _run_conversations(todo, finished, len(conversations), saved, config, backends, progress)
    summary = summarise([Conversation(**finished[c.id]) for c in conversations], config)
    summary["simulator"] = who["simulator"]
    summary["judge"] = {"mode": config.judge.mode, "n_samples": config.judge.samples} | who["judge"]
    write_aloe(summary, out, write_conversations=False)
    return summary


def _aloe_settings(config: AloeConfig, identity: dict) -> dict:
    """Everything that decides a conversation's content (recorded beside the conversations; a resume
    under other settings is refused); the grid size may grow between runs."""
    from percontrast.utils.files import file_fingerprint

    skip = ("n_profiles", "n_personalities", "profiles", "personalities", "simulator", "judge")
    # The simulator's and judge's backends are in ``identity``; how they are asked under the flat names of
    # earlier records (`AloeConfig.protocol_settings`), so a run recorded before the roles nested resumes.
    settings = {key: value for key, value in asdict(config).items() if key not in skip}
    return (
        settings
        | config.protocol_settings()
        | {
            # The files' contents too: the same paths with other profiles must not resume.
            "profiles": f"{Path(config.profiles).resolve()} (sha256 {file_fingerprint([config.profiles], full=True)})",
            "personalities": f"{Path(config.personalities).resolve()} "
            f"(sha256 {file_fingerprint([config.personalities], full=True)})",
            **identity,
        }
    )


def _run_conversations(
    todo: list[Conversation],
    finished: dict,
    total: int,
    saved: Path,
    config: AloeConfig,
    backends: Callable[[], tuple[ChatBackend, ChatBackend, ChatBackend]],
    progress: bool,
) -> dict:
    """Run the conversations left ``config.chunk_size`` at a time, appending each finished one to ``saved``
    (and to ``finished``); returns who simulated and judged. Ctrl-C says what was saved."""
    from percontrast.utils.errors import Interrupted
    from percontrast.utils.files import JsonlAppender

    model, simulator, judge_backend = backends()
    judge = judge_from_config(config.judge, judge_backend, seed=config.seed)
    who = {"simulator": simulator.name, "judge": {"backend": judge_backend.name, "mode": judge.mode}}
    logger.info(
        "ALOE: %d conversations x %d turns; simulator %s, judge %s (%s)",
        len(todo),
        config.n_turns,
        simulator.name,
        judge_backend.name,
        judge.mode,
    )
    with JsonlAppender(saved) as appender:
        try:
            for start in range(0, len(todo), config.chunk_size):
                chunk = todo[start : start + config.chunk_size]
                run_aloe(model, simulator, judge, chunk, config, progress=progress)
                for conversation in chunk:
                    appender.write(asdict(conversation))
                    finished[conversation.id] = asdict(conversation)
        except KeyboardInterrupt:
            raise Interrupted(
                f"{len(finished)} of {total} conversations are saved in {saved}; "
                "rerun the same command to resume"
            ) from None
    return who
