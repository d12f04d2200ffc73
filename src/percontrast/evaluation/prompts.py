"""Judge and user-simulator prompts.

The paper (Appendix D) judges personalization against the user's reference answer and language
quality on four G-Eval criteria (coherence, consistency, fluency, relevance), each on a 1-5 scale.
The appendix's exact wording was not available to us offline; these prompts follow its described
structure and the G-Eval / SummEval criterion definitions, and every prompt ends by asking for a
single digit so that both the probability-weighted score (local backend) and sampled replies (HTTP
backend) read the same answer format. Replace them by passing your own ``{name: template}``.
"""

from __future__ import annotations

SCORE_INSTRUCTION = "Answer with a single digit from 1 to 5 and nothing else."

PERSONALIZATION = (
    "You evaluate personalized text generation. A user asked for a text; the user's own reference answer "
    "shows what this user wanted: their content, preferences and writing style.\n\n"
    "Task input:\n{query}\n\nUser's reference answer:\n{reference}\n\nGenerated answer:\n{prediction}\n\n"
    "How well does the generated answer match this user's personal content, preferences and style, as shown "
    "by the reference (1 = not at all, 5 = as if the user wrote it)? " + SCORE_INSTRUCTION
)

QUALITY_CRITERIA = {
    "coherence": "Coherence: the collective quality of all sentences; the answer is well structured and well "
    "organized, building from sentence to sentence into a coherent body of information.",
    "consistency": "Consistency: the answer is factually consistent with the task input and contains no "
    "contradictions or hallucinated facts.",
    "fluency": "Fluency: the quality of the individual sentences; they are grammatical, well written and easy to read.",
    "relevance": "Relevance: the answer addresses the task input and contains only important, pertinent information.",
}

QUALITY = (
    "You evaluate the language quality of a generated answer on one criterion.\n\n{criterion}\n\n"
    "Task input:\n{query}\n\nGenerated answer:\n{prediction}\n\n"
    "Rate the answer on this criterion from 1 (very poor) to 5 (excellent). " + SCORE_INSTRUCTION
)

ALOE_JUDGE = (
    "You evaluate how well an AI assistant adapts to a user in a conversation. The user has this profile and "
    "personality, which the assistant was never told and can only infer from the conversation.\n\n"
    "User profile:\n{profile}\n\nUser personality:\n{personality}\n\nConversation so far:\n{history}\n\n"
    "Assistant's latest reply:\n{reply}\n\n"
    "How well does the latest reply fit this user's profile and personality (1 = generic or mismatched, "
    "5 = clearly tailored to this user)? " + SCORE_INSTRUCTION
)

ALOE_USER_SIMULATOR = (
    "You play a human user chatting with an AI assistant. Stay in character.\n\n"
    "Your profile:\n{profile}\n\nYour personality:\n{personality}\n\n"
    "Reveal your profile and personality gradually, over about {n_turns} messages: never all at once, a little "
    "more in each message, the way a real person would. Write only your next message to the assistant, "
    "short and natural, without any prefix."
)
ALOE_OPENING = "Start the conversation with your first message."
