"""The offline NLTK data: WordNet from Debian's files and English Punkt, checked against NLTK's own doctests.

The doctests shipped inside NLTK record outputs that NLTK's maintainers computed with the downloaded
``punkt_tab`` and ``wordnet`` data; passing them with our offline data is the independent reference.
"""

from __future__ import annotations

import doctest
import os
from pathlib import Path

import pytest

from percontrast.evaluation import wordnet

pytestmark = pytest.mark.needs("wordnet")


class _Recorder(doctest.DocTestRunner):
    def __init__(self) -> None:
        super().__init__(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False)
        self.failed_sources: list[str] = []
        self.passed_sources: list[str] = []

    def report_failure(self, out, test, example, got):  # noqa: D102
        self.failed_sources.append(example.source)

    def report_unexpected_exception(self, out, test, example, exc_info):  # noqa: D102
        self.failed_sources.append(example.source)

    def report_success(self, out, test, example, got):  # noqa: D102
        self.passed_sources.append(example.source)


def _run_nltk_doctest(name: str) -> _Recorder:
    import nltk

    path = Path(nltk.__file__).parent / "test" / name
    test = doctest.DocTestParser().get_doctest(path.read_text(encoding="utf-8"), {}, name, str(path), 0)
    runner = _Recorder()
    runner.run(test, out=lambda _: None)
    return runner


def test_lexnames_is_the_documented_table() -> None:
    lines = wordnet.lexnames_text().splitlines()
    assert len(lines) == 45
    assert lines[0] == "00\tadj.all\t3" and lines[3] == "03\tnoun.Tops\t1" and lines[44] == "44\tadj.ppl\t3"
    for number, line in enumerate(lines):
        index, name, category = line.split("\t")
        assert int(index) == number
        assert {"adj": "3", "adv": "4", "noun": "1", "verb": "2"}[name.split(".")[0]] == category


def test_lexnames_agree_with_debian_data_files() -> None:
    """Every synset's lex_filenum in data.<pos> names a lexicographer file of that part of speech."""
    names = [name for name, _ in wordnet.LEXNAMES]
    for pos, prefix in (("noun", "noun."), ("verb", "verb."), ("adv", "adv.")):
        seen = set()
        with open(wordnet.DEBIAN_WORDNET / f"data.{pos}", encoding="utf-8") as handle:
            for line in handle:
                if not line.startswith("  "):
                    seen.add(int(line.split()[1]))
        assert all(names[number].startswith(prefix) for number in seen), pos
        assert len(seen) == sum(name.startswith(prefix) for name in names), pos


def test_missing_debian_files_error_names_the_apt_command(tmp_path: Path) -> None:
    with pytest.raises(
        wordnet.MissingDataError,
        match="apt-get install -y --no-install-recommends wordnet-base wordnet-sense-index",
    ):
        wordnet.build_wordnet(source=tmp_path / "nowhere", data_dir=tmp_path / "nltk")


def test_build_copies_debian_files_and_writes_lexnames(tmp_path: Path) -> None:
    root = wordnet.build_wordnet(data_dir=tmp_path)
    assert (root / "lexnames").read_text(encoding="utf-8") == wordnet.lexnames_text()
    for name in wordnet.WORDNET_FILES:
        assert (root / name).stat().st_size == (wordnet.DEBIAN_WORDNET / name).stat().st_size, name


def test_nltk_reads_the_built_wordnet() -> None:
    """NLTK's own reader (shared with the METEOR tests, so WordNet is loaded once)."""
    wordnet.ensure_wordnet()
    from nltk.corpus import wordnet as wn

    assert wn.get_version() == "3.0"
    assert wn.synset("dog.n.01").lexname() == "noun.animal"
    assert "car" in {lemma.name() for lemma in wn.synset("automobile.n.01").lemmas()}


def test_word_tokenize_matches_nltk_tokenize_doctest() -> None:
    """NLTK's tokenize.doctest, run on our punkt_tab: every English word/sentence example passes."""
    wordnet.ensure_punkt()
    runner = _run_nltk_doctest("tokenize.doctest")
    # The only failures allowed are examples needing other NLTK data (German punkt, stopwords, Brown).
    unrelated = ("german", "TextTiling", "tt.tokenize", "brown")
    assert [s for s in runner.failed_sources if not any(word in s for word in unrelated)] == []
    checked = [s for s in runner.passed_sources if "word_tokenize(" in s or "sent_tokenize(" in s]
    assert len(checked) >= 20, checked


def test_sentence_splitting_changes_word_tokenize() -> None:
    """Why the Punkt model matters: without sentence splitting, a sentence-final period sticks to its word."""
    from nltk.tokenize import word_tokenize

    wordnet.ensure_punkt()
    text = "I loved this blender. Dr. Smith recommended it to me."
    assert word_tokenize(text) == [
        "I",
        "loved",
        "this",
        "blender",
        ".",
        "Dr.",
        "Smith",
        "recommended",
        "it",
        "to",
        "me",
        ".",
    ]
    assert word_tokenize(text, preserve_line=True)[3] == "blender."


def test_meteor_matches_nltk_meteor_doctest_and_docstring() -> None:
    """NLTK's meteor.doctest and the meteor_score docstring (values computed with real WordNet)."""
    import nltk.translate.meteor_score as module

    wordnet.ensure_nltk_data()
    runner = _run_nltk_doctest("meteor.doctest")
    assert runner.failed_sources == [] and len(runner.passed_sources) >= 5
    finder = doctest.DocTestFinder()
    results = [
        doctest.DocTestRunner(verbose=False).run(test, out=lambda _: None) for test in finder.find(module)
    ]
    assert sum(r.failed for r in results) == 0 and sum(r.attempted for r in results) >= 4


def test_ensure_puts_our_dir_first_on_nltk_path() -> None:
    import nltk

    data_dir = wordnet.ensure_nltk_data()
    assert nltk.data.path[0] == str(data_dir)
    assert (data_dir / "tokenizers" / "punkt_tab" / "english" / "ortho_context.tab").stat().st_size > 100_000
    assert os.path.isfile(data_dir / "corpora" / "wordnet" / "lexnames")
