"""The model catalog: every candidate the app knows, with what is published about it."""

from selector.core.catalog.entry import CatalogEntry

__all__ = ["CatalogEntry"]
