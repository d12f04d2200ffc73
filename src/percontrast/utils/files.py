"""Safe output files: nothing a command writes may destroy an input, mix two runs or be left half written.

Every command that writes files goes through this module:

- `check_outputs` runs before any work. It resolves every path and refuses an output that is one of
  the inputs or another output of the same command (derived files such as ``<out>.md`` included),
  an output or input that is a directory, and an input that is missing.
- `atomic_write_text` / `atomic_write_json` / `atomic_write_jsonl` write to a temporary file beside
  the target and ``os.replace`` it into place: an error midway leaves any existing file untouched.
  A string that cannot be written as UTF-8 (a lone surrogate) is an error naming the record.
- `JsonlAppender` is for resumable outputs (``generate``, ``aloe``): it drops and reports a torn
  final record (a killed write), always starts appended records on a new line, and flushes each
  record as it is written.
  `read_finished` reads back what a resumed run need not redo.
- `check_run_settings` keeps a sidecar ``<out>.settings.json`` beside a resumable output with the
  settings that produced it, and refuses to resume under different ones.
- `prepare_run_dir` refuses a training directory that holds an earlier run unless the user resumes
  or asks to overwrite, resolves ``--resume_from_checkpoint latest`` (`last_checkpoint`: the newest
  *complete* checkpoint) and refuses a resume under other settings.

    from percontrast.utils.files import check_outputs, atomic_write_jsonl
    check_outputs(inputs={"--data": data}, outputs={"--out": out, "--html": html})
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from percontrast.utils.errors import ConfigError, DataError

logger = logging.getLogger(__name__)

PathLike = str | os.PathLike


def _resolved(path: PathLike) -> Path:
    return Path(path).expanduser().resolve()


def check_outputs(
    *,
    inputs: Mapping[str, PathLike | None] | None = None,
    outputs: Mapping[str, PathLike | None] | None = None,
    resumable: Iterable[str] = (),
) -> None:
    """Refuse output paths that would destroy an input or another output; run before any work.

    Args:
        inputs: flag name -> input file (None entries are ignored). Each must exist and be a file.
        outputs: flag name -> output file (None entries are ignored), derived files included. None
            may be a directory, lie under a file, be an input, or be another output.
        resumable: the flags of ``outputs`` that name a resumable output (appended to, with a
            settings record beside it). Any other output may not be an existing resumable output
            of some command (``generate``'s predictions, ``aloe``'s conversations): it would replace it.

    Raises:
        ConfigError: naming the flags and the path.
    """
    seen: dict[Path, tuple[str, str]] = {}  # resolved path -> (flag, "input" | "output")
    for flag, path in (inputs or {}).items():
        if path is None:
            continue
        resolved = _resolved(path)
        if resolved.is_dir():
            raise ConfigError(f"{flag} {path} is a directory; give the file inside it")
        if not resolved.exists():
            raise ConfigError(f"{flag} {path}: file not found")
        seen.setdefault(resolved, (flag, "input"))
    for flag, path in (outputs or {}).items():
        if path is None:
            continue
        resolved = _resolved(path)
        if resolved.is_dir():
            raise ConfigError(f"{flag} {path} is a directory; give a file path")
        if resolved in seen:
            other, kind = seen[resolved]
            raise ConfigError(
                f"{flag} {path} is also the {kind} {other}: it would be overwritten; "
                f"choose another path for {flag}"
            )
        for parent in resolved.parents:
            if parent.exists() and not parent.is_dir():
                raise ConfigError(f"{flag} {path}: {parent} is a file, not a directory")
        if flag not in resumable and resolved.is_file() and settings_path(resolved).is_file():
            raise ConfigError(
                f"{flag} {path} is the resumable output of an earlier run ({settings_path(resolved).name} is "
                "beside it): it would be overwritten; choose another path"
            )
        seen[resolved] = (flag, "output")


def sibling(path: PathLike, suffix: str) -> Path:
    """The file beside ``path`` with its suffix replaced (``m.json`` -> ``m.md``)."""
    return Path(path).with_suffix(suffix)


# ------------------------------------------------------------------------------------ atomic writes


def _atomic_write(path: PathLike, write: Any, mode: str = "w") -> Path:
    """Call ``write(handle)`` on a temporary file beside ``path``, then rename it into place."""
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"{path} is a directory; cannot write a file there")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode, encoding="utf-8", newline="") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        if path.exists():
            os.chmod(tmp_name, path.stat().st_mode & 0o777)
        else:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp_name, 0o666 & ~umask)
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return path


def _encodable(text: str, where: str) -> str:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise DataError(
            f"{where}: character {text[exc.start]!r} at position {exc.start} cannot be written as UTF-8 "
            "(a lone surrogate: half of a UTF-16 pair); fix the input text"
        ) from None
    return text


def atomic_write_text(path: PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; an unencodable string is a `DataError`."""
    _encodable(text, str(path))
    return _atomic_write(path, lambda handle: handle.write(text))


