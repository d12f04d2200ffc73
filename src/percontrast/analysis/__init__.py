"""Token-level analysis: NLL and PIR by token group, token kinds, the bootstrap over examples and seeds."""
