"""``percontrast identify``'s run: an annotated persona QA file -> results JSON, a markdown table, Figure 5.

`identify_files` reads the set (the bundled dev set by default), builds the judge the config names (an
HTTP server or a local model, else the model under test itself), runs `run_identification`, and writes the results, the tables
beside them and, optionally, Figure 5.

    identify_files(IdentifyConfig(), "smollm2-135m-instruct", None, "results.json", plot="fig5.png")
"""

from __future__ import annotations

import logging

from percontrast.identification.config import IdentifyConfig
from percontrast.utils.errors import ConfigError

logger = logging.getLogger(__name__)


def identify_files(
    config: IdentifyConfig,
    model_spec: str,
    data: str | None,
    out: str,
    *,
    plot: str | None = None,
    dtype: str | None = None,
    device: str | None = None,
):
    """Run the identification methods on ``data`` and write ``out`` (JSON), its .md table and ``plot``.

    Returns:
        The `IdentificationResult` (`tables` renders what the .md file holds).
    """
    from percontrast.data.persona_qa import read_persona_qa
    from percontrast.identification.identify import run_identification
    from percontrast.identification.plot import plot_pir_breakdown
    from percontrast.modeling.chat import chat_backend
    from percontrast.modeling.load import load_model
    from percontrast.utils.files import atomic_write_json, atomic_write_text, sibling

    # The judge config names (a server, a local model), built before the model under test is loaded so
    # that a bad url is refused first; None: the model under test judges.
    judge = chat_backend(config.judge, "judge") if "llm_judge" in config.method_list else None
    examples = read_persona_qa(data)
    if config.donors >= len(examples):
        raise ConfigError(
            f"--donors {config.donors}: only {len(examples) - 1} other personas in {data or 'the bundled set'}"
        )
    model, tokenizer = load_model(model_spec, dtype=dtype, device=device)
    result = run_identification(model, tokenizer, examples, config, judge=judge)
    payload = result.to_dict() | {"model": model_spec, "data": str(data or "bundled dev set")}
    atomic_write_json(out, payload)
    atomic_write_text(sibling(out, ".md"), tables(result))
    logger.info("wrote %s and %s", out, sibling(out, ".md"))
    if plot:
        plot_pir_breakdown(result, plot)
        logger.info("wrote Figure 5 to %s", plot)
    return result


def tables(result) -> str:
    """The markdown of an `IdentificationResult`: the methods' P/R/F1 table, then Figure 5's breakdown."""
    return result.markdown_table() + "\n\n" + result.breakdown_table() + "\n"
