"""Experiment grids (``percontrast experiment``) and the paper's tables from their results (``percontrast report``)."""
