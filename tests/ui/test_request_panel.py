from selector.core.catalog.entry import TEXT
from selector.core.request import Request
from selector.ui.request_panel import RequestPanel


def test_edits_emit_the_request_the_rest_of_the_app_reads(qtbot, tmp_path):
    panel = RequestPanel()
    qtbot.addWidget(panel)
    panel.set_devices([("cpu", "CPU"), ("cuda:0", "GPU 0: L4")])
    with qtbot.waitSignal(panel.sig_request_changed, timeout=1000) as blocker:
        panel.device.setCurrentIndex(panel.device.findData("cuda:0"))
    assert blocker.args[0].device == "cuda:0"
    panel.latency.check.setChecked(True)
    panel.latency.spin.setValue(15)
    panel.memory_mode.setCurrentIndex(panel.memory_mode.findData("finetune"))
    req = panel.request()
    assert (req.latency_budget_ms, req.memory_mode, req.memory_budget_gib) == (15.0, "finetune", None)
    assert req.checked_workload().mode == "train"
    texts = tmp_path / "reviews.csv"
    texts.write_text("text,label\ngood,pos\nbad,neg\n")
    panel.add_data_source(str(texts))
    assert panel.request().data == str(texts) and panel.request().task == TEXT


def test_set_request_round_trips(qtbot):
    panel = RequestPanel()
    qtbot.addWidget(panel)
    wanted = Request(task=TEXT, batch_size=4, train_batch_size=8, dtype="bf16",
                     latency_budget_ms=12.5, memory_budget_gib=6.0, min_accuracy=80.0)
    panel.set_request(wanted)
    assert panel.request() == wanted


def test_recent_data_is_offered_not_chosen(qtbot, tmp_path):
    panel = RequestPanel()
    qtbot.addWidget(panel)
    flowers, reviews = tmp_path / "flowers", tmp_path / "reviews.csv"
    flowers.mkdir()
    reviews.write_text("text,label\ngood,pos\n")
    panel.offer_recent_data([str(reviews), str(tmp_path / "deleted"), str(flowers)])
    offered = [panel.data.itemData(i) for i in range(panel.data.count())]
    assert offered == ["sample", str(reviews), str(flowers)]  # gone folders are not listed
    assert panel.request().data == "sample" and panel.request().task != TEXT
