"""The demo: the whole method on the embedded model, offline (``percontrast demo``).

`run_demo(DemoConfig)` scores bundled persona answers (heatmap), identifies personal tokens on the
bundled annotated set, fine-tunes with CE and PerCE on the Synthetic-Persona-Chat next-reply task and
compares them on held-out personas, and writes one HTML report. See `percontrast.demo.pipeline`.
"""

from percontrast.demo.config import PRESETS, DemoConfig
from percontrast.demo.pipeline import DemoResult, run_demo

__all__ = ["PRESETS", "DemoConfig", "DemoResult", "run_demo"]
