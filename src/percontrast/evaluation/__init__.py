"""Evaluation: ROUGE and METEOR read offline, LLM-as-a-judge, and the ALOE multi-turn protocol.

- `metrics`: ROUGE-1 / ROUGE-L F1 (``rouge-score``, no stemmer) and METEOR (NLTK, alpha 0.9, beta 3,
  gamma 0.5 on ``word_tokenize`` tokens), per-example scores and their mean, optional bootstrap.
- `wordnet`: builds the offline NLTK data (WordNet from Debian's packages, English Punkt).
- `predictions`: reading and validating ``{"id", "prediction", "reference"}`` files.
- `judge_prompts`: the published judge and user-simulator prompts (paper Appendix D.1, ALOE's eval_own.py).
- `judge_config`: `JudgeConfig`, a judge's settings (a `modeling.config.ChatModelConfig` plus its score mode).
- `judge`: the LLM judge (Table 10's personalization and four-score quality prompts; 1-5 scores) and
  `judge_from_config`, which builds every judge.
- `aloe_config`: `AloeConfig`, the one definition of ALOE's settings (``percontrast aloe`` and the runner).
- `aloe`: the ALOE protocol as ALOE's own evaluation script runs it (user simulator, judge per turn, AL(k)).
- `config`, `files`: `EvaluateConfig` and `evaluate_predictions`, the library call behind ``percontrast
  evaluate``. (The chat backends are `percontrast.modeling.chat`.)
"""
