"""Figure 1, quantified: where the PIR mass of a scores file sits, by kind of token (issue 21, section 2).

The paper's Figure 1 shows a few personal words lighting up in one answer. Here every token of a scores file
(`percontrast score`) gets one kind, and per kind we report the token count, the mean PIR and the share of
the file's *positive* PIR mass (sum of max(PIR, 0) over the kind / over all tokens):

- ``persona_content``: first (or only) piece of a content word that also occurs in the persona;
- ``other_content``: first piece of any other content word;
- ``function``: first piece of a function word (`FUNCTION_WORDS`: determiners, pronouns, auxiliaries,
  prepositions, conjunctions, common adverbs; a fixed list, no tagger);
- ``continuation``: a later piece of a word the tokenizer split ("atur", "days" of " Saturdays");
- ``punctuation``: a token with characters but no letter or digit;
- ``other``: tokens without characters of their own (EOS, whitespace, a later byte piece of a character).

Words and token cores follow `percontrast.identification.labels`. The persona's words are the multiset
difference of the two prompts' words (``prompt_with`` minus ``prompt_without``): exactly what the persona
adds, read from the scores file alone (a template's persona frame, e.g. "profile", counts too).

CLI: ``percontrast kinds --scores SPC=spc_scores.jsonl --scores PQA=pqa_scores.jsonl --out kinds.json --plot kinds.png``
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

from percontrast.identification.labels import token_core, words

KINDS = ("persona_content", "other_content", "function", "continuation", "punctuation", "other")
FUNCTION_WORDS = frozenset(
    """a an the this that these those some any no every each all both either neither another such what which
    whose who whom i me my mine myself you your yours yourself we us our ours ourselves he him his himself she
    her hers herself it its itself they them their theirs themselves one ones am is are was were be been being
    'm 're 's 've 'd 'll have has had having do does did doing will would shall should can could may might must
    not n't nor and or but if then so because as than though although while when where why how whether of in
    on at by for with without about against between into through during before after above below to from up
    down out off over under again further once here there very too also just only even still yet ever never
    always often quite really more most much many few less least own same other there's it's i'm i've i'd
    i'll you're you've don't doesn't didn't can't won't isn't aren't wasn't weren't let's oh yeah yes ok okay
    """.split()
)


def persona_words(prompt_with: str, prompt_without: str) -> set[str]:
    """Lowercased words the persona adds: the multiset difference of the two prompts' words."""
    with_words = Counter(prompt_with[s:e].lower() for s, e in words(prompt_with))
    without_words = Counter(prompt_without[s:e].lower() for s, e in words(prompt_without))
    return set(with_words - without_words)


def token_kinds(response: str, offsets: Sequence[Sequence[int]], persona: set[str]) -> list[str]:
    """The kind of every response token (see the module docstring)."""
    spans = words(response)
    kinds = []
    for offset in offsets:
        start, end = token_core(response, offset)
        if start >= end:
            kinds.append("other")
            continue
        word = next(((ws, we) for ws, we in spans if start < we and ws < end), None)
        if word is None:
            kinds.append("punctuation")
        elif start > word[0]:
            kinds.append("continuation")
        else:
            text = response[word[0] : word[1]].lower().replace("’", "'")
            if text in FUNCTION_WORDS:
                kinds.append("function")
            else:
                kinds.append("persona_content" if text in persona else "other_content")
    return kinds


def kind_table(records: Sequence[Mapping]) -> dict[str, dict[str, float]]:
    """Per kind: ``n_tokens``, ``token_share``, ``mean_pir`` and ``positive_mass_share`` of the scores
    ``records`` (dicts as `percontrast score` writes them: response, offsets, pir, prompt_with/without)."""
    count: Counter = Counter()
    pir_sum: Counter = Counter()
    positive: Counter = Counter()
    for record in records:
        persona = persona_words(record["prompt_with"], record["prompt_without"])
        for kind, value in zip(
            token_kinds(record["response"], record["offsets"], persona), record["pir"], strict=True
        ):
            count[kind] += 1
            pir_sum[kind] += value
            positive[kind] += max(value, 0.0)
    total, mass = sum(count.values()), sum(positive.values())
    return {
        kind: {
            "n_tokens": count[kind],
            "token_share": count[kind] / total if total else 0.0,
            "mean_pir": pir_sum[kind] / count[kind] if count[kind] else None,
            "positive_mass_share": positive[kind] / mass if mass else None,
        }
        for kind in KINDS
    }


def markdown_table(tables: Mapping[str, Mapping[str, Mapping]]) -> str:
    """One row per (task, kind): tokens (share), mean PIR, share of positive PIR mass."""
    lines = [
        "| task | kind | tokens (share) | mean PIR | share of positive PIR mass |",
        "|---|---|---:|---:|---:|",
    ]
    for task, table in tables.items():
        for kind in KINDS:
            row = table[kind]
            mean = "n/a" if row["mean_pir"] is None else f"{row['mean_pir']:+.3f}"
            mass = "n/a" if row["positive_mass_share"] is None else f"{100 * row['positive_mass_share']:.1f}%"
            lines.append(
                f"| {task} | {kind} | {row['n_tokens']} ({100 * row['token_share']:.1f}%) | {mean} | {mass} |"
            )
    return "\n".join(lines)


def kinds_png(tables: Mapping[str, Mapping[str, Mapping]]) -> bytes:
    """Two panels: share of tokens against share of positive PIR mass per kind, and mean PIR per kind, per task."""
    from percontrast.utils.plots import _to_png, pyplot

    plt = pyplot()
    tasks = list(tables)
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8))
    width = 0.8 / max(len(tasks), 1)
    for t, task in enumerate(tasks):
        x = [k + t * width for k in range(len(KINDS))]
        table = tables[task]
        mass = [100 * (table[kind]["positive_mass_share"] or 0.0) for kind in KINDS]
        share = [100 * table[kind]["token_share"] for kind in KINDS]
        bars = left.bar(x, mass, width, label=f"{task}: PIR mass")
        left.scatter(
            x, share, marker="_", s=200, color="black", zorder=3, label="token share" if t == 0 else None
        )
        right.bar(
            x,
            [table[kind]["mean_pir"] or 0.0 for kind in KINDS],
            width,
            color=bars[0].get_facecolor(),
            label=task,
        )
    for ax, title in ((left, "share of positive PIR mass (bars) vs of tokens (—), %"), (right, "mean PIR")):
        ax.set_xticks(
            [k + 0.4 - width / 2 for k in range(len(KINDS))], KINDS, rotation=25, ha="right", fontsize=8
        )
        ax.set_title(title, fontsize=9)
        ax.legend(fontsize=7)
    right.axhline(0, color="grey", linewidth=0.5)
    fig.tight_layout()
    return _to_png(fig)
