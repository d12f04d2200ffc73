"""Models: loading (aliases, GGUF, hub ids), chat backends, and the response-only forward."""
