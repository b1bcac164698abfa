"""RequestPanel: what the user wants (task, data, device, sizes, constraints) as a Request.

Every edit emits ``sig_request_changed`` with a fresh :class:`Request`; the catalog's badges
and the recommendation follow it. Data is picked with a folder or file dialog, or left at the
built-in sample so one click works with no data at all.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QMenu,
    QPushButton,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from selector.core.catalog.entry import GENERATION, TEXT, VISION
from selector.core.request import SAMPLE, Request
from selector.ui.runtime_picker import RuntimePicker
from selector.ui.settings import last_folder, remember_folder

_TASKS = [(VISION, "Image classification"), (TEXT, "Text classification"), (GENERATION, "Text generation")]
_QUANTS = [("none (the precision above)", None), ("int8 (LLM.int8)", "int8"), ("4-bit NF4", "nf4")]
SUGGESTED_LATENCY_MS, SUGGESTED_MEMORY_GIB, SUGGESTED_MIN_ACCURACY = 20.0, 8.0, 70.0
"""What an unset limit shows, greyed, here and in Preferences: the value it takes when checked."""


class _Limit(QWidget):
    """An optional number: unchecked means no limit."""

    def __init__(self, maximum: float, suffix: str, value: float, tooltip: str) -> None:
        super().__init__()
        self.check = QCheckBox()
        self.spin = QDoubleSpinBox()
        self.spin.setRange(0.1, maximum)
        self.spin.setDecimals(1)
        self.spin.setSuffix(suffix)
        self.spin.setValue(value)
        self.spin.setEnabled(False)
        self.spin.setToolTip(tooltip)
        self.check.setToolTip("Check to set a limit")
        self.check.toggled.connect(self.spin.setEnabled)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.check)
        layout.addWidget(self.spin, 1)

    def value(self) -> float | None:
        return self.spin.value() if self.check.isChecked() else None

    def set_value(self, value: float | None) -> None:
        self.check.setChecked(value is not None)
        if value is not None:
            self.spin.setValue(value)


class RequestPanel(QGroupBox):
    sig_request_changed = Signal(object)
    sig_benchmark = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("What you want", parent)
        self._threads: int | None = None  # from Preferences (no widget here)
        self.task = QComboBox()
        for key, text in _TASKS:
            self.task.addItem(text, key)
        self.data = QComboBox()
        self.data.setToolTip("Your data: an image folder (one sub-folder per class), a CSV/TSV/JSONL "
                             "text file with text and label columns, or the built-in sample")
        self.data.addItem("Built-in sample data", SAMPLE)
        self.data_button = QToolButton()
        self.data_button.setText("Open…")
        self.data_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(self.data_button)
        menu.addAction("Image folder…", self.pick_folder)
        menu.addAction("Text file (CSV, TSV, JSONL)…", self.pick_file)
        self.data_button.setMenu(menu)
        data_row = QHBoxLayout()
        data_row.addWidget(self.data, 1)
        data_row.addWidget(self.data_button)

        self.device = QComboBox()
        self.device.addItem("cpu", "cpu")
        self.device.setToolTip("Where the model will run (and where probes run)")
        self.batch = QSpinBox()
        self.batch.setRange(1, 4096)
        self.batch.setToolTip("Batch size for inference; the latency budget is per batch")
        self.train_batch = QSpinBox()
        self.train_batch.setRange(1, 4096)
        self.train_batch.setValue(16)
        self.train_batch.setToolTip("Batch size for fine-tuning (estimate and probe)")
        self.dtype = QComboBox()
        self.dtype.addItems(["fp32", "bf16", "fp16"])
        self.dtype.setToolTip("Inference precision; fine-tuning in bf16/fp16 uses mixed precision")
        self.latency = _Limit(1e6, " ms", SUGGESTED_LATENCY_MS, "p50 latency per batch")
        self.memory = _Limit(4096, " GiB", SUGGESTED_MEMORY_GIB,
                             "Memory budget; unchecked: the device's free memory")
        self.memory_mode = QComboBox()
        self.memory_mode.addItem("for inference", "inference")
        self.memory_mode.addItem("for fine-tuning", "finetune")
        self.memory_mode.setToolTip("Which memory must fit: running the model, or fine-tuning it")
        self.runtimes = RuntimePicker()
        self.context = QSpinBox()
        self.context.setRange(16, 1_048_576)
        self.context.setSingleStep(1024)
        self.context.setValue(4096)
        self.context.setSuffix(" tokens")
        self.context.setToolTip("Text generation: context length (prompt and generated tokens); "
                                "the KV cache grows with it")
        self.quant = QComboBox()
        for words, quant in _QUANTS:
            self.quant.addItem(words, quant)
        self.quant.setToolTip("Text generation: weights quantised with bitsandbytes (int8, NF4), "
                              "or as the precision says")
        self.lora_rank = QSpinBox()
        self.lora_rank.setRange(0, 1024)
        self.lora_rank.setValue(8)
        self.lora_rank.setSpecialValueText("full fine-tune")
        self.lora_rank.setToolTip("Text generation: rank of the LoRA adapters for the fine-tune (with NF4: QLoRA); "
                                  "0: every weight trains")
        self.min_accuracy = _Limit(100, " %", SUGGESTED_MIN_ACCURACY, "Minimum accuracy (fine-tuned on "
                                   "your data when measured, else published)")

        form = QFormLayout()
        form.addRow("Task", self.task)
        form.addRow("Data", data_row)
        form.addRow("Device", self.device)
        form.addRow("Batch", self.batch)
        form.addRow("Fine-tune batch", self.train_batch)
        form.addRow("Precision", self.dtype)
        form.addRow("Context length", self.context)
        form.addRow("Quantisation", self.quant)
        form.addRow("LoRA rank", self.lora_rank)
        self._form = form
        form.addRow("Runtimes", self.runtimes)
        form.addRow("Latency budget", self.latency)
        form.addRow("Memory budget", self.memory)
        form.addRow("Memory must fit", self.memory_mode)
        form.addRow("Min. accuracy", self.min_accuracy)

        self.benchmark_button = QPushButton("Benchmark best candidates")
        self.benchmark_button.setToolTip(
            "Pick a shortlist of what fits, then measure latency, score transferability on your "
            "data, and fine-tune the top few, in the background")
        self.benchmark_button.clicked.connect(self.sig_benchmark)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.benchmark_button)

        for signal in (self.task.currentIndexChanged, self.data.currentIndexChanged,
                       self.device.currentIndexChanged, self.batch.valueChanged,
                       self.train_batch.valueChanged, self.dtype.currentIndexChanged,
                       self.latency.check.toggled, self.latency.spin.valueChanged,
                       self.memory.check.toggled, self.memory.spin.valueChanged,
                       self.memory_mode.currentIndexChanged, self.min_accuracy.check.toggled,
                       self.min_accuracy.spin.valueChanged, self.context.valueChanged,
                       self.quant.currentIndexChanged, self.lora_rank.valueChanged):
            signal.connect(self._emit)
        self.task.currentIndexChanged.connect(self._show_decoder_rows)
        self._show_decoder_rows()
        self.runtimes.sig_changed.connect(self._emit)

    # ------------------------------------------------------------------ data
    def set_devices(self, devices: list[tuple[str, str]], *, prefer_gpu: bool = False) -> None:
        """(id, label) pairs; keeps the current choice when it still exists, except that
        ``prefer_gpu`` (the "auto" device preference) moves a CPU choice to the first GPU."""
        current = self.device.currentData()
        self.device.blockSignals(True)
        self.device.clear()
        for device_id, label in devices:
            self.device.addItem(label, device_id)
        index = self.device.findData(current)
        gpus = [device_id for device_id, _ in devices if device_id.startswith("cuda")]
        if prefer_gpu and gpus and current in (None, "cpu"):
            index = self.device.findData(gpus[0])
        self.device.setCurrentIndex(max(index, 0))
        self.device.blockSignals(False)
        if self.device.currentData() != current:
            self._emit()

    def add_data_source(self, path: str) -> None:
        """Offer ``path`` and choose it (the task follows: a file is text, a folder images)."""
        self.data.setCurrentIndex(self._data_item(path))
        if Path(path).is_file() and self.task.currentData() != GENERATION:
            self.task.setCurrentIndex(self.task.findData(TEXT))
        elif Path(path).is_dir():
            self.task.setCurrentIndex(self.task.findData(VISION))

    def offer_recent_data(self, paths: list[str]) -> None:
        """List data used lately (most recent first) without choosing any; gone ones are skipped."""
        self.data.blockSignals(True)
        try:
            for path in paths:
                if Path(path).exists():
                    self._data_item(path)
        finally:
            self.data.blockSignals(False)

    def _data_item(self, path: str) -> int:
        index = self.data.findData(path)
        if index < 0:
            self.data.addItem(Path(path).name or path, path)
            index = self.data.count() - 1
            self.data.setItemData(index, path, 3)  # tooltip: the full path
        return index

    def pick_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Image folder (one sub-folder per class)",
                                                last_folder("data"))
        if path:
            remember_folder("data", path)
            self.add_data_source(path)

    def pick_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Text data", last_folder("data"),
            "Text data (*.csv *.tsv *.jsonl *.json *.txt *.md);;All files (*)")
        if path:
            remember_folder("data", path)
            self.add_data_source(path)

    # --------------------------------------------------------------- request
    def _show_decoder_rows(self, *_args: object) -> None:
        """Context, quantisation and LoRA rank only for text generation."""
        decoder = self.task.currentData() == GENERATION
        for widget in (self.context, self.quant, self.lora_rank):
            self._form.setRowVisible(widget, decoder)

    def request(self) -> Request:
        decoder = self.task.currentData() == GENERATION
        return Request(
            seq_len=self.context.value() if decoder else 128, quant=self.quant.currentData(),
            lora_rank=self.lora_rank.value(),
            task=self.task.currentData(), data=self.data.currentData(),
            device=self.device.currentData() or "cpu", threads=self._threads,
            batch_size=self.batch.value(),
            train_batch_size=self.train_batch.value(), dtype=self.dtype.currentText(),
            latency_budget_ms=self.latency.value(), memory_budget_gib=self.memory.value(),
            memory_mode=self.memory_mode.currentData(), min_accuracy=self.min_accuracy.value(),
            runtimes=self.runtimes.runtimes(), quantize=self.runtimes.quantize(),
        )

    def set_request(self, request: Request) -> None:
        widgets = [self.task, self.data, self.device, self.batch, self.train_batch, self.dtype,
                   self.latency.check, self.latency.spin, self.memory.check, self.memory.spin,
                   self.memory_mode, self.min_accuracy.check, self.min_accuracy.spin, self.context,
                   self.quant, self.lora_rank]
        for w in widgets:
            w.blockSignals(True)
        try:
            self._threads = request.threads  # set in Preferences, no widget here
            self.task.setCurrentIndex(max(0, self.task.findData(request.task)))
            if request.data != SAMPLE and request.data:
                self.add_data_source(request.data)
            self.data.setCurrentIndex(max(0, self.data.findData(request.data)))
            self.device.setCurrentIndex(max(0, self.device.findData(request.device)))
            self.batch.setValue(request.batch_size)
            self.train_batch.setValue(request.train_batch_size)
            self.dtype.setCurrentText(request.dtype if request.dtype != "amp" else "fp32")
            self.latency.set_value(request.latency_budget_ms)
            self.memory.set_value(request.memory_budget_gib)
            self.memory_mode.setCurrentIndex(max(0, self.memory_mode.findData(request.memory_mode)))
            self.min_accuracy.set_value(request.min_accuracy)
            self.runtimes.set_value(request.runtimes, request.quantize)
            if request.task == GENERATION:
                self.context.setValue(request.seq_len)
            self.quant.setCurrentIndex(max(0, self.quant.findData(request.quant)))
            self.lora_rank.setValue(request.lora_rank)
        finally:
            self._show_decoder_rows()
            for w in widgets:
                w.blockSignals(False)
        self._emit()

    def _emit(self, *_args: object) -> None:
        self.sig_request_changed.emit(self.request())
