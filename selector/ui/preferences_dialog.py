"""PreferencesDialog: edits the core's Preferences; nothing is saved until OK."""

from __future__ import annotations

import dataclasses

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QSpinBox,
    QWidget,
)

from selector.core.preferences import DTYPES, Preferences
from selector.ui.request_panel import SUGGESTED_LATENCY_MS, SUGGESTED_MEMORY_GIB, SUGGESTED_MIN_ACCURACY
from selector.ui.runtime_picker import RuntimePicker


class _OptionalSpin(QWidget):
    """A number that may be unset: a check box switches it on."""

    def __init__(self, minimum: float, maximum: float, suffix: str, suggested: float,
                 decimals: int = 1, tooltip: str = "") -> None:
        super().__init__()
        self.enabled = QCheckBox()
        self.spin = QDoubleSpinBox()
        self.spin.setRange(minimum, maximum)
        self.spin.setDecimals(decimals)
        self.spin.setSuffix(suffix)
        self.spin.setValue(suggested)  # shown greyed while unset, as in the main window
        self.spin.setToolTip(tooltip)
        self.enabled.setToolTip("Unchecked: no limit")
        self.enabled.toggled.connect(self.spin.setEnabled)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.enabled)
        layout.addWidget(self.spin, 1)

    def set_value(self, value: float | None) -> None:
        self.enabled.setChecked(value is not None)
        self.spin.setEnabled(value is not None)
        if value is not None:
            self.spin.setValue(value)

    def value(self) -> float | None:
        return self.spin.value() if self.enabled.isChecked() else None


class PreferencesDialog(QDialog):
    def __init__(self, prefs: Preferences, devices: list[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Preferences")
        self._prefs = prefs
        form = QFormLayout(self)

        self.device = QComboBox()
        gpus = [d for d in devices if d != "cpu"]
        self.device.addItem(f"auto ({gpus[0] if gpus else 'cpu'} here)", "auto")
        for device in devices:
            self.device.addItem(device, device)
        self.device.setToolTip("Where probes run; auto = the first GPU if there is one, else the CPU")
        self.threads = QSpinBox()
        self.threads.setRange(0, 1024)
        self.threads.setSpecialValueText("torch default")
        self.threads.setToolTip("CPU threads for probes (recorded with every result)")
        self.dtype = QComboBox()
        self.dtype.addItems(DTYPES)
        self.runtimes = RuntimePicker()
        self.batch = QSpinBox()
        self.batch.setRange(1, 4096)
        self.batch.setToolTip("Batch size the latency budget is stated at")
        self.latency_budget = _OptionalSpin(0.1, 1e6, " ms", SUGGESTED_LATENCY_MS,
                                            tooltip="p50 latency per batch")
        self.memory_budget = _OptionalSpin(0.1, 4096, " GiB", SUGGESTED_MEMORY_GIB)
        self.min_accuracy = _OptionalSpin(0, 100, " %", SUGGESTED_MIN_ACCURACY)
        self.latency_s = self._seconds("Time each latency probe may take")
        self.finetune_s = self._seconds("Time each quick fine-tune may take")
        self.transfer_s = self._seconds("Time each transferability probe may take")
        self.shortlist = QSpinBox()
        self.shortlist.setRange(1, 50)
        self.shortlist.setToolTip("How many models 'Benchmark best candidates' picks")
        self.top_k = QSpinBox()
        self.top_k.setRange(0, 50)
        self.top_k.setToolTip("How many of the shortlist also get the quick fine-tune")

        for label, widget in [
            ("Device", self.device), ("CPU threads", self.threads), ("Precision", self.dtype),
            ("Runtimes", self.runtimes), ("Batch", self.batch), ("Latency budget", self.latency_budget),
            ("Memory budget", self.memory_budget), ("Min. accuracy", self.min_accuracy),
            ("Latency probe time", self.latency_s), ("Fine-tune probe time", self.finetune_s),
            ("Transferability probe time", self.transfer_s), ("Shortlist size", self.shortlist),
            ("Fine-tune the top", self.top_k),
        ]:
            form.addRow(label, widget)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)
        self._load(prefs)

    @staticmethod
    def _seconds(tooltip: str) -> QDoubleSpinBox:
        spin = QDoubleSpinBox()
        spin.setRange(1, 3600)
        spin.setDecimals(0)
        spin.setSuffix(" s")
        spin.setToolTip(tooltip)
        return spin

    def _load(self, p: Preferences) -> None:
        self.device.setCurrentIndex(max(self.device.findData(p.device), 0))
        self.threads.setValue(p.threads)
        self.dtype.setCurrentText(p.dtype)
        self.runtimes.set_value(p.runtimes, p.quantize)
        self.batch.setValue(p.batch_size)
        self.latency_budget.set_value(p.latency_budget_ms)
        self.memory_budget.set_value(p.memory_budget_gib)
        self.min_accuracy.set_value(p.min_accuracy)
        self.latency_s.setValue(p.latency_budget_s)
        self.finetune_s.setValue(p.finetune_budget_s)
        self.transfer_s.setValue(p.transfer_budget_s)
        self.shortlist.setValue(p.shortlist_size)
        self.top_k.setValue(p.finetune_top_k)

    def preferences(self) -> Preferences:
        """The edited copy (the original is untouched until the caller saves this)."""
        return dataclasses.replace(
            self._prefs,
            device=self.device.currentData(),
            threads=self.threads.value(),
            dtype=self.dtype.currentText(),
            runtimes=self.runtimes.runtimes(), quantize=self.runtimes.quantize(),
            batch_size=self.batch.value(),
            latency_budget_ms=self.latency_budget.value(),
            memory_budget_gib=self.memory_budget.value(),
            min_accuracy=self.min_accuracy.value(),
            latency_budget_s=self.latency_s.value(),
            finetune_budget_s=self.finetune_s.value(),
            transfer_budget_s=self.transfer_s.value(),
            shortlist_size=self.shortlist.value(),
            finetune_top_k=self.top_k.value(),
            recent_data=list(self._prefs.recent_data),
        )
