"""How long the catalog table takes to narrow as a user types, and to recompute fit badges.

    QT_QPA_PLATFORM=offscreen python tests/benchmarks/gui_filter.py

Loads the shipped catalog into the real CatalogView, then types "vit small in21k" one key
at a time (each key: the core filter plus the proxy update plus the repaint), toggles
"fits only", and changes the request (which recomputes the estimate of every entry).
"""

from __future__ import annotations

import os
import statistics
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def main() -> None:
    from PySide6.QtWidgets import QApplication

    from selector.core.catalog.catalog import load_catalog
    from selector.core.hardware import detect_hardware
    from selector.core.request import Request
    from selector.ui.catalog_view import CatalogView

    app = QApplication.instance() or QApplication([])
    start = time.perf_counter()
    catalog = load_catalog()
    load_s = time.perf_counter() - start
    view = CatalogView()
    view.resize(1200, 700)
    view.show()
    profile = detect_hardware(include_torch=False)
    start = time.perf_counter()
    view.set_entries(list(catalog))
    view.set_context(Request(), profile)
    app.processEvents()
    first_s = time.perf_counter() - start
    keys = []
    for text in ["v", "vi", "vit", "vit ", "vit s", "vit sm", "vit sma", "vit smal", "vit small",
                 "vit small ", "vit small i", "vit small in", "vit small in2", "vit small in21",
                 "vit small in21k", "vit small in21", "vit small", "vit", ""]:
        t0 = time.perf_counter()
        view.search.setText(text)
        app.processEvents()
        keys.append((time.perf_counter() - t0) * 1000)
    recompute = []
    for batch in (1, 8, 32, 64):
        t0 = time.perf_counter()
        view.set_context(Request(batch_size=batch, train_batch_size=batch, memory_mode="finetune"), profile)
        app.processEvents()
        recompute.append((time.perf_counter() - t0) * 1000)
    print(f"catalog entries: {len(catalog)}; load_catalog {load_s * 1000:.0f} ms; "
          f"first fill with badges {first_s * 1000:.0f} ms")
    print(f"per keystroke (filter + proxy + repaint), ms: median {statistics.median(keys):.1f}, "
          f"max {max(keys):.1f}, n={len(keys)}")
    print(f"core filter alone, last keystroke: {view.last_filter_ms:.1f} ms")
    print(f"request change (estimates of every entry, both modes), ms: "
          f"median {statistics.median(recompute):.0f}, max {max(recompute):.0f}")


if __name__ == "__main__":
    main()
