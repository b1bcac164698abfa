"""Re-tracing one entry on demand: only when its profile is old, cached per entry and library set,
merged into the entry, and the tracing process ends with its owner."""

from __future__ import annotations

import json

import psutil
import pytest

from selector.core.catalog import retrace
from selector.core.catalog.catalog import load_catalog
from selector.core.estimate.trace import PROFILE_VERSION

OLD = "resnet18.a1_in1k"
"""A shipped entry whose profile predates the tracer (version 1); re-traced in a few seconds."""


@pytest.fixture
def catalog():
    return load_catalog(include_local=False, check_cache=False)


def _old_entry(catalog, model_id=OLD):
    entry = catalog.get(model_id)
    if not retrace.needs_retrace(entry):  # a shipped snapshot re-built with this tracer
        entry.activation = {**entry.activation, "version": PROFILE_VERSION - 1}
    return entry


def test_which_entries_need_a_retrace(catalog):
    entry = catalog.get(OLD)
    assert retrace.needs_retrace(_old_entry(catalog))
    current = retrace.CatalogEntry.from_dict({**entry.to_dict(), "activation": {"version": PROFILE_VERSION}})
    assert not retrace.needs_retrace(current)
    failed = retrace.CatalogEntry.from_dict({**current.to_dict(), "notes": "meta-device measurement failed: x"})
    assert retrace.needs_retrace(failed)
    local = retrace.CatalogEntry.from_dict({**entry.to_dict(), "source": "local", "activation": None})
    assert not retrace.needs_retrace(local)  # measured when it was added; no architecture to rebuild


@pytest.mark.slow
def test_retrace_here_updates_the_entry_and_caches_it(catalog, monkeypatch):
    entry = _old_entry(catalog)
    assert retrace.retrace_here(entry)
    assert entry.activation["version"] == PROFILE_VERSION and "peak_cpu" in entry.activation["inference"]
    assert entry.params == 11_689_512
    assert not retrace.needs_retrace(entry) and not retrace.retrace_here(entry)
    cached = retrace.cache_path(entry)
    assert json.loads(cached.read_text())["key"]["id"] == OLD

    from selector.core.catalog import buildpool

    def no_trace(task):
        raise AssertionError("traced again despite the cache")

    monkeypatch.setattr(buildpool, "measure_task", no_trace)
    again = _old_entry(load_catalog(include_local=False, check_cache=False))
    assert retrace.retrace_here(again) and again.activation == entry.activation

    other = dict(retrace.cache_key(again), torch="0.0")  # another torch is another key
    assert retrace.cache_path(again, other) != retrace.cache_path(again)


def test_a_failed_retrace_leaves_the_entry_as_it_was_and_is_not_retried(catalog, monkeypatch):
    from selector.core.catalog import buildpool

    entry = _old_entry(catalog)
    before = entry.to_dict()
    calls = []
    monkeypatch.setattr(buildpool, "measure_task", lambda task: calls.append(task) or {"error": "build: boom"})
    assert not retrace.retrace_here(entry)
    assert not retrace.retrace_here(entry)
    assert entry.to_dict() == before and len(calls) == 1


@pytest.mark.slow
def test_retracer_traces_in_a_worker_and_close_ends_it(catalog):
    entry = _old_entry(catalog)
    tracer = retrace.Retracer(timeout=300)
    try:
        result = tracer.measure(entry)
        worker = psutil.Process(tracer._worker.process.pid)
        assert result and result["activation"]["version"] == PROFILE_VERSION
        assert entry.activation["version"] < PROFILE_VERSION  # measure() leaves the entry alone
        assert retrace.apply_result(entry, result) and not retrace.needs_retrace(entry)
        assert tracer.measure(entry) is None  # nothing left to do
    finally:
        tracer.close()
    assert not worker.is_running() or worker.status() == psutil.STATUS_ZOMBIE
    assert tracer.measure(_old_entry(load_catalog(include_local=False, check_cache=False), "resnet34.a1_in1k")) is None


def test_catalog_show_retraces_an_old_entry(capsys, monkeypatch):
    from selector.cli import main
    from selector.core.catalog import buildpool

    seen = []

    def fake(task):
        seen.append(task.name)
        return {"params": 11_689_512, "macs": 1.8e9, "activation": {"version": PROFILE_VERSION, "inference": {}}}

    monkeypatch.setattr(buildpool, "measure_task", fake)
    if not retrace.needs_retrace(load_catalog(include_local=False, check_cache=False).get(OLD)):
        pytest.skip("the shipped snapshot has current profiles")
    assert main(["catalog", "show", OLD, "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert seen == [OLD] and shown["activation"]["version"] == PROFILE_VERSION


def test_a_probed_old_entry_is_retraced_before_its_preflight(monkeypatch):
    from selector.core.catalog import buildpool
    from selector.core.probes import ProbeSpec
    from selector.core.probes.bench import _entry

    entry = _old_entry(load_catalog(include_local=False, check_cache=False))
    fresh = {"version": PROFILE_VERSION, "inference": {}}
    monkeypatch.setattr(buildpool, "measure_task", lambda task: {"params": 1, "macs": 2.0, "activation": fresh})
    spec = ProbeSpec(kind="latency", model=OLD, entry=entry.to_dict())
    assert _entry(spec).activation == fresh
    assert spec.entry["activation"] == fresh  # what the probe child gets
