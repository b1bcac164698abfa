"""Catalog filters and sorting: each criterion keeps what it should, fits use free memory."""

from __future__ import annotations

import pytest

from selector.core.catalog.entry import TEXT, VISION, CatalogEntry
from selector.core.catalog.filters import CatalogFilter, apply, parse_count
from selector.core.estimate.memory import Workload
from selector.core.hardware import CpuInfo, GpuInfo, HardwareProfile, MemoryInfo

MIB = 2**20


def profile_for(weight_mib: float, act_mib_per_sample: float) -> dict:
    return {
        "version": 2, "kind": "image", "traced": {"batch": 11, "image_size": 224},
        "param_bytes": weight_mib * MIB, "trainable_param_bytes": weight_mib * MIB, "buffer_bytes": 0,
        "largest_param_bytes": weight_mib * MIB / 10, "param_tensors": 50, "input_bytes_per_sample": 0,
        "inference": {"peak": [[0, 0, 0, act_mib_per_sample * MIB / 8, 0]], "ops": 100},
        "train": {"peak": [[0, 0, 0, act_mib_per_sample * MIB, 0]], "ops": 300},
        "attention": {"calls": 0, "dropout": False},
    }


def vision(id_, family, params, top1, weight_mib, act_mib, cached=False, macs=1e9):
    return CatalogEntry(
        id_, "timm", VISION, family, id_.split(".")[0], params=params, macs=macs,
        input_size=(3, 224, 224), published={"imagenet_top1": top1} if top1 else {},
        activation=profile_for(weight_mib, act_mib), weights_cached=cached, pretrain_data="in1k",
    )


@pytest.fixture
def entries():
    return [
        vision("resnet18.a1_in1k", "resnet", 11_700_000, 71.5, 45, 20, cached=True, macs=1.8e9),
        vision("resnet50.a1_in1k", "resnet", 25_600_000, 80.4, 98, 80, macs=4.1e9),
        vision("vit_base_patch16_224.augreg_in21k_ft_in1k", "vit", 86_600_000, 81.1, 330, 120, macs=17.6e9),
        vision("vit_huge_patch14_224.orig_in21k", "vit", 632_000_000, None, 2400, 900, macs=167e9),
        vision("mobilenetv3_small_100.lamb_in1k", "mobilenetv3", 2_500_000, 67.7, 10, 10, cached=True, macs=0.06e9),
        CatalogEntry("bert-base-uncased", "transformers", TEXT, "bert", "bert", params=109_500_000,
                     published={"glue": 79.6}, input_size=(128,)),
    ]


def machine(ram_free_gib: float, gpu_free_gib: float | None = None) -> HardwareProfile:
    gpus = []
    if gpu_free_gib is not None:
        gpus = [GpuInfo(0, "NVIDIA L4", memory_total_mib=23034, memory_free_mib=gpu_free_gib * 1024)]
    return HardwareProfile("test box", cpu=CpuInfo(), memory=MemoryInfo(32768, ram_free_gib * 1024), gpus=gpus)


def ids(rows):
    return [e.id for e, _ in rows]


def test_task_family_and_search(entries):
    assert ids(apply(entries, CatalogFilter(task=TEXT))) == ["bert-base-uncased"]
    assert set(ids(apply(entries, CatalogFilter(families=["ViT"])))) == {
        "vit_base_patch16_224.augreg_in21k_ft_in1k", "vit_huge_patch14_224.orig_in21k"}
    assert ids(apply(entries, CatalogFilter(search="vit in21k ft"))) == ["vit_base_patch16_224.augreg_in21k_ft_in1k"]
    assert apply(entries, CatalogFilter(search="no such model")) == []


