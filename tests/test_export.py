"""Sheets in every format from the same results: read back with real parsers."""

from __future__ import annotations

import base64
import datetime as dt
import json
from html.parser import HTMLParser

import pytest

from selector.core.errors import SelectorError
from selector.core.export import (
    CSV_FIELDS, DataSummary, build_sheet, compare_sheets, csv_rows, export_sheet, open_sheet,
    read_csv,
)
from selector.core.export.plots import comparison_figure, sheet_figures, to_png
from selector.core.export.render import md_escape
from selector.core.hardware import reference_profiles
from selector.core.recommend import (
    FINETUNE, Candidate, Constraints, Figure, Objective, TransferScore,
)

EVIL = "<script>alert(1)</script>"
EVIL_PATH = '/data/"><img src=x onerror=alert(2)>'
NOW = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)


def _lat(ms, source="measured"):
    return Figure(ms, source, "ms", batch=1, dtype="float32", threads=2, device="cpu",
                  method="p50 of 30 timed runs after 5 warm-up", extra={"p90": ms * 1.1, "p99": ms * 1.3})


def _mem(mib, source="estimated"):
    return Figure(mib, source, "MiB", batch=16, device="cpu",
                  method="estimate_memory" if source == "estimated" else "peak RSS")


def candidates():
    curve = [(s, 2.3 * 0.9 ** s + 0.1) for s in range(30)]
    return [
        Candidate("resnet18.a1_in1k", task="image-classification", family="resnet",
                  source="timm", params=11_689_512, macs=1.82e9, license="apache-2.0",
                  weights="pretrained", published={"imagenet_top1": 71.5},
                  published_source="timm results-imagenet.csv",
                  latency=[_lat(12.5)], finetune_memory=[_mem(2100), _mem(2350, "measured")],
                  finetuned_accuracy=Figure(92.0, "measured", "%", batch=16, device="cpu",
                                            extra={"samples": 400}),
                  baseline_accuracy=Figure(21.0, "measured", "%"), loss_curve=curve,
                  transfer=TransferScore(0.61, "logme", 1, 0.9, samples=400)),
        Candidate(EVIL, task="image-classification", params=3_000_000,
                  published={"imagenet_top1": 65.0}, latency=[_lat(4.0, "estimated")],
                  finetune_memory=[_mem(900)], transfer=TransferScore(0.42, "logme", 2, 0.8)),
        Candidate("resnet50.a1_in1k", task="image-classification", params=25_557_032,
                  published={"imagenet_top1": 80.4}, latency=[_lat(33.0)],
                  finetune_memory=[_mem(5200)], transfer=TransferScore(0.66, "logme", 3, 0.7)),
    ]


def make_sheet(hardware_name="laptop-cpu-8gb", scale=1.0):
    cands = candidates()
    for c in cands:
        for f in c.latency:
            f.value *= scale
    hardware = reference_profiles()[hardware_name].to_dict()
    return build_sheet(
        cands, Constraints(task="image-classification", latency_ms=20, memory_mode=FINETUNE,
                           free_memory_mib=6000),
        Objective(), hardware=hardware, now=NOW, session_id="s-123",
        data=DataSummary(name="flowers", path=EVIL_PATH, source="folder", num_classes=3,
                         classes=["daisy", "rose", EVIL], train_samples=300, eval_samples=100),
    )


@pytest.fixture(scope="module")
def sheet():
    return make_sheet()


@pytest.fixture(scope="module")
def written(sheet, tmp_path_factory):
    folder = tmp_path_factory.mktemp("sheets")
    files = {}
    for fmt in ("pdf", "html", "md", "csv", "json"):
        files[fmt] = export_sheet(sheet, folder / f"sheet.{fmt}")
    return folder, files


def test_the_recommendation_in_the_fixture(sheet):
    rec = sheet.recommendation
    assert rec.recommended == "resnet18.a1_in1k"
    assert rec.verdict("resnet50.a1_in1k").status == "rejected"
    assert rec.verdict(EVIL).status == "pareto"


def test_json_round_trips_exactly(sheet, written):
    folder, files = written
    again = open_sheet(files["json"][0])
    assert again.to_dict() == sheet.to_dict()
    assert again.candidate(EVIL).latency[0].source == "estimated"
    assert again.recommendation.verdict("resnet50.a1_in1k").reason == sheet.recommendation.verdict(
        "resnet50.a1_in1k").reason
    data = json.loads(files["json"][0].read_text())
    assert data["schema"] == "selector.sheet" and data["schema_version"] == 1


