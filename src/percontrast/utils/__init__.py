"""Shared plumbing: errors, JSONL reading, safe file writing and run records, bundled resources, plots."""
