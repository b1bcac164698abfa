"""The desktop app: a thin Qt layer over ``selector.core``.

This is the only package that imports PySide6, pyqtgraph or superqt. PySide6 is chosen for
pyqtgraph before pyqtgraph is imported anywhere.
"""

import os

os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")
