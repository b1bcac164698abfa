"""The one-click shortlist: only what fits, varied, best prior first, each with its reason."""

from selector.core.request import Request
from selector.core.shortlist import shortlist
from tests.test_filters import machine, vision


def zoo():
    return [
        vision("resnet18.a1_in1k", "resnet", 11_700_000, 71.5, 45, 20, macs=1.8e9),
        vision("resnet34.a1_in1k", "resnet", 21_800_000, 75.1, 83, 30, macs=3.7e9),
        vision("resnet50.a1_in1k", "resnet", 25_600_000, 80.4, 98, 80, macs=4.1e9),
        vision("vit_base_patch16_224.augreg_in21k_ft_in1k", "vit", 86_600_000, 81.1, 330, 120, macs=17.6e9),
        vision("vit_huge_patch14_224.orig_in21k_ft_in1k", "vit", 632_000_000, 88.0, 2400, 900, macs=167e9),
        vision("mobilenetv3_small_100.lamb_in1k", "mobilenetv3", 2_500_000, 67.7, 10, 10, macs=0.06e9),
        vision("test_vit.r160_in1k", "test", 300_000, 10.0, 1, 1, macs=0.01e9),
    ]


def ids(items):
    return [i.entry.id for i in items]


def test_only_what_fits_best_prior_first_family_cap_and_a_fast_end():
    # 6 GiB free: fine-tuning the huge ViT at batch 16 (about 26 GiB) cannot fit.
    req = Request(memory_mode="finetune", train_batch_size=16)
    picked = shortlist(zoo(), req, machine(ram_free_gib=6), n=4)
    got = ids(picked)
    assert "vit_huge_patch14_224.orig_in21k_ft_in1k" not in got
    assert "test_vit.r160_in1k" not in got  # test architectures never shortlisted
    assert got[0] == "vit_base_patch16_224.augreg_in21k_ft_in1k"  # best published accuracy that fits
    assert sum(1 for i in got if i.startswith("resnet")) <= 2
    assert "mobilenetv3_small_100.lamb_in1k" in got  # the fastest that fits is always there
    assert len(got) == 4
    fast = next(i for i in picked if i.entry.id.startswith("mobilenet"))
    assert "fastest" in fast.reason and "fine-tuning needs" in fast.reason


def test_memory_budget_is_respected_and_local_weights_come_first():
    models = zoo()
    models[0].weights_cached = True  # resnet18 is on disk
    picked = shortlist(models, Request(memory_budget_gib=1.0), machine(ram_free_gib=64), n=3)
    assert ids(picked)[0] == "resnet18.a1_in1k"
    assert all(i.needed_mib <= 1024 for i in picked)
    assert "vit_base_patch16_224.augreg_in21k_ft_in1k" not in ids(picked)


def test_wrong_task_gives_nothing():
    assert shortlist(zoo(), Request(task="text-classification"), machine(ram_free_gib=64)) == []


def test_on_a_cpu_models_far_slower_than_the_fastest_are_left_out_with_their_reason():
    from selector.core.shortlist import SLOW_FACTOR, SLOW_FLOOR_MS, plan_shortlist
    from tests.test_estimate_latency import CAL

    plan = plan_shortlist(zoo(), Request(), machine(ram_free_gib=64), n=4, calibration=CAL)
    fastest = min(plan.chosen, key=lambda i: i.estimated_ms)
    huge = "vit_huge_patch14_224.orig_in21k_ft_in1k"  # the best prior: 2,800x the MACs of mobilenet
    assert huge not in ids(plan.chosen)
    assert all(i.estimated_ms <= max(SLOW_FACTOR * fastest.estimated_ms, SLOW_FLOOR_MS)
               for i in plan.chosen)
    assert "resnet50.a1_in1k" in ids(plan.chosen), "38x a 2 ms MobileNet, but 83 ms is cheap to probe"
    [out] = plan.left_out
    assert out.entry.id == huge and out.estimated_ms > SLOW_FACTOR * fastest.estimated_ms
    assert out.reason.startswith("left out: ~") and "x the fastest (mobilenetv3_small_100" in out.reason
    assert out.reason.endswith("; tick to measure it anyway")
    assert ids(shortlist(zoo(), Request(), machine(ram_free_gib=64), n=4, calibration=CAL)) == ids(plan.chosen)


def test_the_user_asking_keeps_slow_models_a_latency_budget_or_a_gpu():
    from selector.core.shortlist import plan_shortlist
    from tests.test_estimate_latency import CAL

    huge = "vit_huge_patch14_224.orig_in21k_ft_in1k"
    generous = plan_shortlist(zoo(), Request(latency_budget_ms=1e6), machine(ram_free_gib=64), n=4,
                              calibration=CAL)
    assert huge in ids(generous.chosen) and generous.left_out == []
    gpu = plan_shortlist(zoo(), Request(device="cuda:0"), machine(ram_free_gib=64, gpu_free_gib=20),
                         n=4, calibration=CAL)
    assert huge in ids(gpu.chosen) and gpu.left_out == []
    unknown = plan_shortlist(zoo(), Request(), machine(ram_free_gib=64), n=4)  # no calibration
    assert huge in ids(unknown.chosen), "no estimate: nothing is called slow"


def test_the_dialog_lists_left_out_models_unticked_with_their_reason(qtbot):
    from PySide6.QtCore import Qt

    from selector.core.shortlist import plan_shortlist
    from selector.ui.shortlist_dialog import ShortlistDialog
    from tests.test_estimate_latency import CAL

    plan = plan_shortlist(zoo(), Request(), machine(ram_free_gib=64), n=4, calibration=CAL)
    dialog = ShortlistDialog(plan.chosen, [], 2, left_out=plan.left_out)
    qtbot.addWidget(dialog)
    rows = [dialog.list.item(r) for r in range(dialog.list.count())]
    slow = next(r for r in rows if r.data(Qt.ItemDataRole.UserRole).startswith("vit_huge"))
    assert slow.checkState() == Qt.CheckState.Unchecked and "left out: ~" in slow.text()
    assert "vit_huge_patch14_224.orig_in21k_ft_in1k" not in [e.id for e in dialog.chosen()]
    slow.setCheckState(Qt.CheckState.Checked)  # the user asks for it
    assert "vit_huge_patch14_224.orig_in21k_ft_in1k" in [e.id for e in dialog.chosen()]


def test_on_a_very_slow_cpu_the_absolute_cap_still_leaves_out_what_takes_over_ten_seconds():
    import dataclasses

    from selector.core.shortlist import SLOW_CAP_MS, plan_shortlist
    from tests.test_estimate_latency import CAL

    slow = dataclasses.replace(CAL, macs_per_s={k: v / 300 for k, v in CAL.macs_per_s.items()},
                               bytes_per_s=CAL.bytes_per_s / 300, op_overhead_s=CAL.op_overhead_s * 300)
    plan = plan_shortlist(zoo(), Request(), machine(ram_free_gib=64), n=6, per_family=3, calibration=slow)
    assert all(i.estimated_ms <= SLOW_CAP_MS for i in plan.chosen) and plan.chosen
    capped = next(i for i in plan.left_out if i.entry.id == "resnet18.a1_in1k")
    assert capped.estimated_ms > SLOW_CAP_MS and "over the 10.00 s cap" in capped.reason
