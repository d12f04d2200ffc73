"""The results table: appends from concurrent processes never interleave; torn last lines are ignored."""

from __future__ import annotations

import json
import multiprocessing

import pytest

from percontrast.experiments.store import ResultsStore, read_results
from percontrast.utils.errors import DataError


def _writer(path: str, worker: int) -> None:
    store = ResultsStore(path)
    for index in range(20):
        # Large records make an unlocked interleaving likely.
        store.append(
            [{"kind": "cell", "cell": f"w{worker}", "status": "ok", "index": index, "pad": "x" * 5000}] * 3
        )


def test_concurrent_appends_stay_whole(tmp_path):
    path = tmp_path / "results.jsonl"
    processes = [multiprocessing.Process(target=_writer, args=(str(path), w)) for w in range(4)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
        assert process.exitcode == 0
    records = read_results(path)
    assert len(records) == 4 * 20 * 3
    for worker in range(4):
        indices = [r["index"] for r in records if r["cell"] == f"w{worker}"]
        assert indices == sorted(indices) and len(indices) == 60
    # every group of three lines from one append is contiguous
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    for start in range(0, len(lines), 3):
        assert len({(r["cell"], r["index"]) for r in lines[start : start + 3]}) == 1


def test_torn_last_line_is_ignored_but_bad_middle_line_is_an_error(tmp_path):
    path = tmp_path / "results.jsonl"
    good = json.dumps({"kind": "cell", "cell": "a", "status": "ok"})
    path.write_text(good + "\n" + '{"kind": "met')
    assert ResultsStore(path).finished_cells() == {"a"}
    path.write_text('{"kind": "met\n' + good + "\n")
    with pytest.raises(DataError, match="results.jsonl:1"):
        read_results(path)
    # Cut inside a UTF-8 character (records are written with ensure_ascii=False): torn, not "not UTF-8".
    path.write_bytes((good + "\n").encode() + '{"kind": "metric", "task": "é'.encode()[:-1])
    assert ResultsStore(path).finished_cells() == {"a"}
    path.write_bytes(b'{"kind": "\xc3\n' + (good + "\n").encode())
    with pytest.raises(DataError, match="results.jsonl:1: not UTF-8"):
        read_results(path)


def test_latest_status_wins(tmp_path):
    store = ResultsStore(tmp_path / "r.jsonl")
    store.append(
        [{"kind": "cell", "cell": "a", "status": "failed"}, {"kind": "cell", "cell": "b", "status": "ok"}]
    )
    assert store.finished_cells() == {"b"}
    store.append([{"kind": "cell", "cell": "a", "status": "ok"}])
    assert store.finished_cells() == {"a", "b"}


def test_an_append_after_a_torn_last_line_cuts_the_fragment_off(tmp_path):
    """A results.jsonl whose writer was killed mid-line: the next run glued its record onto the fragment,
    and from then on `report` and `experiment` refused the file (bad JSON on a middle line)."""
    path = tmp_path / "results.jsonl"
    good = json.dumps({"kind": "cell", "cell": "a", "status": "ok"})
    path.write_text(good + "\n" + '{"kind": "met')
    store = ResultsStore(path)
    store.append([{"kind": "cell", "cell": "b", "status": "ok"}])
    store.append([{"kind": "cell", "cell": "c", "status": "ok"}])
    assert store.finished_cells() == {"a", "b", "c"}
    assert len(path.read_text().splitlines()) == 3
    # A complete last record without its newline is kept, and the next one starts on a new line.
    path.write_text(good)
    store.append([{"kind": "cell", "cell": "b", "status": "ok"}])
    assert store.finished_cells() == {"a", "b"}
