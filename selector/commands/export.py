"""``selector export``: write the recommendation sheet (PDF, HTML, Markdown, CSV or JSON)."""

from __future__ import annotations

import argparse

from selector.commands.recommend import add_constraint_arguments, add_source_arguments

NAME = "export"
HELP = "write a recommendation sheet: pdf, html, md, csv or json"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=("pdf", "html", "md", "csv", "json"),
                        help="sheet format (default: from the --out suffix)")
    parser.add_argument("--out", required=True, metavar="PATH", help="file to write")
    parser.add_argument("--force", action="store_true", help="overwrite an existing file")
    parser.add_argument("--title", help="title of the sheet")
    parser.add_argument("--note", action="append", default=[], metavar="TEXT",
                        help="a note for the reader (repeatable), e.g. how busy the machine was")
    parser.add_argument("--compare", nargs="+", metavar="SHEET.json",
                        help="instead: compare JSON sheets from several machines "
                             "(formats: html, md, csv, json)")
    parser.add_argument("--per-kind", action="store_true",
                        help="instead: one sheet per hardware kind of a cluster run (--session, default the "
                             "newest), side by side with an answer per kind (formats: html, md, csv, json)")
    add_source_arguments(parser)
    add_constraint_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from selector.core.export import format_for

    fmt = format_for(args.out, args.format)
    check_out(args.out, args.force)
    if args.compare:
        return _compare(args, fmt)
    if args.per_kind:
        from selector.commands.cluster_cli import export_per_kind

        return export_per_kind(args, fmt)
    from selector.commands.recommend import app_session

    app, constraints, objective = app_session(args)
    sheet = app.recommendation_sheet(constraints, objective, title=args.title, notes=args.note)
    written = app.export(args.out, fmt, overwrite=args.force)
    rec = sheet.recommendation
    pick = rec.recommended or "no candidate meets the constraints"
    print(f"wrote {written[0]} ({fmt}; recommended: {pick}; confidence: {rec.confidence})")
    for extra in written[1:]:
        print(f"wrote {extra}")
    return 0


def check_out(out: str, force: bool) -> None:
    """``SelectorError`` for an ``--out`` that cannot be written, before the sheet is built."""
    from pathlib import Path

    from selector.core.errors import SelectorError

    path = Path(out).expanduser()
    if path.is_dir():
        raise SelectorError(f"--out {out} is a folder; give a file name, e.g. {path / 'sheet.pdf'}")
    if not path.parent.is_dir():
        raise SelectorError(f"--out {out}: there is no folder {path.parent}")
    if path.exists() and not force:
        raise SelectorError(f"{path} already exists (use --force to overwrite it)")


def _compare(args: argparse.Namespace, fmt: str) -> int:
    from selector.core.errors import SelectorError
    from selector.core.export import compare_sheets, open_sheet
    from selector.core.export.compare_render import export_comparison

    if fmt == "pdf":
        raise SelectorError("a comparison is written as html, md, csv or json, not pdf")
    comparison = compare_sheets([open_sheet(p) for p in args.compare])
    written = export_comparison(comparison, args.out, fmt, overwrite=args.force,
                                title=args.title)
    print(f"wrote {written[0]} ({fmt}; {len(comparison.models)} models on "
          f"{len(comparison.machines)} machines)")
    return 0
