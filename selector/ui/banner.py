"""MessageBanner: a non-modal strip for errors and notices, details one click away."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QWidget,
)


class MessageBanner(QFrame):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("message_banner")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setAutoFillBackground(True)
        self._details = ""
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details_button = QPushButton("Details…")
        self.details_button.clicked.connect(self._show_details)
        close = QPushButton("Dismiss")
        close.clicked.connect(self.hide)
        self._actions: list[QPushButton] = []
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 4)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.details_button)
        layout.addWidget(close)
        self._layout = layout
        self.hide()

    def show_message(self, text: str, details: str = "", level: str = "error",
                     actions: list[tuple[str, object]] | None = None) -> None:
        """Show ``text``; ``actions`` are (label, callable) buttons that also dismiss it."""
        for button in self._actions:
            button.deleteLater()
        self._actions = []
        for label, callback in actions or []:
            button = QPushButton(label)
            button.clicked.connect(callback)
            button.clicked.connect(self.hide)
            self._layout.insertWidget(1 + len(self._actions), button)
            self._actions.append(button)
        colour = {"error": "#f8d7da", "warning": "#fff3cd", "info": "#d1ecf1"}.get(level, "#d1ecf1")
        self.setStyleSheet(f"#message_banner {{ background: {colour}; }} QLabel {{ color: #222; }}")
        self.label.setText(text)
        self._details = details
        self.details_button.setVisible(bool(details))
        self.show()

    def action_labels(self) -> list[str]:
        return [b.text() for b in self._actions]

    def trigger(self, label: str) -> None:
        next(b for b in self._actions if b.text() == label).click()

    def text(self) -> str:
        return self.label.text() if self.isVisible() else ""

    def _show_details(self) -> None:
        box = QMessageBox(self)
        box.setWindowTitle("Details")
        box.setText(self.label.text())
        box.setDetailedText(self._details)
        box.open()