def test_csv_round_trips_with_stable_columns(sheet, written):
    _, files = written
    rows = read_csv(files["csv"][0])
    assert list(rows[0]) == CSV_FIELDS
    assert rows == csv_rows(sheet)
    top = rows[0]
    assert top["model_id"] == "resnet18.a1_in1k" and top["status"] == "recommended"
    assert top["latency_p50_ms"] == 12.5 and top["latency_source"] == "measured"
    assert top["finetune_memory_measured_mib"] == 2350 and top["peak_memory_mib"] == 2350
    assert top["finetuned_accuracy_pct"] == 92.0 and top["params"] == 11_689_512
    assert {"latency_p50_ms", "peak_memory_mib", "published_accuracy_pct"} <= set(CSV_FIELDS)


def test_pdf_has_the_expected_pages_and_text(written):
    from pypdf import PdfReader

    _, files = written
    reader = PdfReader(files["pdf"][0])
    assert len(reader.pages) == 4
    texts = [page.extract_text() for page in reader.pages]
    assert texts[0].lstrip().startswith("Model recommendation")
    assert "Recommendation" in texts[0] and "resnet18.a1_in1k" in texts[0]
    assert "confidence:" in texts[0]
    assert "Candidates" in texts[1] and EVIL in texts[1] and "resnet50.a1_in1k" in texts[1]
    assert "exceeds the 20 ms budget" in texts[1]
    assert "Plots" in texts[2] and len(reader.pages[2].images) == 3
    assert "Method" in texts[3] and "Software" in texts[3] and "torch" in texts[3]
    assert reader.pages[1].mediabox.width > reader.pages[1].mediabox.height  # landscape table


