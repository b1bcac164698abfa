"""HardwarePanel: what the chosen machine can do, as the rest of the window sees it.

A view only: the main window detects or loads a :class:`HardwareProfile` in the background
and calls :meth:`HardwarePanel.set_profile`. The combo box at the top asks for another
source (this machine, a reference profile, a profile file) through ``sig_source_requested``.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from selector.core.hardware import HardwareProfile
from selector.core.units import fmt_mib, fmt_optional

LIVE_SOURCE = "live"

_FIELDS = [
    ("name", "Machine"),
    ("os", "OS"),
    ("python", "Python"),
    ("cpu", "CPU"),
    ("cores", "Cores"),
    ("ram", "RAM free"),
    ("swap", "Swap free"),
    ("driver", "NVIDIA driver"),
    ("gpus", "GPUs"),
    ("torch", "torch"),
    ("accelerators", "torch sees"),
]

_GPU_COLUMNS = ["GPU", "Free", "Total", "Other processes", "CC", "Power", "Temp", "Util"]


class HardwarePanel(QWidget):
    sig_source_requested = Signal(str)
    """``live``, ``ref:<name>`` or ``file:<path>``."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._profile: HardwareProfile | None = None
        self._probe_threads: int | None = None
        """CPU threads probes use (Preferences); None: torch's default."""

        self.source_combo = QComboBox()
        self.source_combo.setToolTip(
            "Estimate for this machine, or ask \"what if\" with a reference or saved profile"
        )
        self.source_combo.addItem("This machine", LIVE_SOURCE)
        self.source_combo.activated.connect(self._on_source_activated)

        top = QHBoxLayout()
        top.addWidget(QLabel("Hardware:"))
        top.addWidget(self.source_combo, 1)

        self.status_label = QLabel("Detecting hardware…")
        self.status_label.setObjectName("hardware_status")
        self.status_label.setWordWrap(True)

        form_box = QGroupBox("Machine")
        form = QFormLayout(form_box)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self._labels: dict[str, QLabel] = {}
        for key, title in _FIELDS:
            label = QLabel("—")
            label.setObjectName(f"hw_{key}")
            label.setWordWrap(True)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self._labels[key] = label
            form.addRow(title, label)

        gpu_box = QGroupBox("NVIDIA GPUs")
        gpu_layout = QVBoxLayout(gpu_box)
        self.gpu_table = QTableWidget(0, len(_GPU_COLUMNS))
        self.gpu_table.setHorizontalHeaderLabels(_GPU_COLUMNS)
        self.gpu_table.verticalHeader().setVisible(False)
        self.gpu_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.gpu_table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.gpu_table.horizontalHeader().setStretchLastSection(True)
        self.gpu_empty = QLabel("—")
        self.gpu_empty.setWordWrap(True)
        gpu_layout.addWidget(self.gpu_table)
        gpu_layout.addWidget(self.gpu_empty)

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.status_label)
        layout.addWidget(form_box)
        layout.addWidget(gpu_box)
        layout.addStretch(1)

    # ----------------------------------------------------------------- sources
    def add_source(self, title: str, source: str) -> None:
        if self.source_combo.findData(source) < 0:
            self.source_combo.addItem(title, source)

    def select_source(self, source: str) -> None:
        index = self.source_combo.findData(source)
        if index >= 0:
            self.source_combo.setCurrentIndex(index)

    def current_source(self) -> str:
        return self.source_combo.currentData() or LIVE_SOURCE

    def _on_source_activated(self, index: int) -> None:
        self.sig_source_requested.emit(self.source_combo.itemData(index))

    # ----------------------------------------------------------------- display
    def set_busy(self, text: str) -> None:
        self.status_label.setText(text)

    def profile(self) -> HardwareProfile | None:
        return self._profile

    def field_text(self, key: str) -> str:
        return self._labels[key].text()

    def set_probe_threads(self, threads: int | None) -> None:
        """The CPU threads preference: the cores line says what probes will use."""
        self._probe_threads = threads or None
        if self._profile is not None:
            self._labels["cores"].setText(self._cores_text(self._profile))

    def _cores_text(self, profile: HardwareProfile) -> str:
        cpu = profile.cpu
        text = f"{fmt_optional(cpu.physical_cores)} physical, {fmt_optional(cpu.logical_cores)} logical"
        if self._probe_threads:
            plural = "s" if self._probe_threads != 1 else ""
            return text + f", probes use {self._probe_threads} thread{plural} (Preferences)"
        if cpu.torch_threads:
            return text + f", torch uses {cpu.torch_threads} threads"
        return text

    def set_profile(self, profile: HardwareProfile) -> None:
        self._profile = profile
        cpu, mem = profile.cpu, profile.memory
        kind = {"live": "detected on this machine", "reference": "reference profile",
                "file": "opened from a file"}.get(profile.source, profile.source)
        self.status_label.setText(f"{profile.name}: {kind}")
        values = {
            "name": profile.description or profile.name,
            "os": fmt_optional(profile.os),
            "python": fmt_optional(profile.python),
            "cpu": cpu.model,
            "cores": self._cores_text(profile),
            "ram": f"{fmt_mib(mem.available_mib)} of {fmt_mib(mem.total_mib)}",
            "swap": (f"{fmt_mib(mem.swap_free_mib)} of {fmt_mib(mem.swap_total_mib)}"
                     if mem.swap_total_mib else "no swap"),
            "driver": _driver_text(profile),
            "gpus": profile.gpu_status or "—",
            "torch": _torch_text(profile),
            "accelerators": _accelerator_text(profile),
        }
        for key, text in values.items():
            self._labels[key].setText(text)
        self._fill_gpus(profile)

    def _fill_gpus(self, profile: HardwareProfile) -> None:
        self.gpu_table.setRowCount(len(profile.gpus))
        for row, gpu in enumerate(profile.gpus):
            where = gpu.index if gpu.backend in ("cuda", "rocm") else gpu.device_id
            cells = [
                f"{where}: {gpu.name}" + (" (unified memory)" if gpu.unified_memory else ""),
                fmt_mib(gpu.memory_free_mib),
                fmt_mib(gpu.memory_total_mib),
                fmt_mib(gpu.memory_other_processes_mib),
                fmt_optional(gpu.compute_capability),
                fmt_optional(gpu.power_limit_w, " W"),
                fmt_optional(gpu.temperature_c, " °C"),
                fmt_optional(gpu.utilization_pct, " %"),
            ]
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if not col and gpu.memory_note:
                    item.setToolTip(gpu.memory_note)
                if col:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.gpu_table.setItem(row, col, item)
        has_gpus = bool(profile.gpus)
        self.gpu_table.setVisible(has_gpus)
        self.gpu_empty.setVisible(not has_gpus)
        self.gpu_empty.setText(
            f"No GPU: {profile.gpu_status}. Models are estimated and probed on the CPU."
            if not has_gpus else ""
        )


def _driver_text(profile: HardwareProfile) -> str:
    if not profile.nvidia_driver:
        return "—"
    cuda = f" (CUDA {profile.cuda_driver})" if profile.cuda_driver else ""
    return f"{profile.nvidia_driver}{cuda}"


def _torch_text(profile: HardwareProfile) -> str:
    if profile.torch is None:
        return "checking…" if profile.source == "live" else "—"
    cuda = f", CUDA runtime {profile.torch.cuda_runtime}" if profile.torch.cuda_runtime else ", CPU build"
    return f"{profile.torch.version}{cuda}"


def _accelerator_text(profile: HardwareProfile) -> str:
    t = profile.torch
    if t is None:
        return "checking…" if profile.source == "live" else "—"
    parts = []
    if t.cuda_available:
        what = "ROCm" if t.hip_runtime else "CUDA"
        parts.append(f"{t.cuda_device_count} {what} device{'s' if t.cuda_device_count != 1 else ''}")
    if t.xpu_available:
        parts.append(f"{t.xpu_device_count} Intel XPU device{'s' if t.xpu_device_count != 1 else ''}")
    if t.mps_available:
        parts.append("Apple MPS")
    return ", ".join(parts) if parts else "CPU only"
