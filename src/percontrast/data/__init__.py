"""Data: the `Example` schema and JSONL I/O, benchmark readers, retrieval and synthetic sets."""

from percontrast.data.schema import Example, iter_jsonl, read_examples, write_jsonl

__all__ = ["Example", "iter_jsonl", "read_examples", "write_jsonl"]
