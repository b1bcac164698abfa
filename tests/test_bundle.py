"""The desktop bundle: what a frozen app relies on (fast, always run), and the real build.

The build itself (``packaging/build.py``: PyInstaller, then smoke tests of the built
executables) takes ~10 minutes and ~4 GB of disk, so ``test_build_and_smoke_test_the_bundle``
runs only on request: ``pytest -m bundle tests/test_bundle.py`` (or ``SELECTOR_BUNDLE_TEST=1``).
"""

from __future__ import annotations

import configparser
import json
import os
import shutil
import stat
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import selector
from selector.core import paths
from selector.core.probes import ProbeRun, ProbeSpec, runner
from selector.core.results import record as rec

ROOT = Path(__file__).resolve().parent.parent
LINUX = ROOT / "packaging" / "linux"
ICONS = ROOT / "resources" / "icons"
SIZES = (16, 24, 32, 48, 64, 128, 256, 512)


# ------------------------------------------------------------------ frozen code paths
def _fake_bundle(folder: Path) -> Path:
    """A folder shaped like the bundle: ``selector-gui`` and a ``selector`` that runs the
    source CLI (what the frozen console executable does)."""
    folder.mkdir(parents=True, exist_ok=True)
    console = folder / "selector"
    console.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m selector "$@"\n')
    gui = folder / "selector-gui"
    gui.write_text("#!/bin/sh\nexit 99\n")  # never the probe child: no pipes on Windows
    for exe in (console, gui):
        exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    return gui


def test_frozen_probe_child_is_the_console_executable(tmp_path, monkeypatch):
    gui = _fake_bundle(tmp_path / "bundle")
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", str(gui))
    assert runner.child_command() == [str(tmp_path / "bundle" / "selector"), "--probe-child"]
    env = runner.child_env(ProbeSpec(kind="fault", model="m"))
    assert str(ROOT) not in env.get("PYTHONPATH", "")  # the bundle carries selector itself

    lone = tmp_path / "elsewhere" / "my-app"  # no console executable beside it
    lone.parent.mkdir()
    lone.write_text("")
    monkeypatch.setattr(sys, "executable", str(lone))
    assert runner.child_command() == [str(lone), "--probe-child"]


def test_a_probe_runs_through_the_hidden_probe_child_flag(tmp_path, monkeypatch):
    """The frozen path end to end, short of freezing: child_command() picks ``selector``
    beside the (GUI) executable, which runs ``selector --probe-child``."""
    gui = _fake_bundle(tmp_path / "bundle")
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", str(gui))
    spec = ProbeSpec(kind="fault", model="fake-model", budget_s=5, timeout_s=60,
                     params={"mode": "finish", "rows": 2})
    run = ProbeRun(spec)
    events = list(run.events())
    assert run.result.status == rec.FINISHED, events[-1]
    assert [row["index"] for row in run.result.rows] == [0, 1]

    crash = ProbeRun(ProbeSpec(kind="fault", model="m", budget_s=5, timeout_s=60,
                               params={"mode": "raise"}))
    list(crash.events())
    assert crash.result.status == rec.FAILED and "fault injection" in crash.result.error


def test_probe_child_flag_is_hidden_from_help():
    out = subprocess.run([sys.executable, "-m", "selector", "--help"], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0 and "probe-child" not in out.stdout


def test_resources_come_from_the_bundle_when_frozen(tmp_path, monkeypatch):
    shipped = tmp_path / "_internal" / "selector" / "resources"
    (shipped / "hardware").mkdir(parents=True)
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path / "_internal"), raising=False)
    assert paths.resources_dir() == shipped
    assert paths.resource("hardware", "t4.json") == shipped / "hardware" / "t4.json"


# ------------------------------------------------------------------ desktop integration
def _png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR", path
    return struct.unpack(">II", head[16:24])


def test_icon_set_has_every_size():
    assert (ICONS / "selector.svg").is_file()
    for size in SIZES:
        assert _png_size(ICONS / f"selector-{size}.png") == (size, size)


