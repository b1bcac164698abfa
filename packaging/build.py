"""Build the desktop bundle with PyInstaller, smoke-test it, measure its size and start-up.

From a clean checkout (Linux; the venv needs ~6 GB with the CUDA torch, the bundle ~4 GB)::

    python3 -m venv build/venv
    build/venv/bin/pip install ".[bundle]"
    build/venv/bin/python packaging/build.py

The bundle lands in ``dist/selector/`` (``selector`` console tool, ``selector-gui`` windowed
launcher, libraries in ``_internal/``). Every check runs the BUILT executables, from a
temporary folder, with a temporary ``SELECTOR_HOME``, no ``PYTHONPATH`` and the hub offline,
so nothing can come from the source tree. A JSON report goes to ``build/bundle-report.json``.

Options: ``--skip-build`` tests an existing ``dist/selector``; ``--quick`` skips the
fine-tune/transfer probe and the sheet export; ``--repeat N`` start-up runs per figure
(default 3; the first is reported apart: it is the coldest); ``--no-source`` skips the
from-source comparison; ``--no-measure`` runs the smoke tests only; ``--report FILE`` writes
the JSON report elsewhere; ``--screenshot FILE.png`` saves the bundled window after 8 s.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "packaging" / "selector.spec"
DIST = ROOT / "dist"
WORK = ROOT / "build" / "pyinstaller"
REPORT = ROOT / "build" / "bundle-report.json"
GIB = 2**30


# ------------------------------------------------------------------------------ build
def build() -> float:
    """Run PyInstaller on the spec; returns the seconds it took."""
    try:
        import PyInstaller  # noqa: F401
    except ImportError:
        raise SystemExit('PyInstaller is missing: pip install ".[bundle]"') from None
    free = shutil.disk_usage(ROOT).free / GIB
    if free < 12:
        print(f"warning: {free:.1f} GiB free; a CUDA torch bundle needs ~4 GiB plus ~4 GiB of "
              "work files", file=sys.stderr)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "PyInstaller", "--noconfirm", "--log-level", "WARN",
                    "--distpath", str(DIST), "--workpath", str(WORK), str(SPEC)],
                   cwd=ROOT, check=True)
    return time.perf_counter() - start


# ------------------------------------------------------------------------------ smoke
def clean_env(home: Path) -> dict[str, str]:
    """This environment without anything pointing at a Python or the checkout."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("PYTHON") and k not in ("VIRTUAL_ENV", "CONDA_PREFIX")}
    venv_bin = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep)
                                  if p and p != venv_bin)
    env.update(HF_HUB_OFFLINE="1", SELECTOR_HOME=str(home), QT_QPA_PLATFORM="offscreen")
    return env


