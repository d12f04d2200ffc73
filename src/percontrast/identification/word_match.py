"""The word-matching baseline of Appendix A: content words shared by the persona and the answer.

The paper tags words with NLTK and keeps content words (nouns, verbs, adjectives, adverbs). NLTK's
tagger model (``averaged_perceptron_tagger_eng``) is only available through ``nltk.download``, which
this project never calls. We use an offline tagger with the same tag set instead: Lingua::EN::Tagger,
a corpus-trained bigram HMM tagger that emits Penn Treebank tags, from Debian's
``liblingua-en-tagger-perl`` package (``make tagger``), run as one ``perl`` process per call.

Where this departs from the paper (documented in docs/identification.md):

- the tagger is a different model (an HMM, not NLTK's averaged perceptron), so individual tags differ;
  it tags capitalised sentence-initial words as proper nouns ("My" -> NNP), and it splits
  contractions ("don't" -> "do" "n't");
- content words are tokens tagged ``NN*``, ``VB*``, ``JJ*`` or ``RB*`` except the closed-class words
  in ``FUNCTION_WORDS`` (auxiliaries be/have/do, negation, pronouns and possessives), which a
  content-word reading excludes and which the tagger sometimes mislabels;
- words are compared lowercased, surface form (no lemmatisation): the paper counts exact lexical matches.

The answer's matched words come back as character ranges; `percontrast.identification.labels` maps them
to tokens.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Sequence

from percontrast.identification.labels import CharRange
from percontrast.utils.errors import ConfigError

APT_COMMAND = "apt-get install -y --no-install-recommends liblingua-en-tagger-perl"
CONTENT_TAG_PREFIXES = ("nn", "vb", "jj", "rb")
FUNCTION_WORDS = frozenset(
    "am is are was were be been being 'm 're 's 've 'd 'll have has had having do does did doing "
    "not n't no never i me my mine myself you your yours we us our ours he him his she her hers it its "
    "they them their theirs this that these those".split()
)
_TAGGED = re.compile(r"<([a-z$]+)>(.*?)</\1>")
_PERL = (
    "use Lingua::EN::Tagger; my $t = Lingua::EN::Tagger->new(stem => 0);"
    "while (my $line = <STDIN>) { chomp $line; my $out = $t->add_tags($line); "
    "$out = '' unless defined $out; print $out, \"\\n\"; }"
)


def tagger_available() -> bool:
    """True when perl and Lingua::EN::Tagger are installed."""
    if shutil.which("perl") is None:
        return False
    probe = subprocess.run(["perl", "-MLingua::EN::Tagger", "-e", "1"], capture_output=True)
    return probe.returncode == 0


def pos_tag(texts: Sequence[str]) -> list[list[tuple[str, str, CharRange | None]]]:
    """Penn Treebank tags (lowercase) of each text: ``(token, tag, (start, end) in the text or None)``.

    A token the tagger rewrote (quotes become ``\\`\\``) has no range. Typographic apostrophes are read
    as ASCII ones (same length, so ranges still index the original text).
    """
    if not tagger_available():
        raise ConfigError(
            f"word matching needs the offline POS tagger Lingua::EN::Tagger (perl); install it with `{APT_COMMAND}` "
            "or `make tagger`"
        )
    cleaned = [text.replace("’", "'").replace("‘", "'").replace("\n", " ") for text in texts]
    result = subprocess.run(
        ["perl", "-CSD", "-e", _PERL],
        input="\n".join(cleaned) + "\n",
        capture_output=True,
        text=True,
        encoding="utf-8",
        check=False,
    )
    if result.returncode != 0:
        raise ConfigError(f"the POS tagger failed (exit {result.returncode}): {result.stderr[-500:]}")
    lines = result.stdout.split("\n")[: len(texts)]
    if len(lines) != len(texts):
        raise ConfigError(f"the POS tagger returned {len(lines)} lines for {len(texts)} texts")
    tagged = []
    for text, line in zip(cleaned, lines, strict=True):
        cursor, tokens = 0, []
        for tag, token in _TAGGED.findall(line):
            start = text.find(token, cursor)
            if start < 0 or text[cursor:start].strip():
                tokens.append((token, tag, None))  # rewritten by the tagger, or not where expected
                continue
            tokens.append((token, tag, (start, start + len(token))))
            cursor = start + len(token)
        tagged.append(tokens)
    return tagged


def is_content(token: str, tag: str) -> bool:
    """A content word: tagged noun, verb, adjective or adverb, and not a closed-class word."""
    return (
        tag.startswith(CONTENT_TAG_PREFIXES)
        and token.lower() not in FUNCTION_WORDS
        and any(ch.isalnum() for ch in token)
    )


def _word(token: str, span: CharRange | None) -> tuple[str, CharRange | None]:
    """The token without trailing sentence punctuation (the tagger leaves "pepsi." whole mid-text)."""
    stripped = token.rstrip(".,;:!?")
    if span is not None:
        span = (span[0], span[0] + len(stripped))
    return stripped, span


def shared_content_words(personas: Sequence[Sequence[str]], answers: Sequence[str]) -> list[list[CharRange]]:
    """For each (persona sentences, answer): ranges of the answer's content words that are also content
    words of the persona. Each persona sentence is tagged on its own (the tagger splits sentences poorly)."""
    if len(personas) != len(answers):
        raise ValueError(f"{len(personas)} personas for {len(answers)} answers")
    if any(isinstance(persona, str) for persona in personas):
        raise TypeError("each persona must be a list of sentences, not one string")
    sentences = [sentence for persona in personas for sentence in persona]
    tagged = pos_tag(sentences + list(answers))
    answer_tags = tagged[len(sentences) :]
    matched, cursor = [], 0
    for persona, answer_tokens in zip(personas, answer_tags, strict=True):
        vocabulary = set()
        for tokens in tagged[cursor : cursor + len(persona)]:
            for token, tag, _ in tokens:
                word, _ = _word(token, None)
                if is_content(word, tag):
                    vocabulary.add(word.lower())
        cursor += len(persona)
        ranges = []
        for token, tag, span in answer_tokens:
            word, span = _word(token, span)
            if span is not None and is_content(word, tag) and word.lower() in vocabulary:
                ranges.append(span)
        matched.append(ranges)
    return matched
