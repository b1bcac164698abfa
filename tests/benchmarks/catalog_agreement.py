"""How well the catalog's meta-device counts agree with the published ones.

    python tests/benchmarks/catalog_agreement.py [--snapshot FILE] [--worst 25]

Vision: our parameter count vs timm's published ``param_count`` (results-imagenet.csv, else
the benchmark CSV), and our MACs vs the benchmark's ``infer_gmacs`` at the same image size.
Published figures have two decimals (millions, GMACs), so for tiny models a rounding band is
shown too. Text: the encoder (``AutoModel``) is re-measured and compared with the count the
authors published (``text-models.csv``); for DeBERTa-v3, whose authors count the encoder
without its word-embedding matrix, that matrix is left out of ours too.
"""

from __future__ import annotations

import argparse
import collections
import sys


def _rel(ours: float, published: float) -> float:
    return (ours - published) / published


def vision(catalog, worst: int) -> None:  # noqa: ANN001
    entries = [e for e in catalog if e.is_vision]
    for label, field, unit, rounding in (("parameters", "params", 1e6, 0.005e6), ("MACs", "macs", 1e9, 0.005e9)):
        published_field = "published_params" if field == "params" else "published_macs"
        pairs = [(e, getattr(e, field), getattr(e, published_field)) for e in entries
                 if getattr(e, field) and getattr(e, published_field)]
        within = [p for p in pairs if abs(_rel(p[1], p[2])) <= 0.01]
        rounded = [p for p in pairs if abs(p[1] - p[2]) <= max(0.01 * p[2], rounding)]
        print(f"vision {label}: {len(within)} of {len(pairs)} within 1 % of published "
              f"({len(within) / max(len(pairs), 1):.1%}); {len(rounded)} within 1 % or the CSV's rounding "
              f"(+-{rounding / unit:g} {'M' if unit == 1e6 else 'G'})")
        off = sorted((p for p in pairs if p not in rounded), key=lambda p: -abs(_rel(p[1], p[2])))
        families = collections.Counter(p[0].family for p in off)
        print(f"  disagreements by family: {dict(families.most_common(12))}")
        shown = set()
        for entry, ours, published in off:
            if entry.architecture in shown or len(shown) >= worst:
                continue
            shown.add(entry.architecture)
            print(f"  {entry.id:55s} ours {ours / unit:10.3f}  published {published / unit:10.3f}  "
                  f"{_rel(ours, published):+7.1%}  classes {entry.num_classes}")
    failed = [e for e in entries if e.params is None or e.macs is None]
    print(f"vision entries without params or MACs: {len(failed)}")
    for entry in failed[:worst]:
        print(f"  {entry.id}: {entry.notes[-160:]}")


def text(catalog) -> None:  # noqa: ANN001
    from selector.core.catalog.measure import measure_text
    from selector.core.catalog.text import config_from_dict

    print("text: encoder parameters (AutoModel) vs published")
    for entry in (e for e in catalog if e.is_text):
        measured = measure_text(config_from_dict(entry.config), with_activation=False)
        encoder = measured.extra["backbone_params"]
        if "backbone only" in entry.notes:  # DeBERTa-v3: authors count without the word embeddings
            encoder -= measured.extra["word_embedding_params"]
        published = entry.published_params
        diff = f"{_rel(encoder, published):+6.1%}" if published else "   n/a"
        print(f"  {entry.id:42s} total {entry.params / 1e6:7.1f}M  encoder {encoder / 1e6:7.1f}M  "
              f"published {published / 1e6 if published else float('nan'):6.0f}M  {diff}  "
              f"MACs@128 {entry.macs / 1e9 if entry.macs else float('nan'):6.2f}G")


def main() -> int:
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--snapshot", default=None)
    parser.add_argument("--worst", type=int, default=25)
    args = parser.parse_args()
    from selector.core.catalog.catalog import load_catalog

    catalog = load_catalog(args.snapshot, include_local=False, check_cache=False)
    print(f"snapshot {catalog.path}, built {catalog.built_at} with {catalog.versions}")
    vision(catalog, args.worst)
    text(catalog)
    return 0


if __name__ == "__main__":
    sys.exit(main())
