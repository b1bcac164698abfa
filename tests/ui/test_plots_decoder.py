"""The text-generation plots: tokens/s against peak memory, time to first token against prompt length."""

from selector.core.recommend import Candidate
from selector.core.recommend.decoders import add_generation_row, generation_points
from selector.core.results.record import GenerationRow
from selector.ui.plots_panel import PlotsPanel


def decoder(model: str, scale: float) -> Candidate:
    cand = Candidate(model, task="text-generation")
    for prompt in (128, 512):
        add_generation_row(cand, GenerationRow(
            model_id=model, device="cpu", dtype="fp32", batch_size=1 if prompt == 128 else 2, prompt_len=prompt,
            gen_len=32, repeats=3, ttft_p50_ms=prompt * scale, decode_ms_per_token_p50=10 * scale,
            decode_tokens_per_s=100 / scale, peak_rss_mib=500 * scale + prompt))
    return cand


def test_points_and_plots(qtbot):
    points = generation_points([decoder("small", 1.0), decoder("big", 3.0), Candidate("resnet")])
    assert sorted(points) == ["big", "small"]
    assert [(p["prompt_len"], p["ttft_ms"]) for p in points["big"]] == [(128, 384.0), (512, 1536.0)]
    assert points["small"][1]["memory_mib"] == 1012.0 and points["small"][0]["tokens_per_s"] == 100.0
    panel = PlotsPanel()
    qtbot.addWidget(panel)
    panel.generation.set_points(points)
    speed = panel.generation.speed.getPlotItem().listDataItems()
    ttft = panel.generation.ttft.getPlotItem().listDataItems()
    assert len(speed) == 2 and len(ttft) == 2
    xs, ys = ttft[0].getData()
    assert list(xs) == [128, 512]
    panel.generation.set_points({})
    assert panel.generation.ttft.getPlotItem().listDataItems() == []
