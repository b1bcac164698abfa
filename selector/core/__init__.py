"""The headless core: hardware, catalog, estimates, probes, results, export.

Nothing here imports Qt (PySide6, pyqtgraph, superqt) or ``selector.ui``; an
import-linter contract in pyproject.toml enforces it and the tests run it.
"""
