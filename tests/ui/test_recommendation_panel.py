from selector.core.recommend import Candidate, Constraints, Figure, recommend
from selector.ui.recommendation_panel import RecommendationPanel


def cand(name, top1, ms):
    return Candidate(name, task="image-classification", published={"imagenet_top1": top1},
                     latency=[Figure(ms, "measured", "ms", batch=1, dtype="float32", device="cpu")])


def test_panel_shows_the_pick_every_verdict_and_follows_selection(qtbot):
    rec = recommend([cand("big", 82.0, 31.0), cand("mid", 78.0, 14.0), cand("small", 70.0, 6.0)],
                    Constraints(latency_ms=20, batch=1))
    panel = RecommendationPanel()
    qtbot.addWidget(panel)
    panel.set_recommendation(rec)
    assert "mid" in panel.summary.text()
    rows = {panel.proxy.index(r, 1).data(): [panel.proxy.index(r, c).data() for c in range(7)]
            for r in range(panel.proxy.rowCount())}
    assert rows["mid"][0] == "1" and rows["mid"][2] == "recommended"
    assert rows["big"][2] == "rejected"
    assert "exceeds the 20 ms budget" in rows["big"][6]
    assert rows["small"][4] == "6.00 ms (measured)"
    assert panel.proxy.index(0, 1).data() == "mid"  # ranked first
    with qtbot.waitSignal(panel.sig_model_selected, timeout=1000) as blocker:
        panel.select_model("small")
    assert blocker.args == ["small"]
