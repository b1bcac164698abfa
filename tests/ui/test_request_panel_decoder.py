"""The Text generation task in the request panel: context length, quantisation and LoRA rank
shown only for it, carried by the Request into the decoder memory workloads."""

from selector.core.catalog.entry import GENERATION, VISION
from selector.core.request import Request
from selector.ui.request_panel import RequestPanel


def test_text_generation_rows_and_request(qtbot, tmp_path):
    panel = RequestPanel()
    qtbot.addWidget(panel)
    panel.show()
    assert not panel.context.isVisible() and not panel.lora_rank.isVisible()
    panel.task.setCurrentIndex(panel.task.findData(GENERATION))
    assert panel.context.isVisible() and panel.quant.isVisible() and panel.lora_rank.isVisible()
    panel.context.setValue(8192)
    panel.quant.setCurrentIndex(panel.quant.findData("nf4"))
    with qtbot.waitSignal(panel.sig_request_changed, timeout=1000) as blocker:
        panel.lora_rank.setValue(16)
    req = blocker.args[0]
    assert (req.task, req.seq_len, req.quant, req.lora_rank) == (GENERATION, 8192, "nf4", 16)
    inference, train = req.inference_workload(), req.train_workload()
    assert (inference.seq_len, inference.quant, inference.lora_rank) == (8192, "nf4", 0)
    assert (train.quant, train.lora_rank) == ("nf4", 16)
    notes = tmp_path / "notes.txt"
    notes.write_text("some text of mine\n\nand more of it\n")
    panel.add_data_source(str(notes))
    assert panel.request().task == GENERATION and panel.request().data == str(notes)
    panel.task.setCurrentIndex(panel.task.findData(VISION))
    assert not panel.context.isVisible()
    assert panel.request().inference_workload().quant is None


def test_set_request_round_trips_the_decoder_settings(qtbot):
    panel = RequestPanel()
    qtbot.addWidget(panel)
    wanted = Request(task=GENERATION, seq_len=2048, quant="int8", lora_rank=0)
    panel.set_request(wanted)
    got = panel.request()
    assert (got.task, got.seq_len, got.quant, got.lora_rank) == (GENERATION, 2048, "int8", 0)
    assert panel.lora_rank.text() == "full fine-tune"
