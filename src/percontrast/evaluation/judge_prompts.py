"""The judge and user-simulator prompts, as their sources publish them.

Every text here is loaded from ``resources/prompts/<name>.txt`` (`percontrast.utils.bundled.load_published_prompt`),
whose header names the source and documents how the layout was read; nothing is paraphrased.

- LongLaMP judge (paper arXiv:2603.06595, Appendix D.1, used for Table 10): the personalization prompt
  scores an answer against the ground truth on a 1-5 rubric; the quality prompt asks for four 1-5 scores
  in one reply, "Coherence / Consistency / Fluency / Relevance". Each is a system message (instruction and
  rubric) and a user message (the labelled question, ground truth, answer, then the score label).
- ALOE (ShujinWu-0814/ALOE ``evaluation/eval_own.py`` @ d5015c5): the user simulator's role-play prompt
  (the first *user* message of the simulator's conversation) and the judge prompt (one user message).

    from percontrast.evaluation.judge_prompts import personalization_messages
    personalization_messages("Write a review ...", "the user's own review", "the model's review")
"""

from __future__ import annotations

from percontrast.utils.bundled import load_published_prompt

Messages = list[dict[str, str]]

QUALITY_DIMENSIONS = ("coherence", "consistency", "fluency", "relevance")  # the order of the reply


def personalization_messages(question: str, reference: str, prediction: str) -> Messages:
    """Table 10's personalization judge: the answer against the ground truth, one 1-5 score."""
    user = load_published_prompt("judge_personalization_user").fill(
        **{"question": question, "expected output": reference, "generated output": prediction}
    )
    return [
        {"role": "system", "content": load_published_prompt("judge_personalization_system").text},
        {"role": "user", "content": user},
    ]


def quality_messages(question: str, prediction: str) -> Messages:
    """Table 10's language-quality judge: one reply "c / c / f / r" (`QUALITY_DIMENSIONS`), each 1-5."""
    user = load_published_prompt("judge_quality_user").fill(
        **{"question": question, "generated output": prediction}
    )
    return [
        {"role": "system", "content": load_published_prompt("judge_quality_system").text},
        {"role": "user", "content": user},
    ]


def aloe_role_play_prompt(profile: str, personality: str) -> str:
    """ALOE's user-simulator prompt (eval_own.py lines 96-105), filled as ``.format(profile, personality)``."""
    return load_published_prompt("aloe_user_simulator").fill(profile=profile, personalities=personality)


def aloe_judge_prompt(profile: str, personality: str, message: str, response: str) -> str:
    """ALOE's judge prompt (eval_own.py lines 68-80), filled as ``.format(profile, personality, message, response)``."""
    return load_published_prompt("aloe_judge").fill(
        profile=profile, personalities=personality, message=message, response=response
    )
