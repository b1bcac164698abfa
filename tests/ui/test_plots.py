import pytest

from selector.ui.plots import (
    LatencyDistributionPlot,
    LogAxis,
    LossCurvePlot,
    MemoryPlot,
    ParetoPlot,
    ParetoPoint,
    save_plot,
)


def points():
    return [
        ParetoPoint("fast", 5.0, 70.0, "measured", memory_mib=200, on_front=True),
        ParetoPoint("slow_good", 40.0, 85.0, "measured", memory_mib=2000, on_front=True),
        ParetoPoint("dominated", 50.0, 60.0, "measured", memory_mib=900),
        ParetoPoint("prior_only", 12.0, 78.0, "published", latency_kind="estimated"),
    ]


def test_pareto_plot_draws_one_point_per_model_at_its_coordinates(qtbot):
    plot = ParetoPlot()
    qtbot.addWidget(plot)
    plot.set_points(points())
    drawn = plot.spot_positions()
    assert set(drawn) == {"fast", "slow_good", "dominated", "prior_only"}
    for p in points():
        assert drawn[p.model_id] == pytest.approx((p.latency_ms, p.accuracy))
    xs, ys = plot.front_line.getData()
    assert list(ys) == [70.0, 85.0]  # front drawn in latency order, dominated point not on it
    assert len(plot.scatter_published.points()) == 1


def test_pareto_click_emits_model_and_selection_highlights(qtbot):
    plot = ParetoPlot()
    qtbot.addWidget(plot)
    plot.set_points(points())
    spot = next(s for s in plot.scatter_measured.points() if s.data() == "dominated")
    with qtbot.waitSignal(plot.sig_model_clicked, timeout=1000) as blocker:
        plot.scatter_measured.sigClicked.emit(plot.scatter_measured, [spot], None)
    assert blocker.args == ["dominated"]
    plot.select_model("fast")
    selected = next(s for s in plot.scatter_measured.points() if s.data() == "fast")
    assert selected.pen().width() == 3
    tip = plot._tip(0, 0, "slow_good")
    assert "40 ms" in tip and "85.0 %" in tip and "Pareto" in tip


def test_loss_curves_grow_in_place(qtbot):
    plot = LossCurvePlot()
    qtbot.addWidget(plot)
    for step, loss in enumerate([2.0, 1.5, 1.0], start=1):
        plot.append("a", step, loss)
    plot.append("b", 1, 3.0)
    xs, ys = plot.curves["a"].getData()
    assert list(xs) == [1, 2, 3] and list(ys) == [2.0, 1.5, 1.0]
    assert len(plot.curves) == 2


def test_memory_and_latency_plots_and_saving(qtbot, tmp_path):
    mem = MemoryPlot()
    qtbot.addWidget(mem)
    mem.set_rows({"a": (100.0, 110.0), "b": (500.0, 450.0), "unmeasured": (300.0, None)})
    assert len(mem.scatter.points()) == 2
    lat = LatencyDistributionPlot()
    qtbot.addWidget(lat)
    lat.set_samples("a", [10.0] * 90 + [20.0] * 10)
    assert lat.p50.value() == pytest.approx(10.0)
    assert lat.p99.value() == pytest.approx(20.0)
    mem.resize(600, 400)
    png = save_plot(mem, tmp_path / "mem.png")
    svg = save_plot(mem, tmp_path / "mem.svg")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "<svg" in svg.read_text()[:500]


def test_pareto_accuracy_is_measured_only_for_a_pretrained_fine_tune():
    """The plot ranks as the recommendation does: a fine-tune from random weights (architecture
    only) says nothing of the pretrained model's accuracy, so its point shows the published one."""
    from selector.ui.results_presenter import present
    from tests.test_export import make_sheet

    view = present(make_sheet())
    points = {p.model_id: p for p in view.points}
    assert (points["resnet18.a1_in1k"].accuracy, points["resnet18.a1_in1k"].accuracy_kind) == (
        92.0, "measured")
    sheet = make_sheet()
    sheet.candidate("resnet18.a1_in1k").weights = "architecture-only"
    random_start = {p.model_id: p for p in present(sheet).points}["resnet18.a1_in1k"]
    assert (random_start.accuracy, random_start.accuracy_kind) == (71.5, "published")


