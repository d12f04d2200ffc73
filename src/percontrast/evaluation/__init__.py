"""Evaluation: ROUGE and METEOR read offline, LLM-as-a-judge, and the ALOE multi-turn protocol.

- `metrics`: ROUGE-1 / ROUGE-L F1 (``rouge-score``, no stemmer) and METEOR (NLTK, alpha 0.9, beta 3,
  gamma 0.5 on ``word_tokenize`` tokens), per-example scores and their mean, optional bootstrap.
- `wordnet`: builds the offline NLTK data (WordNet from Debian's packages, English Punkt).
- `predictions`: reading and validating ``{"id", "prediction", "reference"}`` files.
- `judge`: the chat backends (local transformers model, OpenAI-compatible HTTP) and the judge.
- `aloe`: the ALOE cross-scenario protocol (user simulator, judge per turn, AL(k)).
- `report`: `evaluate_predictions`, the library call behind ``percontrast evaluate``.
"""
