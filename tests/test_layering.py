"""The core runs headless: checked by import-linter's contract and by importing it without Qt."""

import pkgutil
import shutil
import subprocess
import sys
from pathlib import Path

import selector

ROOT = Path(selector.__file__).resolve().parent.parent


def lint_imports(cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", "from importlinter.cli import lint_imports_command; lint_imports_command()"],
        cwd=cwd, capture_output=True, text=True, timeout=300,
        env={"PYTHONPATH": str(cwd), "PATH": "/usr/bin:/bin"},
    )


def test_contracts_hold():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "broken" not in result.stdout.lower().replace("0 broken", "")


def test_contract_fails_when_core_imports_pyside(tmp_path):
    shutil.copytree(ROOT / "selector", tmp_path / "selector",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    (tmp_path / "selector" / "core" / "sneaky.py").write_text("from PySide6 import QtCore\n")
    result = lint_imports(tmp_path)
    assert result.returncode != 0
    assert "selector.core.sneaky -> PySide6" in result.stdout


def test_every_core_module_imports_with_qt_blocked():
    core = ROOT / "selector" / "core"
    modules = [f"selector.core.{m.name}" for m in pkgutil.walk_packages([str(core)]) ]
    code = (
        "import sys, importlib\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('PySide6', 'shiboken6', 'pyqtgraph', 'superqt'):\n"
        "            raise ImportError('Qt is blocked in this test: ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        f"for m in {modules!r}:\n    importlib.import_module(m)\n"
        "print('OK', len(sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=300, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("OK")
