"""Data: the `Example` schema and JSONL I/O, benchmark readers, retrieval and synthetic sets."""

from percontrast.utils.lazy import lazy_exports

_EXPORTS = {
    "Example": "percontrast.data.schema",
    "iter_jsonl": "percontrast.data.schema",
    "read_examples": "percontrast.data.sources",
    "write_jsonl": "percontrast.utils.files",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