def atomic_write_json(path: PathLike, value: Any) -> Path:
    """Write ``value`` as indented JSON to ``path`` atomically."""
    return atomic_write_text(path, json.dumps(value, indent=2, ensure_ascii=False) + "\n")


def jsonl_line(record: Any, where: str) -> str:
    """One JSONL line for ``record`` (a dict or an object with ``to_dict``), checked for UTF-8."""
    if hasattr(record, "to_dict"):
        record = record.to_dict()
    return _encodable(json.dumps(record, ensure_ascii=False) + "\n", where)


def _record_name(record: Any, number: int) -> str:
    record_id = record.get("id") if isinstance(record, dict) else getattr(record, "id", None)
    return f"record {number}" + (f" (id {record_id!r})" if record_id is not None else "")


def atomic_write_jsonl(path: PathLike, records: Iterable[Any]) -> int:
    """Write records as JSON Lines atomically; returns the count. Bad records name their number and id."""
    count = 0

    def write(handle) -> None:
        nonlocal count
        for number, record in enumerate(records, start=1):
            handle.write(jsonl_line(record, f"{path}: {_record_name(record, number)}"))
            count += 1

    _atomic_write(path, write)
    return count


# ---------------------------------------------------------------------------------- resumable JSONL


def repair_jsonl_tail(path: PathLike) -> int:
    """Make an existing JSONL file safe to append to; returns the number of records dropped (0 or 1).

    A last line without a newline is either a complete record (a newline is added) or a torn one,
    left by a killed write (it is cut off and reported: it will be produced again).
    """
    path = Path(path)
    if not path.exists() or path.stat().st_size == 0:
        return 0
    with path.open("rb+") as handle:
        handle.seek(0, os.SEEK_END)
        size = handle.tell()
        handle.seek(max(0, size - 1))
        if handle.read(1) == b"\n":
            return 0
        # Find the start of the last line.
        start, block = size, 1 << 16
        while start > 0:
            read_from = max(0, start - block)
            handle.seek(read_from)
            chunk = handle.read(start - read_from)
            cut = chunk.rfind(b"\n")
            if cut >= 0:
                start = read_from + cut + 1
                break
            start = read_from
        handle.seek(start)
        tail = handle.read()
        try:
            json.loads(tail.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            handle.truncate(start)
            logger.warning(
                "%s: dropped a torn last record (%d bytes without a newline, from an interrupted write); "
                "it will be produced again",
                path,
                len(tail),
            )
            return 1
        handle.seek(size)
        handle.write(b"\n")
        return 0


class JsonlAppender:
    """Append records to a JSONL file one at a time, each flushed: what is written survives a kill.

    Opening repairs the file's tail (`repair_jsonl_tail`); ``dropped`` tells whether a torn record
    was cut off. Use as a context manager.
    """

    def __init__(self, path: PathLike) -> None:
        self.path = Path(path)
        if self.path.is_dir():
            raise ConfigError(f"{self.path} is a directory; cannot write a file there")
        self.dropped = repair_jsonl_tail(self.path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._handle = self.path.open("a", encoding="utf-8")
        self.count = 0

    def write(self, record: Any) -> None:
        """Append one record (checked for UTF-8 before anything is written) and flush it."""
        self.count += 1
        line = jsonl_line(record, f"{self.path}: {_record_name(record, self.count)}")
        self._handle.write(line)
        self._handle.flush()

    def close(self) -> None:
        self._handle.close()

    def __enter__(self) -> JsonlAppender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_finished(path: PathLike, key: str = "id") -> dict[str, dict]:
    """The records already in a resumable JSONL output, by ``key`` (a torn last record is dropped first)."""
    from percontrast.utils.jsonl import iter_jsonl

    path = Path(path)
    if not path.exists():
        return {}
    repair_jsonl_tail(path)
    finished: dict[str, dict] = {}
    for line, record in iter_jsonl(path):
        if not isinstance(record, dict) or not isinstance(record.get(key), str):
            raise DataError(
                f"expected a JSON object with a string {key!r}", path=str(path), line=line, field=key
            )
        if record[key] in finished:
            raise DataError(f"duplicate {key} {record[key]!r}", path=str(path), line=line, field=key)
        finished[record[key]] = record
    return finished


# ------------------------------------------------------------------------------------- run settings


def file_fingerprint(paths: Iterable[PathLike], *, full: bool = False, edge: int = 1 << 20) -> str:
    """A short sha256 of files' names, sizes and contents, recorded with a resumable output's settings.

    ``full``: every byte (input data). Otherwise the first and last ``edge`` bytes of each file and its
    size (model weights of gigabytes: a retrained model differs there, and a copy of it does not).
    """
    import hashlib

    digest = hashlib.sha256()
    for path in paths:
        path = Path(path)
        size = path.stat().st_size
        digest.update(f"{path.name}\0{size}\0".encode())
        with path.open("rb") as handle:
            if full or size <= 2 * edge:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
            else:
                digest.update(handle.read(edge))
                handle.seek(size - edge)
                digest.update(handle.read(edge))
    return digest.hexdigest()[:16]


def settings_path(out: PathLike) -> Path:
    """The sidecar that records the settings of a resumable output: ``<out>.settings.json``."""
    out = Path(out)
    return out.with_name(out.name + ".settings.json")


def settings_differences(recorded: Mapping[str, Any], settings: Mapping[str, Any]) -> str:
    """``"key: <recorded> there, <now> now; ..."`` for each setting that differs (a key on one side only
    counts); empty when they agree. The detail of every "would mix two runs" refusal."""
    differing = sorted(key for key in set(recorded) | set(settings) if recorded.get(key) != settings.get(key))
    return "; ".join(f"{key}: {recorded.get(key)!r} there, {settings.get(key)!r} now" for key in differing)


def check_run_settings(out: PathLike, settings: Mapping[str, Any], *, kind: str) -> None:
    """Record the settings that produce ``out``, or check that a resume uses the same ones.

    A new (missing or empty) ``out`` gets a fresh sidecar. An existing one must have a sidecar of
    the same ``kind`` with equal settings; otherwise the resume would mix runs, and it is refused.

    Raises:
        ConfigError: naming each differing setting with its recorded and requested values.
    """
    out, sidecar = Path(out), settings_path(out)
    settings = json.loads(json.dumps(dict(settings)))  # normalise tuples, keys, etc.
    if not out.exists() or out.stat().st_size == 0:
        atomic_write_json(sidecar, {"kind": kind, "settings": settings})
        return
    if not sidecar.exists():
        raise ConfigError(
            f"{out} exists but has no {sidecar.name} beside it, so it was not written by `percontrast {kind}` "
            "(or by an older version): resuming onto it could mix runs. Choose another --out, or delete it"
        )
    try:
        recorded = json.loads(sidecar.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{sidecar}: not valid JSON ({exc}); delete it and {out} to start over") from None
    if not isinstance(recorded, dict) or recorded.get("kind") != kind:
        raise ConfigError(f"{sidecar} does not describe a `percontrast {kind}` output; choose another --out")
    detail = settings_differences(recorded.get("settings", {}), settings)
    if detail:
        raise ConfigError(
            f"{out} was made with other settings ({detail}); resuming would mix two runs in one file. "
            "Rerun with the recorded settings, or choose another --out"
        )


# ---------------------------------------------------------------------------------- run directories


def last_checkpoint(output_dir: PathLike) -> Path | None:
    """The newest complete ``checkpoint-N`` folder in ``output_dir`` (a resume point), if any.

    The Trainer writes ``trainer_state.json`` last; a checkpoint without it (or with it torn) was cut
    off by a kill while saving and is skipped with a warning, never resumed from.
    """
    output_dir = Path(output_dir)
    if not output_dir.is_dir():
        return None
    numbered = [p for p in output_dir.glob("checkpoint-*") if p.is_dir() and p.name.split("-")[-1].isdigit()]
    for checkpoint in sorted(numbered, key=lambda p: int(p.name.split("-")[-1]), reverse=True):
        if checkpoint_state(checkpoint) is not None:
            return checkpoint
        logger.warning("%s is incomplete (a run killed while saving it): skipped", checkpoint)
    return None


def checkpoint_state(checkpoint: PathLike) -> dict | None:
    """The ``trainer_state.json`` of a checkpoint, or None when it is missing or torn."""
    try:
        state = json.loads((Path(checkpoint) / "trainer_state.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return None
    return state if isinstance(state, dict) else None


def prepare_run_dir(
    output_dir: PathLike,
    *,
    resume_from_checkpoint: str | None,
    overwrite: bool,
    settings: Mapping[str, Any] | None = None,
    clear_checkpoints: bool = False,
) -> str | None:
    """Check a training output directory before anything is written to it; resolve the checkpoint.

    A directory that holds files is refused unless the user resumes (its run continues) or asks to
    overwrite: otherwise the new run's ``run_config.json`` would describe weights it does not hold.
    A resume must keep the recorded ``resume_settings`` of ``run_config.json``.

    Args:
        output_dir: the run directory.
        resume_from_checkpoint: a checkpoint directory, ``"latest"`` (the newest complete
            ``checkpoint-N`` in ``output_dir``), or None.
        overwrite: the user asked to write over a finished run (or the caller is not the process
            that writes the run's files).
        settings: what decides the training (`PerCEConfig.resume_settings`); compared on resume.
        clear_checkpoints: on a fresh start, delete the earlier run's ``checkpoint-N`` folders (the
            process that writes the run's files, when overwriting): a later ``latest`` must not
            resume the old run.

    Returns:
        The checkpoint path to resume from (None: start fresh).
    """
    import shutil

    output_dir = Path(output_dir)
    if output_dir.exists() and not output_dir.is_dir():
        raise ConfigError(f"--output_dir {output_dir} is a file; give a directory")
    checkpoint = resume_from_checkpoint
    if checkpoint in ("latest", "last"):
        found = last_checkpoint(output_dir)
        if found is None:
            raise ConfigError(
                f"--resume_from_checkpoint {checkpoint}: no complete checkpoint-N directory in {output_dir} "
                "to resume from"
            )
        checkpoint = str(found)
    elif checkpoint is not None and not Path(checkpoint).is_dir():
        raise ConfigError(
            f"--resume_from_checkpoint {checkpoint}: no such checkpoint directory "
            f"(give a checkpoint-N directory, or 'latest' for the newest one in --output_dir)"
        )
    elif checkpoint is not None and checkpoint_state(checkpoint) is None:
        raise ConfigError(
            f"--resume_from_checkpoint {checkpoint}: not a complete checkpoint (no readable trainer_state.json; "
            "a run killed while saving it?); give an earlier checkpoint-N, or 'latest'"
        )
    if checkpoint is None and not overwrite and output_dir.is_dir() and any(output_dir.iterdir()):
        raise ConfigError(
            f"--output_dir {output_dir} is not empty (it holds an earlier run). Pass --overwrite_output_dir to "
            "write over it, --resume_from_checkpoint latest to continue it, or choose another directory"
        )
    if checkpoint is None and clear_checkpoints and output_dir.is_dir():
        for old in output_dir.glob("checkpoint-*"):
            if old.is_dir():
                logger.info("--overwrite_output_dir: removing the earlier run's %s", old)
                shutil.rmtree(old)
    if checkpoint is not None:
        _check_resume(output_dir, checkpoint, settings)
    return checkpoint


def _check_resume(output_dir: Path, checkpoint: str, settings: Mapping[str, Any] | None) -> None:
    """Refuse a resume that would go on training another run's weights with other settings."""
    recorded_path = output_dir / "run_config.json"
    if settings is None or not recorded_path.is_file():
        return
    try:
        recorded = json.loads(recorded_path.read_text(encoding="utf-8")).get("resume_settings")
    except (json.JSONDecodeError, UnicodeDecodeError, AttributeError):
        raise ConfigError(
            f"{recorded_path}: not a run_config.json (not a JSON object); cannot check the resume"
        ) from None
    if not isinstance(recorded, dict):
        return  # written by an older version: nothing to compare with
    detail = settings_differences(recorded, json.loads(json.dumps(dict(settings), default=str)))
    if detail:
        raise ConfigError(
            f"--resume_from_checkpoint {checkpoint}: {output_dir} was trained with other settings ({detail}); "
            "resuming would mix two runs. Resume with the recorded settings, or start a new --output_dir"
        )
