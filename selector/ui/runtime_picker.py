"""Which runtimes the latency probe measures: a button whose menu ticks them (and int8).

A runtime that is not installed is shown greyed out, its tooltip the install command
(``selector.core.runtimes.available_runtimes``). Eager PyTorch is always measured: it is the
reference every other runtime is checked against.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QMenu, QToolButton, QWidget

from selector.core.runtimes import LABELS, QUANTIZABLE, RUNTIMES, available_runtimes


class RuntimePicker(QToolButton):
    sig_changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.setToolTip("Runtimes the latency probe measures besides eager PyTorch; each is checked "
                        "against eager first, and one that changes the answers is never recommended")
        menu = QMenu(self)
        missing = available_runtimes()
        self._actions = {}
        for name in RUNTIMES:
            action = menu.addAction(LABELS[name])
            action.setCheckable(True)
            if name == "eager":
                action.setChecked(True)
                action.setEnabled(False)
                action.setToolTip("always measured: the reference")
            elif missing[name]:
                action.setEnabled(False)
                action.setToolTip(missing[name])
            action.toggled.connect(self._changed)
            self._actions[name] = action
        menu.addSeparator()
        self._int8 = menu.addAction("int8 static (calibrated on your data)")
        self._int8.setCheckable(True)
        self._int8.toggled.connect(self._changed)
        menu.setToolTipsVisible(True)
        self.setMenu(menu)
        self._changed()

    def runtimes(self) -> list[str]:
        return [name for name, action in self._actions.items() if action.isChecked()]

    def quantize(self) -> str | None:
        return "int8" if self._int8.isChecked() and self._int8.isEnabled() else None

    def set_value(self, runtimes: list[str], quantize: str | None) -> None:
        for name, action in self._actions.items():
            action.blockSignals(True)
            action.setChecked(name == "eager" or (name in runtimes and action.isEnabled()))
            action.blockSignals(False)
        self._int8.blockSignals(True)
        self._int8.setChecked(quantize == "int8")
        self._int8.blockSignals(False)
        self._changed(emit=False)

    def _changed(self, *_args: object, emit: bool = True) -> None:
        self._int8.setEnabled(any(self._actions[r].isChecked() for r in QUANTIZABLE))
        names = [LABELS[r] for r in self.runtimes()]
        self.setText(", ".join(names) + (" + int8" if self.quantize() else ""))
        if emit:
            self.sig_changed.emit()
