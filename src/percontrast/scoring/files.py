"""``percontrast score``'s run: an examples file -> token scores JSONL and, optionally, an HTML heatmap.

score_file(ScoreConfig(), "smollm2-135m-instruct", "ex.jsonl", "scores.jsonl", html="heatmap.html")
"""

from __future__ import annotations

import logging

from percontrast.data.sources import read_examples
from percontrast.modeling.load import load_model
from percontrast.scoring.config import ScoreConfig
from percontrast.scoring.heatmap import write_heatmap
from percontrast.scoring.pir import TokenScores, score_examples
from percontrast.utils.files import check_outputs, write_jsonl

logger = logging.getLogger(__name__)


def score_file(
    config: ScoreConfig,
    model_spec: str,
    data: str,
    out: str,
    *,
    html: str | None = None,
    dtype: str | None = None,
    device: str | None = None,
) -> list[TokenScores]:
    """Score every response token of ``data``'s examples (PIR) into ``out``; ``html``: also a heatmap.

    Both paths are checked before the model is loaded.
    """
    check_outputs(inputs={"--data": data}, outputs={"--out": out, "--html": html})
    examples = read_examples(data)
    model, tokenizer = load_model(model_spec, dtype=dtype, device=device)
    scores = score_examples(model, tokenizer, examples, config)
    write_jsonl(out, scores)
    logger.info("wrote token scores of %d examples to %s", len(scores), out)
    if html:
        write_heatmap(scores, html, title=f"PerContrast token scores: {data} ({model_spec})")
        logger.info("wrote heatmap to %s", html)
    return scores
