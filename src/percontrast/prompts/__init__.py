"""Prompt templates, the benchmark prompts, and the one encoding and truncation policy."""