@pytest.mark.parametrize("cls", [ParetoPlot, LossCurvePlot, MemoryPlot, LatencyDistributionPlot])
def test_a_dropped_plot_is_freed_at_once_not_by_the_cycle_collector(qtbot, capfd, cls):
    """A plot whose items hold bound methods of the plot (a scatter's ``tip``) is a reference
    cycle. The cyclic collector then empties the Python side of its legend labels before Qt
    destroys them, and pyqtgraph prints "'LabelItem' object has no attribute '_sizeHint'"
    (the intermittent GUI error: it came whenever the collector reached such a plot)."""
    import gc
    import weakref

    plot = cls()
    plot.resize(400, 300)
    plot.show()
    qtbot.waitExposed(plot)
    if isinstance(plot, ParetoPlot):
        plot.set_points(points())
    elif isinstance(plot, LossCurvePlot):
        plot.append("a", 1, 0.5)
        plot.append("b", 1, 0.4)
    elif isinstance(plot, MemoryPlot):
        plot.set_rows({"a": (100.0, 120.0)})
    else:
        plot.set_samples("a", [1.0, 2.0, 3.0] * 5)
    plot.hide()
    alive = weakref.ref(plot)
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        del plot
        assert alive() is None, "the plot is in a reference cycle"
        gc.collect()
    finally:
        if was_enabled:
            gc.enable()
    assert "_sizeHint" not in capfd.readouterr().err


def test_log_axis_labels_1_2_5_or_fewer_so_they_never_collide():
    import math

    axis = LogAxis(orientation="bottom")
    axis.logMode = True
    decade = [math.log10(v) for v in (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 20, 50, 100)]
    axis.logTickValues(0.0, 3.0, 3 * 120, [])  # 120 px per decade
    assert axis.tickStrings(decade, 1.0, 1.0) == ["1", "2", "", "", "5", "", "", "", "", "10", "20",
                                                   "50", "100"]
    axis.logTickValues(0.0, 3.0, 3 * 50, [])  # a narrow plot: decades only
    assert [s for s in axis.tickStrings(decade, 1.0, 1.0) if s] == ["1", "10", "100"]


def test_a_log_axis_narrower_than_its_ticks_still_reads_numbers():
    """Two models at 21 and 28 ms: no 1-2-5 tick of a decade falls inside; the axis had no label."""
    import math

    axis = LogAxis(orientation="bottom")
    axis.logMode = True
    ticks = axis.logTickValues(math.log10(20.5), math.log10(28.5), 800, [])
    values = [v for _, vals in ticks for v in vals]
    labels = axis.tickStrings(values, 1.0, 1.0)
    assert len(labels) >= 2 and all(labels)
    assert all(20.5 <= float(label) <= 28.5 for label in labels)


def test_legends_sit_under_the_axes_never_over_the_data(qtbot):
    from selector.ui.compare_view import CompareView
    from tests.test_export import make_sheet

    from selector.core.export import compare_sheets

    plot = ParetoPlot()
    qtbot.addWidget(plot)
    plot.resize(500, 350)
    plot.show()
    qtbot.waitExposed(plot)
    plot.set_points(points())
    a, b = make_sheet("laptop-cpu-8gb"), make_sheet("laptop-cpu-8gb", scale=0.5)
    b.hardware = dict(b.hardware, name="bigger box")
    compare = CompareView()
    qtbot.addWidget(compare)
    compare.resize(700, 600)
    compare.show()
    qtbot.waitExposed(compare)
    compare.set_comparison(compare_sheets([a, b]))
    for item, entries in ((plot.plotItem, 3), (compare.plot.plotItem, 2)):
        assert len(item.legend.items) == entries
        axis = item.getAxis("bottom")  # legend and axis: both laid out in the PlotItem
        qtbot.waitUntil(lambda item=item, axis=axis: item.legend.geometry().top() > 0
                        and axis.geometry().bottom() > 0, timeout=5000)
        assert item.legend.geometry().top() >= axis.geometry().bottom() - 1
        assert item.legend.geometry().top() > item.vb.geometry().bottom()