def test_params_accuracy_and_cached(entries):
    small = apply(entries, CatalogFilter(task=VISION, params_min=parse_count("5M"), params_max=parse_count("30M")))
    assert set(ids(small)) == {"resnet18.a1_in1k", "resnet50.a1_in1k"}
    good = apply(entries, CatalogFilter(min_accuracy=80.0))
    assert ids(good) == ["vit_base_patch16_224.augreg_in21k_ft_in1k", "resnet50.a1_in1k"]
    cached = apply(entries, CatalogFilter(cached_only=True))
    assert set(ids(cached)) == {"resnet18.a1_in1k", "mobilenetv3_small_100.lamb_in1k"}


def test_sort_orders(entries):
    vision_only = [e for e in entries if e.is_vision]
    by_top1 = ids(apply(vision_only, CatalogFilter(sort="top1")))
    assert by_top1[0] == "vit_base_patch16_224.augreg_in21k_ft_in1k"
    assert by_top1[-1] == "vit_huge_patch14_224.orig_in21k"  # no published figure: last
    by_params = ids(apply(vision_only, CatalogFilter(sort="params")))
    assert by_params[0] == "mobilenetv3_small_100.lamb_in1k" and by_params[-1].startswith("vit_huge")
    by_macs_desc = ids(apply(vision_only, CatalogFilter(sort="macs", descending=True)))
    assert by_macs_desc[0].startswith("vit_huge")
    limited = apply(vision_only, CatalogFilter(sort="params", limit=2))
    assert len(limited) == 2


def test_fit_filter_uses_free_memory_of_the_named_device(entries):
    wl = Workload(mode="train", batch_size=32)
    vision_only = [e for e in entries if e.is_vision]
    roomy = apply(vision_only, CatalogFilter(fits_on="cuda:0", workload=wl), machine(8, gpu_free_gib=20))
    cramped = apply(vision_only, CatalogFilter(fits_on="cuda:0", workload=wl), machine(8, gpu_free_gib=4))
    assert "vit_huge_patch14_224.orig_in21k" not in ids(roomy)  # ~40 GiB of activations
    assert set(ids(cramped)) < set(ids(roomy))
    for entry, result in roomy:
        assert result.device_id == "cuda:0" and result.status in ("fits", "tight")
        assert result.needed_mib <= result.free_mib
    strict = apply(vision_only, CatalogFilter(fits_on="cuda:0", workload=wl, include_tight=False),
                   machine(8, gpu_free_gib=20))
    assert all(r.status == "fits" for _, r in strict)


def test_sort_by_memory_and_unknown_device(entries):
    vision_only = [e for e in entries if e.is_vision]
    rows = apply(vision_only, CatalogFilter(sort="memory", workload=Workload(mode="train", batch_size=8)),
                 machine(64))
    needed = [r.needed_mib for _, r in rows]
    assert needed == sorted(needed)
    with pytest.raises(ValueError, match="cuda:3"):
        apply(vision_only, CatalogFilter(fits_on="cuda:3"), machine(64, gpu_free_gib=10))
    with pytest.raises(ValueError, match="profile"):
        apply(vision_only, CatalogFilter(fits_on="cpu"), None)


def test_bad_filters_and_counts_are_refused():
    with pytest.raises(ValueError, match="sort"):
        CatalogFilter(sort="speed")
    with pytest.raises(ValueError, match="minimum"):
        CatalogFilter(params_min=10, params_max=5)
    assert parse_count("1.5G") == 1.5e9 and parse_count("300k") == 3e5 and parse_count("12") == 12
    with pytest.raises(ValueError, match="not a count"):
        parse_count("lots")


def test_filter_round_trips_through_json():
    flt = CatalogFilter(task=VISION, families=["resnet"], fits_on="cpu",
                        workload=Workload(mode="train", batch_size=32), sort="memory")
    assert CatalogFilter.from_dict(flt.to_dict()) == flt


def test_a_margin_outside_zero_to_one_is_refused_before_any_estimate():
    with pytest.raises(ValueError, match="safety margin must be at least 0 and below 1, not 1.5"):
        CatalogFilter(margin=1.5)
