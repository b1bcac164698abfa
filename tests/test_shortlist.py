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