def test_desktop_entry_and_metainfo_carry_the_apps_identity():
    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str
    entry.read(LINUX / f"{selector.APP_ID}.desktop", encoding="utf-8")
    desktop = entry["Desktop Entry"]
    assert desktop["Name"] == selector.APP_NAME and desktop["Icon"] == selector.APP_ID
    assert desktop["Exec"] == "selector-gui" and desktop["Terminal"] == "false"
    assert desktop["Comment"] == selector.APP_DESCRIPTION

    meta = ET.parse(LINUX / f"{selector.APP_ID}.metainfo.xml").getroot()
    assert meta.findtext("id") == selector.APP_ID
    assert meta.findtext("name") == selector.APP_NAME
    assert meta.findtext("summary") == selector.APP_DESCRIPTION
    assert meta.findtext("launchable") == f"{selector.APP_ID}.desktop"
    newest = meta.find("releases/release")
    assert newest is not None and newest.get("version") == selector.__version__, (
        "add a <release> for this version to the AppStream metainfo")

    spec = (ROOT / "packaging" / "selector.spec").read_text()
    assert 'name="selector-gui"' in spec and 'name="selector"' in spec


@pytest.mark.skipif(sys.platform != "linux", reason="the desktop entry is for Linux")
def test_install_desktop_entry_puts_entry_and_icons_for_the_user(tmp_path):
    bundle = tmp_path / "my apps" / "selector"  # a space in the path: Exec must quote it
    _fake_bundle(bundle)
    shutil.copytree(ICONS, bundle / "_internal" / "selector" / "resources" / "icons")
    data = tmp_path / "data"
    env = dict(os.environ, XDG_DATA_HOME=str(data))
    script = LINUX / "install-desktop-entry.sh"
    done = subprocess.run(["sh", str(script), str(bundle)], env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    installed = data / "applications" / f"{selector.APP_ID}.desktop"
    text = installed.read_text()
    assert f'Exec="{bundle}/selector-gui"' in text and f"TryExec={bundle}/selector-gui" in text
    assert (data / "metainfo" / f"{selector.APP_ID}.metainfo.xml").is_file()
    for size in SIZES:
        icon = data / "icons" / "hicolor" / f"{size}x{size}" / "apps" / f"{selector.APP_ID}.png"
        assert _png_size(icon) == (size, size)
    assert (data / "icons" / "hicolor" / "scalable" / "apps" / f"{selector.APP_ID}.svg").is_file()

    gone = subprocess.run(["sh", str(script), "--uninstall"], env=env, capture_output=True,
                          text=True, timeout=60)
    assert gone.returncode == 0, gone.stderr
    assert not installed.exists() and not list((data / "icons").rglob("*.png"))

    missing = subprocess.run(["sh", str(script), str(tmp_path / "nowhere")], env=env,
                             capture_output=True, text=True, timeout=60)
    assert missing.returncode == 1 and "build the bundle first" in missing.stderr


# ------------------------------------------------------------------ the real build
def _requested(config) -> bool:  # noqa: ANN001 - pytest.Config
    expr = (config.getoption("markexpr") or "").replace(" ", "")
    return bool(os.environ.get("SELECTOR_BUNDLE_TEST")) or ("bundle" in expr
                                                            and "notbundle" not in expr)


@pytest.mark.bundle
@pytest.mark.slow
def test_build_and_smoke_test_the_bundle(request, tmp_path):
    if not _requested(request.config):
        pytest.skip("builds the multi-GB PyInstaller bundle: run with pytest -m bundle")
    pytest.importorskip("PyInstaller")
    report = tmp_path / "report.json"
    args = [sys.executable, str(ROOT / "packaging" / "build.py"), "--no-measure",
            "--report", str(report)]
    if os.environ.get("SELECTOR_BUNDLE_SKIP_BUILD"):  # test an existing dist/selector
        args.append("--skip-build")
    done = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=3600)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    checks = {c["name"]: c for c in json.loads(report.read_text())["smoke"]}
    assert all(c["ok"] for c in checks.values())
    assert {"--version", "hw --json", "list --json", "bench timm (latency)",
            "bench transformers", "GUI first window + About"} <= set(checks)
