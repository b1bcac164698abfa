"""Test setup shared by every test.

Set before anything imports Qt or huggingface_hub: Qt renders offscreen, the hub is
offline (it is unreachable here, and a real user's tests must never wait on it), and every
file the app writes goes under a per-test temporary folder.
"""

from __future__ import annotations

import os

os.environ["QT_QPA_PLATFORM"] = "offscreen"
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["PYQTGRAPH_QT_LIB"] = "PySide6"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory, monkeypatch):
    """Settings, results, logs and caches of the app live in a fresh folder per test."""
    home = tmp_path_factory.mktemp("selector-home")
    monkeypatch.setenv("SELECTOR_HOME", str(home))
    return home
