"""The transfer probe's parts without a child process: the sample, the feature cache, and the
ranking of a session's stored results."""

from __future__ import annotations

import numpy as np
import pytest

from selector.core.data.dataset import DataError, LoadedDataset
from selector.core.results import ProbeResult
from selector.core.transfer import cache, rank_candidates, score_features
from selector.core.transfer.sampling import balanced_sample, class_quotas, select_sample
from selector.core.transfer.session import comparable_rows, rank_session


def test_quotas_share_the_cap_equally_and_small_classes_give_what_they_have():
    assert class_quotas([100, 100, 100], 60) == [20, 20, 20]
    assert class_quotas([5, 100, 100], 60) == [5, 28, 27]  # the rest shared, first class +1
    assert class_quotas([3, 4], 600) == [3, 4]
    assert sum(class_quotas([7, 9, 400, 2], 100)) == 100


def test_balanced_sample_is_deterministic_interleaved_and_seeded():
    labels = [0] * 50 + [1] * 30 + [2] * 200
    first = balanced_sample(labels, 60, seed=0)
    assert first == balanced_sample(labels, 60, seed=0)
    assert first != balanced_sample(labels, 60, seed=1)
    assert len(first) == len(set(first)) == 60
    classes = [labels[i] for i in first]
    assert classes[:6] == [0, 1, 2, 0, 1, 2]  # any prefix is balanced
    assert [classes.count(c) for c in (0, 1, 2)] == [20, 20, 20]


def _data(counts: dict[str, int], source: str = "/data/x") -> LoadedDataset:
    data = LoadedDataset("image", source, list(counts), [], [])
    for label, (name, n) in enumerate(counts.items()):
        for i in range(n):
            data.items.append(f"{source}/{name}/{i}.png")
            data.labels.append(label)
    return data


def test_select_sample_leaves_out_single_sample_classes_and_names_them():
    sample = select_sample(_data({"cat": 40, "dog": 1, "eel": 30}), cap=20, seed=0)
    assert sample.dropped_classes == {"dog": 1}
    assert sample.per_class == {"cat": 10, "eel": 10}
    assert sample.ids[0] == sample.ids[0].lstrip("/") and sample.ids[0].startswith(("cat/", "eel/"))
    assert set(sample.labels) == {"cat", "eel"} and sample.available == 70


def test_select_sample_with_one_usable_class_is_a_clear_error():
    with pytest.raises(DataError, match="at least two classes with at least 2 samples each; "
                                        "found 'cat' \\(40\\), 'dog' \\(1\\)"):
        select_sample(_data({"cat": 40, "dog": 1}), cap=20)


def test_feature_cache_round_trip_checks_the_samples_and_survives_corruption():
    rng = np.random.default_rng(0)
    feats = rng.normal(size=(12, 5)).astype(np.float32)
    ids = [f"#{i}" for i in range(12)]
    key = cache.feature_key({"id": "m"}, {"ids": ids})
    assert key != cache.feature_key({"id": "m2"}, {"ids": ids})
    assert cache.load_features(key) is None
    cache.save_features(key, feats, ["a", "b"] * 6, ids, {"weights": "random"})
    hit = cache.load_features(key, ids)
    assert np.array_equal(hit.features, feats) and hit.labels == ["a", "b"] * 6
    assert hit.meta["weights"] == "random" and hit.meta["saved_at"]
    assert cache.load_features(key, ids[::-1]) is None  # other samples: a miss
    cache.cache_path(key).write_bytes(b"not an npz")
    assert cache.load_features(key, ids) is None


def test_cache_prune_removes_the_least_recently_used_first(tmp_path):
    import os

    keys = [f"k{i}" for i in range(3)]
    for i, key in enumerate(keys):
        cache.save_features(key, np.zeros((200, 100), np.float32), ["a"] * 200,
                            [str(j) for j in range(200)], {}, max_mib=1e9)
        os.utime(cache.cache_path(key), (1000 + i, 1000 + i))
    size = cache.cache_path("k0").stat().st_size / 2**20
    removed = cache.prune(max_mib=size * 2.5)
    assert [p.stem for p in removed] == ["k0"]
    assert cache.cache_path("k2").is_file()