class Smoke:
    """Runs commands of the built bundle and records what happened."""

    def __init__(self, bundle: Path, workdir: Path) -> None:
        self.bundle = bundle
        self.cli = bundle / "selector"
        self.gui = bundle / "selector-gui"
        self.workdir = workdir
        self.env = clean_env(workdir / "home")
        self.results: list[dict] = []

    def run(self, name: str, args: list[str], check, *, exe: Path | None = None,
            env: dict | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
        cmd = [str(exe or self.cli), *args]
        start = time.perf_counter()
        proc = subprocess.run(cmd, cwd=self.workdir, env=env or self.env, capture_output=True,
                              text=True, timeout=timeout)
        seconds = time.perf_counter() - start
        problem = None if proc.returncode == 0 else f"exit {proc.returncode}"
        if problem is None:
            try:
                problem = check(proc.stdout)
            except Exception as err:  # noqa: BLE001 - any failed expectation is a failed check
                problem = f"{type(err).__name__}: {err}"
        self.results.append({"name": name, "command": " ".join(cmd[1:]) or "(none)",
                             "seconds": round(seconds, 2), "ok": problem is None,
                             "problem": problem, "stdout_tail": proc.stdout[-1500:],
                             "stderr_tail": proc.stderr[-1500:]})
        mark = "ok  " if problem is None else "FAIL"
        print(f"  {mark} {name:28s} {seconds:6.1f} s  {problem or ''}", flush=True)
        if problem:
            print(_indent(proc.stdout[-1500:] + proc.stderr[-3000:]), flush=True)
        return proc


def _indent(text: str) -> str:
    return "\n".join("      | " + line for line in text.strip().splitlines())


def _expect(condition: bool, message: str) -> str | None:
    return None if condition else message


def smoke(bundle: Path, *, quick: bool, screenshot: Path | None) -> list[dict]:
    import selector

    work = Path(tempfile.mkdtemp(prefix="selector-smoke-"))
    s = Smoke(bundle, work)
    print(f"smoke tests of {bundle} (in {work})")
    s.run("--version", ["--version"],
          lambda out: _expect(out.strip() == f"selector {selector.__version__}", out.strip()))

    def hw(out: str):
        profile = json.loads(out)
        return _expect(profile["cpu"]["logical_cores"] == os.cpu_count()
                       and profile["torch"]["num_threads"] >= 1, "no CPU or torch view")
    s.run("hw --json", ["hw", "--json"], hw)
    s.run("list (table)", ["list", "--task", "image-classification", "--limit", "5"],
          lambda out: _expect(out.count("\n") >= 5, "fewer lines than models"))

    def listed(out: str):
        data = json.loads(out)
        return _expect(data["count"] == 5 and all(m["id"] for m in data["models"]), "not 5 models")
    s.run("list --json", ["list", "--task", "image-classification", "--limit", "5", "--json"], listed)

    def latency(out: str):
        results = json.loads(out)["results"]
        return _expect([(r["kind"], r["status"]) for r in results] == [("latency", "finished")]
                       and all(row["p50_ms"] > 0 for row in results[0]["rows"]),
                       "no finished latency row")
    s.run("bench timm (latency)", ["bench", "test_resnet", "--probe", "latency", "--budget", "3s",
                                   "--json"], latency)
    s.run("bench transformers", ["bench", "google/bert_uncased_L-2_H-128_A-2", "--probe",
                                 "latency", "--budget", "3s", "--json"], latency)
    if not quick:
        s.run("bench finetune+transfer", ["bench", "test_resnet", "--probe", "finetune,transfer",
                                          "--data", "sample", "--budget", "3s"],
              lambda out: _expect("LogME" in out and "Quick fine-tune" in out, "no tables"))
        sheet = work / "sheet.pdf"
        s.run("export pdf sheet", ["export", "--out", str(sheet)],
              lambda out: _expect(sheet.read_bytes()[:5] == b"%PDF-" and sheet.stat().st_size
                                  > 10_000, "no PDF written"))
    env = dict(s.env, SELECTOR_SMOKE_FIRST_WINDOW="1", SELECTOR_SMOKE_T0=repr(time.time()),
               SELECTOR_SMOKE_ABOUT="1")
    if screenshot:
        env.update(SELECTOR_SMOKE_HOLD_S="8", SELECTOR_SMOKE_SCREENSHOT=str(screenshot.resolve()))

    def window(out: str):
        about = out.split("ABOUT ", 1)[1] if "ABOUT " in out else ""
        return (_expect("FIRST_WINDOW" in out, "no window shown")
                or _expect("(desktop bundle)" in about and str(work / "home" / "data") in about,
                           "About does not show the bundle and the user's folders")
                or _expect("not installed" not in about, "About misses package versions"))
    s.run("GUI first window + About", [], window, exe=s.gui, env=env, timeout=300)
    shutil.rmtree(work, ignore_errors=True)
    return s.results


# ------------------------------------------------------------------------------ measure
def size_breakdown(bundle: Path, top: int = 14) -> dict:
    """Bytes on disk by component: torch/lib, each nvidia/* package, PySide6, ... (MiB)."""
    groups: dict[str, int] = {}
    total = 0
    for path in bundle.rglob("*"):
        if path.is_symlink() or not path.is_file():
            continue
        size = path.stat().st_size
        total += size
        rel = path.relative_to(bundle).parts
        if rel[0] != "_internal":
            key = rel[0]
        elif len(rel) > 2 and rel[1] in ("torch", "nvidia", "PySide6", "triton"):
            key = "/".join(rel[1:3]) if rel[1] in ("torch", "nvidia") and len(rel) > 3 else rel[1]
        else:
            key = rel[1] if len(rel) > 2 else "_internal/*.so (top level)"
        groups[key] = groups.get(key, 0) + size
    ranked = sorted(groups.items(), key=lambda kv: -kv[1])
    rest = sum(v for _, v in ranked[top:])
    mib = {k: round(v / 2**20, 1) for k, v in ranked[:top]}
    mib["(everything else)"] = round(rest / 2**20, 1)
    return {"total_mib": round(total / 2**20, 1), "files": sum(1 for _ in bundle.rglob("*")),
            "by_component_mib": mib}


def _wall(cmd: list[str], env: dict, cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, env=env, cwd=cwd, check=True, capture_output=True, timeout=300)
    return time.perf_counter() - start


def _first_window(cmd: list[str], env: dict, cwd: Path, *, bundled: bool) -> float:
    start = time.time()
    if bundled:
        env = dict(env, SELECTOR_SMOKE_FIRST_WINDOW="1", SELECTOR_SMOKE_T0=repr(start))
    else:
        cmd = [*cmd, repr(start)]
    out = subprocess.run(cmd, env=env, cwd=cwd, check=True, capture_output=True, text=True,
                         timeout=300).stdout
    return float(re.search(r"FIRST_WINDOW ([0-9.]+)", out).group(1))


def _stats(values: list[float]) -> dict:
    return {"first": round(values[0], 3), "median": round(statistics.median(values), 3),
            "min": round(min(values), 3), "max": round(max(values), 3), "runs": len(values)}


def startup(bundle: Path, repeat: int, source: bool) -> dict:
    """Wall seconds from spawning to the answer, bundle against ``python -m selector``."""
    work = Path(tempfile.mkdtemp(prefix="selector-startup-"))
    env = clean_env(work / "home")
    figures: dict[str, dict] = {}
    cases = {"--version": ["--version"], "hw --json": ["hw", "--json"]}
    for name, args in cases.items():
        figures[f"bundle {name}"] = _stats(
            [_wall([str(bundle / "selector"), *args], env, work) for _ in range(repeat)])
    figures["bundle first window"] = _stats(
        [_first_window([str(bundle / "selector-gui")], env, work, bundled=True)
         for _ in range(repeat)])
    if source:
        src_env = dict(env, PYTHONPATH=str(ROOT), SELECTOR_HOME=str(work / "home-src"))
        for name, args in cases.items():
            figures[f"source {name}"] = _stats(
                [_wall([sys.executable, "-m", "selector", *args], src_env, work)
                 for _ in range(repeat)])
        sys.path.insert(0, str(ROOT))
        from tests.benchmarks.startup import FIRST_WINDOW

        figures["source first window"] = _stats(
            [_first_window([sys.executable, "-c", FIRST_WINDOW], src_env, work, bundled=False)
             for _ in range(repeat)])
    shutil.rmtree(work, ignore_errors=True)
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--skip-build", action="store_true", help="test the existing dist/selector")
    parser.add_argument("--quick", action="store_true", help="skip fine-tune/transfer and export")
    parser.add_argument("--repeat", type=int, default=3, help="start-up runs per figure")
    parser.add_argument("--no-source", action="store_true", help="no from-source comparison")
    parser.add_argument("--no-measure", action="store_true", help="smoke tests only")
    parser.add_argument("--screenshot", type=Path, help="save the bundled window to this PNG")
    parser.add_argument("--report", type=Path, default=REPORT)
    args = parser.parse_args(argv)

    report: dict = {"python": sys.version.split()[0], "platform": sys.platform,
                    "cpus": os.cpu_count()}
    if not args.skip_build:
        report["build_seconds"] = round(build(), 1)
        print(f"built in {report['build_seconds']:.0f} s")
    bundle = DIST / "selector"
    if not (bundle / "selector").is_file():
        raise SystemExit(f"no bundle at {bundle}; build it first (without --skip-build)")
    report["smoke"] = smoke(bundle, quick=args.quick, screenshot=args.screenshot)
    failed = [r["name"] for r in report["smoke"] if not r["ok"]]
    if not args.no_measure:
        report["size"] = size_breakdown(bundle)
        print(f"\nbundle size: {report['size']['total_mib'] / 1024:.2f} GiB in "
              f"{report['size']['files']} files")
        for key, mib in report["size"]["by_component_mib"].items():
            print(f"  {mib:9.1f} MiB  {key}")
        print(f"\nstart-up, wall seconds ({args.repeat} runs; the first is the coldest):")
        report["startup"] = startup(bundle, args.repeat, source=not args.no_source)
        for name, st in report["startup"].items():
            print(f"  {name:28s} first {st['first']:6.2f}  median {st['median']:6.2f}  "
                  f"min {st['min']:6.2f}  max {st['max']:6.2f}")
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(json.dumps(report, indent=1))
    print(f"\nreport: {args.report}")
    if failed:
        print(f"FAILED: {', '.join(failed)}", file=sys.stderr)
        return 1
    print(f"all {len(report['smoke'])} smoke checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
