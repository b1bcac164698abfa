"""How long ``load_catalog()`` takes, in a fresh process and again once warm.

    python tests/benchmarks/catalog_load.py [--repeat 5] [--snapshot FILE]

A fresh process measures what the app and ``selector list`` pay at start: importing the
catalog modules, reading and parsing the gzipped snapshot, building the entries, the local
models list and the scan of the Hugging Face cache for ``weights_cached``. Times are the
median of ``--repeat`` processes; torch is never imported (checked).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
from selector.core.catalog.catalog import load_catalog
t1 = time.perf_counter()
path = sys.argv[1] or None
catalog = load_catalog(path)
t2 = time.perf_counter()
catalog = load_catalog(path)
t3 = time.perf_counter()
catalog = load_catalog(path, check_cache=False, include_local=False)
t4 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "first_load_s": t2 - t1, "warm_load_s": t3 - t2,
                  "warm_no_cache_scan_s": t4 - t3, "entries": len(catalog), "path": catalog.path,
                  "torch_imported": "torch" in sys.modules}))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--snapshot", default="", help="a snapshot file (default: what load_catalog picks)")
    args = parser.parse_args()
    runs = []
    for _ in range(args.repeat):
        out = subprocess.run([sys.executable, "-c", CHILD, args.snapshot], check=True,
                             capture_output=True, text=True, env={**__import__("os").environ, "HF_HUB_OFFLINE": "1"})
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    first = runs[0]
    print(f"snapshot: {first['path']} ({first['entries']} entries); torch imported: {first['torch_imported']}")
    for key in ("import_s", "first_load_s", "warm_load_s", "warm_no_cache_scan_s"):
        values = [r[key] * 1000 for r in runs]
        print(f"{key[:-2]:24s} median {statistics.median(values):7.1f} ms  (min {min(values):.1f}, max {max(values):.1f})")
    total = [(r["import_s"] + r["first_load_s"]) * 1000 for r in runs]
    print(f"{'import + first load':24s} median {statistics.median(total):7.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