def test_item_fingerprints_follow_content(tmp_path):
    from PIL import Image

    a, b = Image.new("RGB", (4, 4), (1, 2, 3)), Image.new("RGB", (4, 4), (1, 2, 4))
    assert cache.item_fingerprint(a, "image") != cache.item_fingerprint(b, "image")
    path = tmp_path / "x.png"
    a.save(path)
    before = cache.item_fingerprint(str(path), "image")
    b.save(path)
    os_stat = path.stat()
    import os

    os.utime(path, ns=(os_stat.st_atime_ns, os_stat.st_mtime_ns + 10**9))
    assert cache.item_fingerprint(str(path), "image") != before
    assert cache.item_fingerprint("hello", "text") != cache.item_fingerprint("hullo", "text")


# ----------------------------------------------------------------------------- the session

def _result(model: str, feats: np.ndarray, labels: np.ndarray, weights: str, ended: str,
            top1: float | None = None) -> ProbeResult:
    row = score_features(feats, labels, n_boot=10).to_dict()
    row["weights"] = weights
    entry = {"published": {"imagenet_top1": top1} if top1 is not None else {}}
    return ProbeResult(f"tr-{model}-{ended}", "transfer", model, "cpu", "finished",
                       weights=weights, rows=[row], ended_at=ended, spec={"entry": entry})


def test_rank_session_keeps_random_weights_and_other_samples_apart():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(3), 20)
    good = np.eye(3)[labels] * 3 + rng.normal(0, 0.6, (60, 3))
    fair = np.eye(3)[labels] * 1 + rng.normal(0, 0.6, (60, 3))
    noise = rng.normal(0, 1, (60, 3))
    results = [
        _result("good", good, labels, "pretrained", "2026-01-01T00:00:01", top1=70.0),
        _result("fair", fair, labels, "pretrained", "2026-01-01T00:00:02", top1=80.0),
        _result("arch", good, labels, "random", "2026-01-01T00:00:03"),
        _result("other", good[:40], labels[:40], "pretrained", "2026-01-01T00:00:04"),
    ]
    session = rank_session(results)
    assert [c.model for c in session.ranking.candidates] == ["good", "fair"]
    assert [c.model for c in session.random_ranking.candidates] == ["arch"]
    assert "other samples" in session.excluded["other"] and "arch" not in session.excluded
    assert session.prior.prior_top == "fair" and session.prior.agrees_on_top is False
    assert "although fair has the higher ImageNet top-1 (80.0% vs 70.0%)" in session.prior.message
    assert set(comparable_rows(results)) == {"good", "fair"}
    # the stored dicts rank with the transfer module directly, too
    direct = rank_candidates({m: session.rows[m] for m in ("good", "fair")})
    assert direct.top == "good"
    assert rank_session([]).empty


def test_model_fingerprint_follows_the_weights_file(tmp_path):
    import os

    from selector.core.models import resolve_model
    from tests.catalog_helpers import save_timm_folder

    save_timm_folder(tmp_path / "mine", "test_resnet", num_classes=3)
    entry = resolve_model(str(tmp_path / "mine"))
    settings = {"seed": 0, "precision": "fp32"}
    before = cache.model_fingerprint(entry, "auto", settings)
    assert before["weights"].startswith("local:") and before["precision"] == "fp32"
    assert cache.model_fingerprint(entry, "random", settings)["weights"] == "random"
    weights = tmp_path / "mine" / "model.safetensors"
    st = weights.stat()
    os.utime(weights, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # retrained in place
    after = cache.model_fingerprint(entry, "auto", settings)
    assert after["weights"] != before["weights"]
    assert cache.feature_key(after, {}) != cache.feature_key(before, {})
    hub = resolve_model("test_vit")  # its Hub weights are not on this machine
    assert cache.model_fingerprint(hub, "auto", settings)["weights"] == "absent"
