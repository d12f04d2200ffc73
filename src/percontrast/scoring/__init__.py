"""PerContrast: per-token PIR of responses (Eq. 2), its heatmap, and `percontrast score`'s run."""
