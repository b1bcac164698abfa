"""Kill -9 of the app mid-run, restart, Resume: only the unfinished probes run.

The "app" is a Python process running the one-click funnel through the application session,
as the GUI does; it is killed with SIGKILL after its first probe ends. The resume runs in
this process, like the next start of the app.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import psutil
import pytest

QUICK = {"latency": {"warmup_iters": 1, "warmup_s": 0.0, "min_iters": 3, "min_time_s": 0.1},
         "transfer": {"max_items": 60}}

APP = textwrap.dedent("""
    import json, sys
    from selector.core.catalog.catalog import Catalog
    from selector.core.funnel import FunnelBudgets
    from selector.core.hardware import detect_hardware
    from selector.core.models import resolve_model
    from selector.core.request import Request
    from selector.core.session import AppSession

    entries = [resolve_model("test_resnet"), resolve_model("test_vit")]
    app = AppSession(request=Request(batch_size=2, train_batch_size=4))
    app.set_catalog(Catalog({e.id: e for e in entries}))
    app.set_live_profile(detect_hardware(include_torch=False))
    funnel = app.run(entries, top_k=1, probe_params=json.loads(sys.argv[1]),
                     budgets=FunnelBudgets(latency_s=2, transfer_s=5, finetune_s=3))
    print("SESSION", funnel.session_id, flush=True)
    for event in funnel.events():
        if event.type == "end":
            print("END", event.result.model_id, event.result.kind, event.result.status, flush=True)
""")


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_kill_9_mid_run_then_resume_runs_only_the_unfinished_probes(isolated_home):
    import json

    from selector.core.catalog.catalog import Catalog
    from selector.core.hardware import detect_hardware
    from selector.core.models import resolve_model
    from selector.core.results import ResultStore
    from selector.core.session import AppSession

    app_proc = subprocess.Popen([sys.executable, "-c", APP, json.dumps(QUICK)], stdout=subprocess.PIPE,
                                text=True, env=dict(os.environ, SELECTOR_HOME=str(isolated_home)))
    children: list[psutil.Process] = []
    try:
        session_id = app_proc.stdout.readline().split()[1]
        first_end = app_proc.stdout.readline().split()
        assert first_end[0] == "END" and first_end[3] == "finished", first_end
        children = psutil.Process(app_proc.pid).children(recursive=True)
        app_proc.send_signal(signal.SIGKILL)  # mid-run: the next probe is starting or running
    finally:
        app_proc.kill()
        app_proc.wait(30)
        app_proc.stdout.close()
    psutil.wait_procs(children, timeout=30)  # a probe child ends itself when its parent is gone
    assert not [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]

    store = ResultStore()
    before = store.session_results(session_id)
    assert store.get_session(session_id).status == "open"
    done = {(r.model_id, r.kind) for r in before}
    assert (first_end[1], first_end[2]) in done

    entries = [resolve_model("test_resnet"), resolve_model("test_vit")]
    app = AppSession()
    app.set_catalog(Catalog({e.id: e for e in entries}))
    app.set_live_profile(detect_hardware(include_torch=False))
    offered = app.resumable()
    assert offered is not None and offered.id == session_id
    funnel = app.resume(session_id, probe_params=QUICK)
    planned = {(s.model, s.kind) for s in funnel.specs}
    assert planned and not planned & done  # nothing that ended runs again
    ran = [(e.result.model_id, e.result.kind) for e in funnel.events() if e.type == "end"]
    assert not app.run_ended().cancelled
    assert not set(ran) & done and set(ran) >= planned
    after = store.session_results(session_id)
    pairs = [(r.model_id, r.kind) for r in after]
    assert len(pairs) == len(set(pairs))  # one figure per model and probe, never two
    assert {k for _, k in pairs} == {"latency", "transfer", "finetune"}
    assert store.get_session(session_id).status == "closed"
