"""The demo: the whole method on the embedded model, offline (``percontrast demo``).

`run_demo(DemoConfig)` scores bundled persona answers (heatmap), identifies personal tokens on the
bundled annotated set, fine-tunes with CE and PerCE on the Synthetic-Persona-Chat next-reply task and
compares them on held-out personas, and writes one HTML report. See `percontrast.demo.pipeline`.
"""

from percontrast.utils.lazy import lazy_exports

_EXPORTS = {
    "PRESETS": "percontrast.demo.config",
    "DemoConfig": "percontrast.demo.config",
    "DemoResult": "percontrast.demo.pipeline",
    "run_demo": "percontrast.demo.pipeline",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
