import pytest

from selector.core.request import Request
from selector.ui.catalog_view import ACCURACY_COLUMN, COL_INFER, COL_PARAMS, COL_TRAIN, CatalogView
from tests.test_filters import machine, vision


@pytest.fixture
def view(qtbot):
    view = CatalogView()
    qtbot.addWidget(view)
    view.set_entries([
        vision("resnet18.a1_in1k", "resnet", 11_700_000, 71.5, 45, 20, cached=True),
        vision("resnet50.a1_in1k", "resnet", 25_600_000, 80.4, 98, 80),
        vision("vit_base_patch16_224.augreg_in21k_ft_in1k", "vit", 86_600_000, 81.1, 330, 120),
        vision("vit_huge_patch14_224.orig_in21k", "vit", 632_000_000, None, 2400, 900),
    ])
    return view


def cell(view, model_id, col):
    for row in range(view.proxy.rowCount()):
        if view.proxy.index(row, 0).data() == model_id:
            return view.proxy.index(row, col).data()
    raise KeyError(model_id)


def test_typing_narrows_the_table(view):
    assert view.proxy.rowCount() == 4
    view.search.setText("vit")
    assert set(view.visible_ids()) == {"vit_base_patch16_224.augreg_in21k_ft_in1k",
                                       "vit_huge_patch14_224.orig_in21k"}
    view.search.setText("vit base")
    assert view.visible_ids() == ["vit_base_patch16_224.augreg_in21k_ft_in1k"]
    view.search.clear()
    view.family.setCurrentIndex(view.family.findData("resnet"))
    assert len(view.visible_ids()) == 2


def test_fit_badges_follow_free_memory_and_hide_what_does_not_fit(view):
    # 2.5 GiB free RAM: training the huge ViT cannot fit; inference of resnet18 can.
    view.fits_only.setChecked(False)
    view.set_context(Request(batch_size=1, train_batch_size=32, memory_mode="finetune"),
                     machine(ram_free_gib=2.5))
    assert cell(view, "resnet18.a1_in1k", COL_INFER) == "fits"
    assert cell(view, "vit_huge_patch14_224.orig_in21k", COL_TRAIN) == "does not fit"
    view.fits_only.setChecked(True)
    assert "vit_huge_patch14_224.orig_in21k" not in view.visible_ids()
    assert "resnet18.a1_in1k" in view.visible_ids()
    # A roomier machine: everything fits again.
    view.set_context(view.request, machine(ram_free_gib=200))
    assert len(view.visible_ids()) == 4


def test_selection_shows_the_breakdown_that_decided_the_badge(view, qtbot):
    view.set_context(Request(memory_mode="finetune", train_batch_size=8), machine(ram_free_gib=16))
    with qtbot.waitSignal(view.sig_model_selected, timeout=1000) as blocker:
        assert view.select_model("resnet50.a1_in1k")
    assert blocker.args == ["resnet50.a1_in1k"]
    text = view.breakdown.toPlainText()
    assert "optimizer state" in text and "activations" in text and "free on cpu" in text


def test_best_accuracy_comes_first_by_default_and_unknown_last(view):
    assert view.visible_ids()[0] == "vit_base_patch16_224.augreg_in21k_ft_in1k"  # no click needed
    view.table.sortByColumn(0, view.table.horizontalHeader().sortIndicatorOrder().AscendingOrder)
    assert view.visible_ids()[0] == "resnet18.a1_in1k"
    view.table.sortByColumn(ACCURACY_COLUMN, view.table.horizontalHeader().sortIndicatorOrder().DescendingOrder)
    assert view.visible_ids()[0] == "vit_base_patch16_224.augreg_in21k_ft_in1k"
    assert view.visible_ids()[-1] == "vit_huge_patch14_224.orig_in21k"


def test_badges_are_computed_off_the_gui_thread_and_stale_results_are_dropped(view, qtbot):
    from selector.ui.workers import WorkerPool

    pool = WorkerPool()
    view.set_workers(pool)
    view.fits_only.setChecked(False)
    with qtbot.waitSignal(view.sig_rows_ready, timeout=10_000):
        view.set_context(Request(memory_mode="finetune", train_batch_size=64), machine(ram_free_gib=1))
        view.set_context(Request(memory_mode="finetune", train_batch_size=1), machine(ram_free_gib=64))
    qtbot.wait(200)  # the first (stale) computation must not overwrite the second
    assert cell(view, "vit_huge_patch14_224.orig_in21k", COL_TRAIN) == "fits"
    assert pool.shutdown()


def test_sorting_keeps_the_selected_model_selected_and_filters_keep_the_order(view):
    from PySide6.QtCore import Qt

    view.fits_only.setChecked(False)
    assert view.select_model("resnet50.a1_in1k")
    view.table.sortByColumn(COL_PARAMS, Qt.SortOrder.AscendingOrder)  # smallest first
    assert view.visible_ids()[:2] == ["resnet18.a1_in1k", "resnet50.a1_in1k"]
    assert view.current_model() == "resnet50.a1_in1k"
    selected = {view.proxy.index(i.row(), 0).data() for i in view.table.selectionModel().selectedRows()}
    assert selected == {"resnet50.a1_in1k"}
    view.search.setText("vit")  # filtering keeps the sort
    assert view.visible_ids() == ["vit_base_patch16_224.augreg_in21k_ft_in1k",
                                  "vit_huge_patch14_224.orig_in21k"]
    view.table.sortByColumn(COL_PARAMS, Qt.SortOrder.DescendingOrder)
    assert view.visible_ids()[0] == "vit_huge_patch14_224.orig_in21k"


def test_badges_come_right_after_the_name_and_say_what_they_mean(view):
    header = view.table.horizontalHeader()
    model = view.table.model()
    names = [model.headerData(c, header.orientation()) for c in range(model.columnCount())]
    assert names[:3] == ["Model", "Inference", "Fine-tune"]  # seen without scrolling
    for col in (COL_INFER, COL_TRAIN):
        tip = model.headerData(col, header.orientation(), role=3)  # ToolTipRole
        assert "fits: the estimate leaves at least 10% of the free memory" in tip
        assert "tight: it fits, but within that 10% margin" in tip
    assert "tight" in view.legend.text() and "does not fit" in view.legend.text()


def test_the_accuracy_column_names_its_metric(view):
    model = view.table.model()
    horizontal = view.table.horizontalHeader().orientation()
    assert model.headerData(ACCURACY_COLUMN, horizontal) == "ImageNet top-1 %"
    row = next(r for r in range(view.proxy.rowCount())
               if view.proxy.index(r, 0).data() == "resnet18.a1_in1k")
    assert view.proxy.index(row, ACCURACY_COLUMN).data(3) == "published ImageNet top-1 (%)"
    view.set_context(Request(task="text-classification"), None)
    assert model.headerData(ACCURACY_COLUMN, horizontal) == "GLUE %"


def test_the_size_filter_is_a_maximum_and_the_bar_does_not_move(view):
    assert view.max_params.specialValueText() == "any size"
    view.max_params.setValue(30)
    assert view.max_params.text() == "at most 30.0 M params"
    assert set(view.visible_ids()) == {"resnet18.a1_in1k", "resnet50.a1_in1k"}
    widths = (view.count.width(), view.max_params.width())
    view.search.setText("resnet18")
    assert view.count.text() == "1 of 4"
    assert (view.count.width(), view.max_params.width()) == widths
    assert view.count.minimumWidth() == view.count.maximumWidth()  # fixed, whatever the text
