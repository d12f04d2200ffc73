"""Reports: HTML heatmaps of token scores, plots and markdown tables."""
