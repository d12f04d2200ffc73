"""HTML heatmap of PerContrast token scores, in the spirit of the paper's Figure 2.

Each response token is coloured by its PIR on a diverging scale (blue: the persona made the token
less likely; white: no influence; red: the persona made it more likely), with both log-probs and the
PIR on hover, a legend, and the two prompts folded under each example. Self-contained: no scripts,
no external assets.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

from percontrast.scoring.pir import TokenScores

HEATMAP_CSS = _CSS = """
body { font-family: system-ui, sans-serif; margin: 2em; max-width: 60em; color: #222; }
h1 { font-size: 1.3em; } .example { margin: 1.2em 0; padding: .6em .8em; border: 1px solid #ddd; border-radius: 6px; }
.meta { color: #666; font-size: .85em; margin-bottom: .4em; } .persona { color: #444; font-size: .9em; margin-bottom: .4em; }
.tokens { font-family: ui-monospace, monospace; font-size: 1.05em; line-height: 2; white-space: pre-wrap; }
.tok { padding: .15em 0; border-radius: 3px; } .tok:hover { outline: 1px solid #333; }
.legend { display: flex; align-items: center; gap: .5em; font-size: .85em; margin: 1em 0; }
.bar { width: 16em; height: 1em; border: 1px solid #aaa; }
details { font-size: .8em; color: #555; } pre { white-space: pre-wrap; background: #f7f7f7; padding: .4em; }
.top { font-size: .85em; color: #333; margin-top: .3em; }
.gold { text-decoration: underline; text-decoration-thickness: 2px; text-underline-offset: 4px; }
"""


def pir_colour(value: float, scale: float) -> str:
    """Diverging colour for a PIR value: red above 0, blue below, white at 0; saturates at ``scale``."""
    strength = min(abs(value) / scale, 1.0) if scale > 0 else 0.0
    fade = round(255 * (1 - 0.85 * strength))
    return f"rgb(255,{fade},{fade})" if value >= 0 else f"rgb({fade},{fade},255)"


def render_heatmap(
    scores: Sequence[TokenScores],
    title: str = "PerContrast token scores",
    scale: float | None = None,
    top_k: int = 3,
    personal_spans: Mapping[str, Sequence[str]] | None = None,
) -> str:
    """The heatmap as an HTML string.

    Args:
        scores: token scores of the examples to show.
        title: page title.
        scale: the |log-ratio| drawn at full colour (default: the 95th percentile, at least 0.5).
        top_k: how many most personal tokens to list under each example.
        personal_spans: optional annotated personal spans per example id (substrings of the
            response); tokens overlapping them are underlined.
    """
    body = heatmap_body(scores, scale=scale, top_k=top_k, personal_spans=personal_spans)
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>"
        f"<h1>{html.escape(title)}</h1>{body}</body></html>"
    )


def heatmap_body(
    scores: Sequence[TokenScores],
    scale: float | None = None,
    top_k: int = 3,
    personal_spans: Mapping[str, Sequence[str]] | None = None,
) -> str:
    """The legend and the examples, without the page around them (to embed; style with `HEATMAP_CSS`)."""
    if scale is None:
        magnitudes = sorted(
            abs(w - wo) for item in scores for w, wo in zip(item.logp_with, item.logp_without, strict=True)
        )
        scale = magnitudes[int(0.95 * (len(magnitudes) - 1))] if magnitudes else 1.0
        scale = max(scale, 0.5)
    form = scores[0].pir_form if scores else "log"
    label = (
        "PIR = log P(y|persona,x) - log P(y|x)" if form == "log" else "PIR ratio = P(y|persona,x) / P(y|x)"
    )
    parts = [
        "<div class='legend'><span>persona lowers the token</span>"
        f"<span class='bar' style='background: linear-gradient(to right, {pir_colour(-scale, scale)}, #fff, {pir_colour(scale, scale)})'></span>"
        f"<span>persona raises the token</span><span>({html.escape(label)}; full colour at |{scale:.2f}|; hover a token for its log-probs)</span></div>",
    ]
    if personal_spans:
        parts.append(
            "<div class='legend'><span class='gold'>underlined</span><span>: annotated personal span</span></div>"
        )
    for item in scores:
        gold = _span_ranges(item.response, (personal_spans or {}).get(item.id, ()))
        parts.append("<div class='example'>")
        parts.append(f"<div class='meta'>{html.escape(item.id)}</div><div class='tokens'>")
        for token, (start, end), logp_with, logp_without, value in _display_groups(item):
            underline = " gold" if any(start < g_end and g_start < end for g_start, g_end in gold) else ""
            hover = f"PIR {value:+.3f} | log P with persona {logp_with:.3f} | without {logp_without:.3f}"
            log_ratio = value if form == "log" else math.log(max(value, 1e-30))
            colour = pir_colour(log_ratio, scale)
            parts.append(
                f"<span class='tok{underline}' style='background:{colour}' title='{html.escape(hover, quote=True)}'>{html.escape(token)}</span>"
            )
        parts.append("</div>")
        top = ", ".join(
            f"{html.escape(token.strip() or repr(token))} ({value:+.2f})"
            for token, value in item.top_tokens(top_k)
        )
        parts.append(f"<div class='top'>most personal: {top}</div>")
        parts.append(
            "<details><summary>prompts</summary>"
            f"<b>with persona</b><pre>{html.escape(item.prompt_with)}</pre>"
            f"<b>without persona</b><pre>{html.escape(item.prompt_without)}</pre></details>"
        )
        parts.append("</div>")
    return "".join(parts)


def _display_groups(item: TokenScores) -> list[tuple[str, tuple[int, int], float, float, float]]:
    """``(text, (start, end), logp_with, logp_without, pir)`` per displayed span.

    The byte pieces of one character (tokens after the first have empty text, see
    `scoring.token_texts`) are shown as one span: their log-probs add up to the character's, and so
    does the log PIR (the ratio form multiplies).
    """
    groups: list[list] = []
    for token, offset, logp_with, logp_without, value in zip(
        item.tokens, item.offsets, item.logp_with, item.logp_without, item.pir, strict=True
    ):
        if groups and token == "" and offset[0] < groups[-1][1][1]:
            group = groups[-1]
            group[1] = (group[1][0], max(group[1][1], offset[1]))
            group[2] += logp_with
            group[3] += logp_without
            log_ratio = group[2] - group[3]
            group[4] = log_ratio if item.pir_form == "log" else math.exp(log_ratio)
        else:
            groups.append([token, (offset[0], offset[1]), logp_with, logp_without, value])
    return [tuple(group) for group in groups]


def _span_ranges(response: str, spans: Sequence[str]) -> list[tuple[int, int]]:
    """Character ranges of the spans found in the response (spans not found are ignored)."""
    ranges = []
    for span in spans:
        start = response.find(span)
        if start >= 0:
            ranges.append((start, start + len(span)))
    return ranges


def write_heatmap(scores: Sequence[TokenScores], path: str | Path, **kwargs) -> Path:
    """Write `render_heatmap` to ``path`` and return the path."""
    from percontrast.utils.files import atomic_write_text

    return atomic_write_text(path, render_heatmap(scores, **kwargs))
