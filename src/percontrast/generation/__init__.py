"""Generation: batched seeded decoding, persona-contrastive decoding, `percontrast generate`'s run."""
