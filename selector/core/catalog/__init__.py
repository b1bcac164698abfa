"""The model catalog: every candidate the app knows, with what is published about it.

``load_catalog()`` reads the prebuilt snapshot (no torch import); ``Catalog.get(id)`` looks an
entry up; local models are added with ``catalog.local.add_local_model``; the snapshot is
built by ``catalog.snapshot.build_snapshot`` (``selector catalog build``).
"""

from selector.core.catalog.catalog import Catalog, load_catalog
from selector.core.catalog.entry import TEXT, VISION, CatalogEntry

__all__ = ["TEXT", "VISION", "Catalog", "CatalogEntry", "load_catalog"]
