from selector.ui.probe_queue import COL_CANCEL, ProbeQueuePanel


def test_rows_progress_cancel_and_overall(qtbot):
    panel = ProbeQueuePanel()
    qtbot.addWidget(panel)
    panel.add_probe("a", "resnet18", "latency")
    panel.add_probe("b", "vit_small", "latency")
    assert panel.state("a") == "queued" and panel.cancel_all_button.isEnabled()
    panel.set_progress("a", 0.5, 12, "measuring batch 8")
    assert panel.state("a") == "running"
    assert panel.overall.value() == 25
    with qtbot.waitSignal(panel.sig_cancel, timeout=1000) as blocker:
        panel.table.cellWidget(1, COL_CANCEL).click()
    assert blocker.args == ["b"]
    panel.set_done("b", "cancelled", "cancelled by the user")
    panel.set_done("a", "crashed", "the probe process died (SIGSEGV)")
    assert panel.state("a") == "crashed" and "SIGSEGV" in panel.message("a")
    assert panel.overall.value() == 100 and not panel.cancel_all_button.isEnabled()
    assert not panel.table.cellWidget(0, COL_CANCEL).isEnabled()
    assert panel.overall_label.text() == "2 of 2 probes done"


def test_planned_fine_tunes_count_in_the_total_until_they_are_queued(qtbot):
    panel = ProbeQueuePanel()
    qtbot.addWidget(panel)
    panel.add_probe("a", "resnet18", "latency")
    panel.set_planned(2)
    panel.set_done("a", "finished", "measured 1 row(s)")
    # one probe done, two fine-tunes still to come: a third of the way, not finished
    assert panel.overall.value() == 33 and panel.cancel_all_button.isEnabled()
    assert panel.overall_label.text().startswith("1 of 3 probes done (2 fine-tunes to choose)")
    panel.add_probe("f", "resnet18", "finetune")
    panel.set_planned(0)
    assert panel.overall_label.text().startswith("1 of 2 probes done")
