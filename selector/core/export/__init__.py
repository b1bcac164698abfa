"""Recommendation sheets: PDF, self-contained HTML, Markdown, CSV and JSON from one :class:`Sheet`.

``build_sheet(candidates, constraints, objective, ...)`` makes the sheet (it runs the
recommendation); ``export_sheet(sheet, path, fmt, overwrite=False)`` writes it atomically;
``open_sheet(path)`` reads a JSON sheet back; ``compare_sheets([...])`` lines up the same models
measured on several machines. Plots are drawn headless with matplotlib; nothing here imports Qt.
"""

from selector.core.export.compare import Comparison, ComparisonCell, compare_sheets
from selector.core.export.render import (
    FORMATS, export_sheet, format_for, render_html, render_markdown, render_outputs,
    write_outputs,
)
from selector.core.export.session import sheet_from_session
from selector.core.export.sheet import (
    SHEET_SCHEMA, SHEET_VERSION, DataSummary, Sheet, build_sheet, open_sheet, software_versions,
)
from selector.core.export.table import CSV_FIELDS, csv_rows, read_csv, to_csv

__all__ = [
    "CSV_FIELDS", "FORMATS", "SHEET_SCHEMA", "SHEET_VERSION", "Comparison", "ComparisonCell",
    "DataSummary", "Sheet", "build_sheet", "compare_sheets", "csv_rows", "export_sheet",
    "format_for", "open_sheet", "read_csv", "render_html", "render_markdown", "render_outputs",
    "sheet_from_session", "software_versions", "to_csv", "write_outputs",
]
