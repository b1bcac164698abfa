import json
import subprocess
import sys

import psutil

from selector.cli import main


def run_cli(*args, timeout=120):
    return subprocess.run(
        [sys.executable, "-m", "selector", *args], capture_output=True, text=True, timeout=timeout
    )


def test_version_and_help_do_not_import_torch_or_qt():
    code = (
        "import sys, selector.cli as c\n"
        "try:\n    c.main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('torch', 'PySide6', 'transformers', 'timm') if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "HEAVY []" in out.stdout
    version = run_cli("--version")
    assert version.returncode == 0 and version.stdout.startswith("selector ")


def test_hw_json_reports_this_machine():
    out = run_cli("hw", "--json")
    assert out.returncode == 0, out.stderr
    profile = json.loads(out.stdout)
    assert profile["cpu"]["logical_cores"] == psutil.cpu_count()
    assert abs(profile["memory"]["total_mib"] - psutil.virtual_memory().total / 2**20) < 1
    assert profile["torch"]["num_threads"] >= 1
    if not profile["gpus"]:
        assert profile["gpu_status"]


def test_hw_table_and_reference_profile(capsys):
    assert main(["hw", "--profile", "t4"]) == 0
    out = capsys.readouterr().out
    assert "Tesla T4" in out and "15.0 GiB" in out


def test_hw_save_then_open_elsewhere(tmp_path, capsys):
    target = tmp_path / "box.json"
    assert main(["hw", "--no-torch", "--save", str(target), "--json"]) == 0
    saved = json.loads(target.read_text())
    capsys.readouterr()
    assert main(["hw", "--profile", str(target), "--json"]) == 0
    reopened = json.loads(capsys.readouterr().out)
    assert reopened["source"] == "file" and reopened["cpu"] == saved["cpu"]


def test_hw_bad_profile_is_a_clear_error_not_a_traceback():
    out = run_cli("hw", "--profile", "no-such-box")
    assert out.returncode == 2
    assert "unknown hardware profile 'no-such-box'" in out.stderr
    assert "Traceback" not in out.stderr


def test_hw_save_to_unwritable_path(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["hw", "--no-torch", "--save", str(blocker / "sub" / "p.json")]) == 2
    assert "cannot save the profile" in capsys.readouterr().err