class _Collector(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.attrs, self.text = [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs += [(tag, k, v or "") for k, v in attrs]

    def handle_data(self, data):
        self.text.append(data)


def test_html_is_self_contained_and_user_text_is_escaped(written):
    _, files = written
    html = files["html"][0].read_text(encoding="utf-8")
    parser = _Collector()
    parser.feed(html)
    parser.close()
    assert "script" not in parser.tags
    assert not [a for a in parser.attrs if a[1].lower().startswith("on")]
    assert "<img src=x" not in html and EVIL not in html
    text = "".join(parser.text)
    assert EVIL in text and EVIL_PATH in text  # shown as text, decoded by the parser
    images = [v for tag, k, v in parser.attrs if tag == "img" and k == "src"]
    assert len(images) == 3 and all(v.startswith("data:image/svg+xml;base64,") for v in images)
    for src in images:
        svg = base64.b64decode(src.split(",", 1)[1]).decode("utf-8")
        assert "<svg" in svg and "<script" not in svg
    assert not [v for _, k, v in parser.attrs if k in ("src", "href") and "://" in v]
    assert "link" not in parser.tags


def test_markdown_escapes_and_links_its_plots(written):
    folder, files = written
    md_path, *plots = files["md"]
    text = md_path.read_text(encoding="utf-8")
    assert "**resnet18.a1\\_in1k**" in text or "**resnet18.a1_in1k**" in text
    assert EVIL not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert sorted(p.name for p in plots) == ["accuracy_latency.svg", "loss.svg", "memory.svg"]
    for p in plots:
        assert f"](sheet-plots/{p.name})" in text
    assert md_escape("a|b *c* [x](y) _z_") == "a\\|b \\*c\\* \\[x\\](y) \\_z\\_"


@pytest.mark.parametrize("name", ["my sheet.md", "<img src=x onerror=alert(7)>.md", "a(b)c.md"])
def test_markdown_plot_links_are_encoded_whatever_the_file_name(sheet, tmp_path, name):
    import re
    from urllib.parse import unquote

    md_path, *plots = export_sheet(sheet, tmp_path / name, "md")
    text = md_path.read_text(encoding="utf-8")
    links = re.findall(r"!\[([^\]]*)\]\(([^)\s]*)\)", text)
    assert len(links) == len(plots) == 3  # a space or ")" in the name used to end the link
    for (alt, href), plot in zip(links, plots):
        assert (md_path.parent / unquote(href)).resolve() == plot.resolve()
        assert "<" not in href and " " not in href and alt
    assert "alert(7)" not in text  # the name appears only percent-encoded


def test_existing_files_are_kept_without_overwrite(sheet, tmp_path):
    target = tmp_path / "s.json"
    target.write_text("precious")
    with pytest.raises(SelectorError, match="already exists .*--force"):
        export_sheet(sheet, target)
    assert target.read_text() == "precious"
    export_sheet(sheet, target, overwrite=True)
    assert open_sheet(target).recommendation.recommended == "resnet18.a1_in1k"
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_unwritable_path_and_unknown_format_are_clear_errors(sheet, tmp_path):
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    with pytest.raises(SelectorError, match="cannot write"):
        export_sheet(sheet, blocker / "sub" / "sheet.html")
    with pytest.raises(SelectorError, match="cannot tell the format"):
        export_sheet(sheet, tmp_path / "sheet.docx")
    with pytest.raises(SelectorError, match="unknown format"):
        export_sheet(sheet, tmp_path / "sheet.x", "docx")


def test_open_sheet_refuses_what_is_not_a_sheet(tmp_path, sheet):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(SelectorError, match="not a JSON sheet"):
        open_sheet(bad)
    bad.write_text(json.dumps({"hello": 1}))
    with pytest.raises(SelectorError, match="not a selector sheet"):
        open_sheet(bad)
    newer = sheet.to_dict() | {"schema_version": 99}
    bad.write_text(json.dumps(newer))
    with pytest.raises(SelectorError, match="newer than this selector reads"):
        open_sheet(bad)
    with pytest.raises(SelectorError, match="no such sheet"):
        open_sheet(tmp_path / "missing.json")


def test_compare_sheets_by_model_and_machine(tmp_path):
    a, b = make_sheet("laptop-cpu-8gb"), make_sheet("laptop-cpu-8gb", scale=0.5)
    b.hardware = dict(b.hardware, name="bigger box")
    paths = [tmp_path / "a.json", tmp_path / "b.json"]
    export_sheet(a, paths[0])
    export_sheet(b, paths[1])
    comparison = compare_sheets([open_sheet(p) for p in paths])
    assert comparison.machines == [a.hardware["name"], "bigger box"]
    table = {row["model_id"]: row for row in comparison.table("latency_p50_ms")}
    assert table["resnet50.a1_in1k"] == {"model_id": "resnet50.a1_in1k",
                                         a.hardware["name"]: 33.0, "bigger box": 16.5}
    # Twice as fast, resnet50 meets the 20 ms budget on the second machine.
    assert comparison.cell("resnet50.a1_in1k", "bigger box").status != "rejected"
    assert comparison.cell(EVIL, "bigger box").latency_source == "estimated"
    assert comparison_figure(comparison) is not None
    same = compare_sheets([a, a])
    name = a.hardware["name"]
    assert same.machines == [f"{name} (CPU)", f"{name} (CPU) (2)"]
    # two cloud hosts both called "vm": the device each sheet measured on tells them apart
    gpu = make_sheet("h100-80gb")
    gpu.hardware["name"] = name
    gpu.recommendation.constraints.device = "cuda:0"
    assert compare_sheets([a, gpu]).machines == [f"{name} (CPU)",
                                                 f"{name} ({gpu.hardware['gpus'][0]['name']})"]


def test_plots_survive_odd_names_and_missing_data():
    odd = Candidate("cost$5_model$", task="image-classification", published={"imagenet_top1": 70.0},
                    latency=[_lat(5.0)])
    plain = Candidate("no-figures", task="image-classification")
    s = build_sheet([odd, plain], now=NOW)
    figures = sheet_figures(s)
    assert list(figures) == ["accuracy_latency"]
    assert to_png(figures["accuracy_latency"], dpi=50).startswith(b"\x89PNG")


def test_method_lines_merge_counts_into_ranges():
    from selector.core.export.sheet import method_lines

    a = Candidate("a", latency=[Figure(5, "measured", "ms", batch=1, dtype="fp32", threads=2,
                                       device="cpu", method="p50 of 9 runs after 3 warm-up")])
    b = Candidate("b", latency=[Figure(7, "measured", "ms", batch=1, dtype="fp32", threads=2,
                                       device="cpu", method="p50 of 40 runs after 3 warm-up")],
                  published={"imagenet_top1": 70.0}, published_source="results.csv")
    assert method_lines([a, b]) == [
        "Latency (measured): batch 1, fp32, 2 threads, cpu; p50 of 9–40 runs after 3 warm-up — a, b",
        "Published accuracy: results.csv — b",
    ]


def test_the_shipped_example_sheet_opens_and_renders():
    from selector.core.export import render_markdown
    from selector.core.paths import resource
    from selector.core.results import ProbeResult

    sheet = open_sheet(resource("examples", "cpu-vm.json"))
    assert sheet.recommendation.recommended in {c.model_id for c in sheet.candidates}
    assert {r["kind"] for r in sheet.results} == {"latency", "transfer", "finetune"}
    assert all(ProbeResult.from_dict(r).status == "finished" for r in sheet.results)
    assert sheet.recommendation.recommended in render_markdown(sheet)
