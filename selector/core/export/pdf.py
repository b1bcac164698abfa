"""The PDF sheet, composed with fpdf2 (pure Python, ~0.3 MB, tables with wrapping and
repeated headings, TrueType embedding) from the same context as the HTML sheet.

Pages: 1 summary (the recommendation, why, what is uncertain, the question); 2 candidates
(landscape, continues over pages as needed); 3 plots (PNG from matplotlib); 4 method,
machine and software. Text uses DejaVu Sans, shipped inside matplotlib, so any Unicode in a
model name or path prints (the PDF core fonts only know Latin-1).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from selector.core.export import plots as _plots
from selector.core.export.sheet import Sheet

INK = (31, 35, 40)
MUTED = (89, 99, 110)
LINE = (209, 217, 224)
SOFT = (246, 248, 250)
PICK_FILL = (232, 245, 233)
STATUS_RGB = {
    "recommended": (46, 125, 50), "pareto": (21, 101, 192), "dominated": (110, 110, 110),
    "unverified": (239, 108, 0), "rejected": (198, 40, 40),
}
CONFIDENCE_RGB = {"high": (46, 125, 50), "medium": (239, 108, 0), "low": (198, 40, 40)}
SECTION_TITLES = ("Recommendation", "Candidates", "Plots", "Method")
"""The first heading of each section; each section starts a page."""


def _fonts_dir() -> Path:
    import matplotlib

    return Path(matplotlib.get_data_path()) / "fonts" / "ttf"


def render_pdf(sheet: Sheet) -> bytes:
    from fpdf import FPDF

    from selector.core.export.render import CAPTIONS, sheet_context

    ctx = sheet_context(sheet)

    class SheetPDF(FPDF):
        def footer(self) -> None:  # noqa: D102 - fpdf2 hook
            self.set_y(-12)
            self.set_font("DejaVu", size=7)
            self.set_text_color(*MUTED)
            self.cell(0, 5, f"{sheet.title} · {ctx['created']} · selector "
                            f"{sheet.selector_version} · page {self.page_no()}/{{nb}}",
                      align="C")

    pdf = SheetPDF(format="A4", unit="mm")
    pdf.set_title(sheet.title)
    pdf.set_creator(f"selector {sheet.selector_version}")
    pdf.set_margins(15, 14, 15)
    pdf.set_auto_page_break(True, margin=16)
    fonts = _fonts_dir()
    pdf.add_font("DejaVu", "", str(fonts / "DejaVuSans.ttf"))
    pdf.add_font("DejaVu", "B", str(fonts / "DejaVuSans-Bold.ttf"))
    pdf.add_font("DejaVu", "I", str(fonts / "DejaVuSans-Oblique.ttf"))
    pdf.add_font("DejaVuMono", "", str(fonts / "DejaVuSansMono.ttf"))

    _summary_page(pdf, sheet, ctx)
    _candidates_pages(pdf, ctx)
    _plots_pages(pdf, sheet, CAPTIONS)
    _method_page(pdf, sheet, ctx)
    return bytes(pdf.output())


# --------------------------------------------------------------------------- pages
def _summary_page(pdf: Any, sheet: Sheet, ctx: dict[str, Any]) -> None:
    rec = ctx["rec"]
    pdf.add_page()
    pdf.set_font("DejaVu", "B", 17)
    pdf.set_text_color(*INK)
    pdf.multi_cell(0, 8, sheet.title, new_x="LMARGIN", new_y="NEXT", align="L")
    pdf.set_font("DejaVu", size=8.5)
    pdf.set_text_color(*MUTED)
    meta = f"{ctx['created']} · {sheet.machine}"
    if sheet.session_id:
        meta += f" · session {sheet.session_id}"
    pdf.multi_cell(0, 4.5, meta, new_x="LMARGIN", new_y="NEXT", align="L")
    _heading(pdf, "Recommendation")

    top = pdf.get_y()
    pdf.set_fill_color(*SOFT)
    pdf.set_x(pdf.l_margin + 3)
    pdf.set_font("DejaVu", "B", 14)
    pdf.set_text_color(*INK)
    name = rec.recommended or "No candidate meets the constraints"
    pdf.multi_cell(pdf.epw - 6, 7, name, new_x="LMARGIN", new_y="NEXT", align="L")
    pdf.set_x(pdf.l_margin + 3)
    pdf.set_font("DejaVu", "B", 8.5)
    pdf.set_text_color(*CONFIDENCE_RGB.get(rec.confidence, INK))
    pdf.cell(0, 5, f"confidence: {rec.confidence}", new_x="LMARGIN", new_y="NEXT", align="L")
    pdf.set_x(pdf.l_margin + 3)
    pdf.set_font("DejaVu", size=9)
    pdf.set_text_color(*INK)
    reason = ctx["top"].reason if ctx["top"] else rec.summary
    pdf.multi_cell(pdf.epw - 6, 4.8, reason, new_x="LMARGIN", new_y="NEXT", align="L")
    bottom = pdf.get_y() + 2
    color = STATUS_RGB["recommended"] if rec.recommended else STATUS_RGB["rejected"]
    pdf.set_draw_color(*LINE)
    pdf.rect(pdf.l_margin, top - 2, pdf.epw, bottom - top + 2)
    pdf.set_fill_color(*color)
    pdf.rect(pdf.l_margin, top - 2, 1.6, bottom - top + 2, style="F")
    pdf.set_y(bottom + 2)

    if ctx["top"] and ctx["top"].checks:
        _bullets(pdf, "Why", ctx["top"].checks)
    _bullets(pdf, "What is uncertain", rec.notes)
    _bullets(pdf, "Next probes that would settle it", [p.text() for p in rec.next_probes])
    _bullets(pdf, "Notes", sheet.notes)
    _heading(pdf, "The question")
    pairs = [("Task", sheet.task or "—"), ("Data", sheet.data.describe()
                                           + (f" — {sheet.data.path}" if sheet.data.path else ""))]
    if sheet.data.classes:
        pairs.append(("Classes", ", ".join(sheet.data.classes)))
    pairs += [("Constraints", "; ".join(ctx["constraints"])),
              ("Objective", rec.objective.describe()),
              ("Accuracy basis", rec.basis), ("Candidates", ctx["counts"])]
    _pairs(pdf, pairs)


def _candidates_pages(pdf: Any, ctx: dict[str, Any]) -> None:
    from fpdf.fonts import FontFace

    pdf.add_page(orientation="L")
    _heading(pdf, "Candidates", first=True)
    headers = ctx["headers"]
    widths = (8, 50, 25, 27, 24, 24, 16, 93)
    heading_style = FontFace(emphasis="BOLD", fill_color=SOFT, color=INK, size_pt=8)
    pdf.set_font("DejaVu", size=7.5)
    pdf.set_text_color(*INK)
    pdf.set_fill_color(255, 255, 255)
    with pdf.table(col_widths=widths, width=sum(widths), align="LEFT", text_align="LEFT",
                   borders_layout="HORIZONTAL_LINES", line_height=3.9,
                   headings_style=heading_style, padding=(1.2, 1.2), v_align="TOP") as table:
        row = table.row()
        for h in headers:
            row.cell(h)
        for r in ctx["rows"]:
            row = table.row()
            color = STATUS_RGB.get(r["status"], INK)
            fill = PICK_FILL if r["status"] == "recommended" else (255, 255, 255)
            text = MUTED if r["status"] == "rejected" else INK
            plain = FontFace(color=text, fill_color=fill)
            row.cell(r["#"], style=plain)
            row.cell(r["Model"], style=FontFace(emphasis="BOLD", color=text, fill_color=fill))
            row.cell(r["Status"], style=FontFace(emphasis="BOLD", color=color, fill_color=fill))
            for h in headers[3:7]:
                row.cell(r[h], style=plain)
            why = color if r["status"] == "rejected" else MUTED
            row.cell(r["Why"], style=FontFace(color=why, fill_color=fill))
    pdf.ln(2)
    pdf.set_font("DejaVu", "I", 7.5)
    pdf.set_text_color(*MUTED)
    pdf.multi_cell(0, 4, f"{ctx['legend']} Latency: p50 ms per batch (@ batch size). "
                         f"Memory: {ctx['memory_header'].lower()}, peak.",
                   new_x="LMARGIN", new_y="NEXT", align="L")
    if ctx.get("noisy"):
        pdf.multi_cell(0, 4, "Noisy: measured while the machine was busy, so these latencies may "
                             "be off:\n" + "\n".join(f"- {line}" for line in ctx["noisy"]),
                       new_x="LMARGIN", new_y="NEXT", align="L")


def _plots_pages(pdf: Any, sheet: Sheet, captions: dict[str, str]) -> None:
    import io

    figures = _plots.sheet_figures(sheet)
    pdf.add_page(orientation="P")
    _heading(pdf, "Plots", first=True)
    if not figures:
        _paragraph(pdf, "No figures to plot: the candidates have no latency, memory or loss figures.")
        return
    for name, fig in figures.items():
        width_in, height_in = fig.get_size_inches()
        w = pdf.epw
        h = w * height_in / width_in
        if pdf.get_y() + h + 12 > pdf.page_break_trigger:
            pdf.add_page(orientation="P")
        png = _plots.to_png(fig, dpi=200)
        pdf.image(io.BytesIO(png), x=pdf.l_margin, w=w, h=h, alt_text=_plots.PLOT_TITLES[name])
        pdf.set_font("DejaVu", "I", 7.5)
        pdf.set_text_color(*MUTED)
        pdf.multi_cell(0, 3.8, f"{_plots.PLOT_TITLES[name]} — {captions.get(name, '')}",
                       new_x="LMARGIN", new_y="NEXT", align="L")
        pdf.ln(4)


def _method_page(pdf: Any, sheet: Sheet, ctx: dict[str, Any]) -> None:
    pdf.add_page(orientation="P")
    _heading(pdf, "Method: how each figure was obtained", first=True)
    if sheet.method:
        _bullet_lines(pdf, sheet.method)
    else:
        _paragraph(pdf, "No figures were recorded.")
    _paragraph(pdf, "Measured figures come from isolated child processes on the machine below; "
                    "estimates from selector's memory and latency models; published figures from "
                    "the source named above.", muted=True)
    if ctx["figures"]:
        _figures_table(pdf, ctx)
    _heading(pdf, "Machine")
    _pairs(pdf, ctx["hardware"])
    _heading(pdf, "Software")
    _pairs(pdf, ctx["software"])


def _figures_table(pdf: Any, ctx: dict[str, Any]) -> None:
    from fpdf.fonts import FontFace

    pdf.set_font("DejaVu", "B", 9.5)
    pdf.set_text_color(*INK)
    pdf.cell(0, 6, "Every figure", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", size=7)
    pdf.set_fill_color(255, 255, 255)
    widths = (40, 36, 40, 16, 10, 11, 14, 13)
    with pdf.table(col_widths=widths, width=sum(widths), align="LEFT", text_align="LEFT",
                   borders_layout="HORIZONTAL_LINES", line_height=3.4, padding=(0.6, 1),
                   headings_style=FontFace(emphasis="BOLD", fill_color=SOFT, size_pt=7)) as table:
        row = table.row()
        for h in ctx["figure_headers"]:
            row.cell(h)
        for f in ctx["figures"]:
            row = table.row()
            for h in ctx["figure_headers"]:
                row.cell(f[h])
    pdf.ln(1)


# ------------------------------------------------------------------------ helpers
def _heading(pdf: Any, text: str, *, first: bool = False) -> None:
    if not first:
        pdf.ln(3)
    pdf.set_font("DejaVu", "B", 12)
    pdf.set_text_color(*INK)
    pdf.cell(0, 7, text, new_x="LMARGIN", new_y="NEXT", align="L")
    pdf.set_draw_color(*LINE)
    pdf.line(pdf.l_margin, pdf.get_y(), pdf.l_margin + pdf.epw, pdf.get_y())
    pdf.ln(2.5)


def _bullets(pdf: Any, title: str, lines: list[str]) -> None:
    if not lines:
        return
    pdf.set_font("DejaVu", "B", 9.5)
    pdf.set_text_color(*INK)
    pdf.cell(0, 6, title, new_x="LMARGIN", new_y="NEXT", align="L")
    _bullet_lines(pdf, lines)


def _bullet_lines(pdf: Any, lines: list[str]) -> None:
    pdf.set_font("DejaVu", size=8.5)
    pdf.set_text_color(*INK)
    for line in lines:
        pdf.set_x(pdf.l_margin + 2)
        pdf.cell(4, 4.5, "•")
        pdf.multi_cell(pdf.epw - 6, 4.5, line, new_x="LMARGIN", new_y="NEXT", align="L")
    pdf.ln(1)


def _paragraph(pdf: Any, text: str, *, muted: bool = False) -> None:
    pdf.set_font("DejaVu", "I" if muted else "", 8.5)
    pdf.set_text_color(*(MUTED if muted else INK))
    pdf.multi_cell(0, 4.5, text, new_x="LMARGIN", new_y="NEXT", align="L")
    pdf.ln(1)


def _pairs(pdf: Any, pairs: list[tuple[str, str]]) -> None:
    key_w = 34
    for key, value in pairs:
        pdf.set_font("DejaVu", size=8.5)
        pdf.set_text_color(*MUTED)
        pdf.cell(key_w, 4.8, str(key))
        pdf.set_text_color(*INK)
        pdf.multi_cell(pdf.epw - key_w, 4.8, str(value), new_x="LMARGIN", new_y="NEXT", align="L")
