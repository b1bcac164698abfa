"""Candidates from what the app knows: a probe session in the results store, or catalog entries.

``load_session(session_id)`` reads one session (default: the newest) and turns every model it
probed into a :class:`Candidate`: measured latency rows (p50/p90/p99 per batch and dtype,
with threads and device), measured peak memory, the fine-tune's held-out accuracy before and
after and its loss curve, transferability scores, and how each probe ended. The catalog entry
the probe ran with supplies published accuracy, parameters and MACs, and the estimator adds
memory estimates for the asked batch, so every figure sits beside its estimate.

Accuracies in the store are fractions; candidates carry percent. Memory on CPU is the probe
process's peak RSS (it includes the interpreter and torch, like the estimate's overhead); on
CUDA, the memory NVML attributes to the process (CUDA context included), else the caching
allocator's peak reserved plus the estimator's context size.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from selector.core.errors import SelectorError
from selector.core.recommend.candidate import ESTIMATED, MEASURED, Candidate, Figure, TransferScore
from selector.core.recommend.decoders import add_generation_row, add_perplexity
from selector.core.recommend.result import Constraints

_STATUS = {"out_of_memory": "oom", "failed": "error", "crashed": "crashed", "timed_out": "timeout",
           "cancelled": "cancelled", "refused": "refused", "finished": "ok"}
_DTYPE_WORDS = {"fp32": "fp32", "bf16": "bf16", "fp16": "fp16", "int8-dynamic": "int8-dynamic"}


@dataclass
class SessionInput:
    """A session turned into recommendation input, with what a sheet needs around it."""

    session_id: str | None
    candidates: list[Candidate]
    hardware: dict[str, Any] | None = None
    data: dict[str, Any] = field(default_factory=dict)
    """``DataSummary`` fields: name, path, source, num_classes, classes, train/eval samples."""
    software: dict[str, str] = field(default_factory=dict)
    name: str = ""
    notes: list[str] = field(default_factory=list)
    results: list[dict[str, Any]] = field(default_factory=list)
    """The session's probe results (``ProbeResult.to_dict()`` without events and stderr)."""


def candidates_from_store(
    session_id: str | None = None, profile: Any = None, constraints: Constraints | None = None,
    *, store: Any = None, catalog: Any = None,
) -> list[Candidate]:
    """The candidates of one probe session (the newest when ``session_id`` is None)."""
    return load_session(session_id, profile, constraints, store=store, catalog=catalog).candidates


def load_session(
    session_id: str | None = None, profile: Any = None, constraints: Constraints | None = None,
    *, store: Any = None, catalog: Any = None,
) -> SessionInput:
    from selector.core.results import ResultStore

    store = store or ResultStore()
    if session_id is None:
        sessions = store.list_sessions(limit=1)
        if not sessions:
            raise SelectorError(
                "no probe sessions yet: run `selector bench MODEL ...` first, "
                "or name catalog models with --models")
        session = sessions[0]
    else:
        session = store.get_session(session_id)
    results = store.session_results(session.id)
    if not results:
        raise SelectorError(f"session {session.id} has no probe results")
    constraints = constraints or Constraints()
    by_model: dict[str, list[Any]] = {}
    for result in results:
        by_model.setdefault(result.model_id, []).append(result)
    hardware = session.hardware or next((r.hardware for r in results if r.hardware), None)
    if profile is not None:
        hardware = profile if isinstance(profile, dict) else profile.to_dict()
    out = SessionInput(session.id, [], hardware, name=session.name)
    calibration = _calibration(constraints.device)
    for model_id, model_results in by_model.items():
        entry = _entry_for(model_id, model_results, catalog)
        cand = (candidate_from_entry(entry, constraints, hardware=hardware,
                                     calibration=calibration) if entry else Candidate(model_id))
        _add_results(cand, model_results, out)
        if entry is not None:
            _add_finetune_estimate(cand, entry, constraints)
        out.candidates.append(cand)
    _add_transfer(out.candidates, results)
    add_perplexity(out.candidates, results)
    out.software = next((dict(r.software) for r in reversed(results) if r.software), {})
    out.results = [_lean(r) for r in results]
    return out


def candidates_from_catalog(
    model_ids: list[str], constraints: Constraints | None = None, *, catalog: Any = None,
    hardware: dict[str, Any] | None = None, calibrate: bool = False,
) -> list[Candidate]:
    """Unprobed catalog models as candidates: published figures and estimates only.

    ``model_ids`` are what ``selector bench`` accepts: catalog ids, Hub ids, timm
    architectures (measured on the fly) or local model folders.

    CPU latency estimates need this machine's calibration: the cached one, or a fresh one
    (a few seconds of torch) when ``calibrate``; GPU estimates need the card's name from
    ``hardware``.
    """
    from selector.core.catalog.catalog import load_catalog
    from selector.core.models import resolve_model

    catalog = catalog or load_catalog(check_cache=False)
    constraints = constraints or Constraints()
    entries = [resolve_model(spec, catalog) for spec in model_ids]  # bad ids fail first
    calibration = _calibration(constraints.device, run=calibrate)
    out = []
    for entry in entries:
        cand = candidate_from_entry(entry, constraints, hardware=hardware,
                                    calibration=calibration)
        _add_finetune_estimate(cand, entry, constraints)
        out.append(cand)
    return out


def candidate_from_entry(entry: Any, constraints: Constraints, *,
                         hardware: dict[str, Any] | None = None,
                         calibration: Any = None) -> Candidate:
    """A candidate with the entry's published figures and inference estimates (memory and,
    when the estimator can, latency) at the asked batch and device."""
    cand = Candidate(
        entry.id, task=entry.task, family=entry.family, source=entry.source, params=entry.params,
        macs=entry.macs, input_size=tuple(entry.input_size), license=entry.license,
        published=dict(entry.published), published_source=entry.published_source,
    )
    fig = _memory_estimate(entry, "inference", constraints.batch, constraints.device)
    if fig is not None:
        cand.inference_memory.append(fig)
    fig = _latency_estimate(entry, constraints, hardware, calibration)
    if fig is not None:
        cand.latency.append(fig)
    return cand


# --------------------------------------------------------------------------- details
def _entry_for(model_id: str, results: list[Any], catalog: Any) -> Any:
    from selector.core.catalog.entry import CatalogEntry

    for r in results:
        data = (r.spec or {}).get("entry")
        if data:
            return CatalogEntry.from_dict(data)
    try:
        if catalog is None:
            from selector.core.catalog.catalog import load_catalog

            catalog = load_catalog(check_cache=False)
        return catalog.entries.get(model_id)
    except SelectorError:
        return None


def _add_results(cand: Candidate, results: list[Any], out: SessionInput) -> None:
    for r in results:
        if r.kind in ("latency", "finetune", "transfer", "perplexity"):
            cand.probe_status[r.kind] = _STATUS.get(r.status, r.status)
            if r.status != "finished" and r.message:
                cand.probe_messages[r.kind] = r.message
        if r.weights:
            cand.weights = "architecture-only" if r.weights == "random" else r.weights
        if r.kind == "latency":
            for row in r.latency_rows():
                _add_latency_row(cand, row)
            for gen in r.generation_rows():
                add_generation_row(cand, gen)
            _runtime_speedups(cand)
        elif r.kind == "finetune":
            report = r.finetune_report()
            if report is not None:
                _add_finetune(cand, r, report, out)


def _runtime_speedups(cand: Candidate) -> None:
    """Each runtime figure's speed-up over eager fp32 at the same batch (``extra``)."""
    eager = {f.batch: f.value for f in cand.latency
             if f.source == MEASURED and f.runtime in (None, "eager") and f.dtype == "fp32"}
    for fig in cand.latency:
        if fig.runtime not in (None, "eager") and eager.get(fig.batch) and fig.value:
            fig.extra["speedup_vs_eager"] = round(eager[fig.batch] / fig.value, 3)


def _add_latency_row(cand: Candidate, row: Any) -> None:
    if row.p50_ms is None:
        return
    if not row.parity_ok:  # a runtime that changes the answers is never recommended
        from selector.core.runtimes import LABELS

        left_out = (f"{LABELS.get(row.runtime, row.runtime)} {row.dtype} left out: "
                    f"{(row.parity or {}).get('reason') or 'answers differ from eager'}")
        known = cand.probe_messages.get("latency", "")
        if left_out not in known:
            cand.probe_messages["latency"] = f"{known}; {left_out}" if known else left_out
        return
    dtype = _DTYPE_WORDS.get(row.dtype, row.dtype)
    method = (f"p50 of {row.iters} timed forward passes after {row.warmup_iters} warm-up "
              f"({row.timing}{', channels-last' if row.channels_last else ''})")
    if row.budget_limited:
        method += "; cut short by the time budget"
    if row.note:
        method += f"; {row.note}"
    extra = {k: v for k, v in (("p90", row.p90_ms), ("p99", row.p99_ms),
                               ("samples_per_s", row.samples_per_s), ("cv", row.cv),
                               ("first_call_ms", row.first_call_ms),
                               ("energy_per_sample_j", row.energy_per_sample_j),
                               ("avg_power_w", row.avg_power_w),
                               ("top1_agreement", (row.parity or {}).get("top1_agreement")
                                if row.runtime != "eager" else None),
                               ("export_s", row.export_s)) if v is not None}
    from selector.core.probes.contention import reasons_of

    cand.latency.append(Figure(row.p50_ms, MEASURED, "ms", batch=row.batch_size, dtype=dtype,
                               threads=row.threads, device=row.device, method=method, extra=extra,
                               noisy=reasons_of(row.contention),
                               runtime=None if row.runtime == "eager" else row.runtime))
    peak = _measured_peak(row.device, row.peak_rss_mib, row.nvml_process_mib,
                          row.cuda_max_reserved_mib)
    if peak is not None:
        where = "peak RSS of the probe process" if row.device == "cpu" else "GPU memory of the probe"
        cand.inference_memory.append(Figure(peak, MEASURED, "MiB", batch=row.batch_size,
                                            dtype=dtype, threads=row.threads, device=row.device,
                                            method=where))


def _add_finetune(cand: Candidate, result: Any, report: Any, out: SessionInput) -> None:
    batch = report.batch_size_used or report.batch_size_requested
    setting = dict(batch=batch, dtype=report.precision, threads=report.threads,
                   device=report.device)
    lr = f", lr {report.lr:g}" if report.lr else ""
    method = (f"{report.steps} {report.optimizer} steps ({report.train_mode}{lr}) in "
              f"{report.train_s:.0f} s on {report.train_samples} samples; evaluated on "
              f"{report.eval_samples} held-out samples")
    if report.oom_step_downs:
        method += f"; batch stepped down after out-of-memory at {report.oom_step_downs}"
    if report.steps == 0:
        cand.notes.append("the fine-tune took no training step within its budget: its accuracy "
                          "and peak memory are not used")
        cand.probe_status["finetune"] = "no-steps"
    elif report.acc_after is not None:
        cand.finetuned_accuracy = Figure(100.0 * report.acc_after, MEASURED, "%", method=method,
                                         extra={"samples": float(report.eval_samples)}, **setting)
    if report.acc_before is not None:
        cand.baseline_accuracy = Figure(100.0 * report.acc_before, MEASURED, "%",
                                        method="new head, before training", **setting)
    peak = _measured_peak(report.device, report.peak_rss_mib, report.nvml_process_mib,
                          report.cuda_max_reserved_mib)
    if peak is not None and report.steps > 0:
        cand.finetune_memory.append(Figure(peak, MEASURED, "MiB", method="peak during the fine-tune",
                                           **setting))
    cand.loss_curve = [(float(p["step"]), float(p["loss"])) for p in result.loss_curve
                       if p.get("loss") is not None]
    if report.weights == "random":
        cand.weights = "architecture-only"
    if not out.data and report.data:
        spec = (result.spec or {}).get("data") or {}
        d = report.data
        where = str(spec.get("source") or d.get("source") or "")
        sample = where.lower().startswith("sample")
        out.data = {
            "name": "built-in sample data" if sample else where.rstrip("/").split("/")[-1],
            "path": "" if sample else where, "source": str(d.get("modality") or ""),
            "num_classes": report.num_classes or None, "classes": list(report.classes),
            "train_samples": report.train_samples, "eval_samples": report.eval_samples,
            "notes": list(d.get("notes") or []),
        }


def _lean(result: Any) -> dict[str, Any]:
    """A result for a sheet: everything measured, not the event log or the child's stderr."""
    data = result.to_dict()
    data["events"] = []
    data["stderr_tail"] = ""
    data.pop("hardware", None)  # the sheet carries the machine once
    return data


def _measured_peak(device: str, rss: float | None, nvml: float | None,
                   reserved: float | None) -> float | None:
    if not device.startswith("cuda"):
        return rss
    if nvml is not None:
        return nvml
    if reserved is not None:
        from selector.core.estimate.memory import CUDA_CONTEXT_MIB

        return reserved + CUDA_CONTEXT_MIB
    return None


def _memory_estimate(entry: Any, mode: str, batch: int, device: str) -> Figure | None:
    try:
        from selector.core.estimate.memory import Workload, estimate_memory

        est = estimate_memory(entry, Workload(mode=mode, batch_size=batch), device)
    except (ImportError, ValueError, KeyError, TypeError):
        return None
    return Figure(round(est.total_mib, 1), ESTIMATED, "MiB", batch=batch, dtype="fp32",
                  device=device, method=f"estimate_memory: {est.method}",
                  extra={"weights_mib": round(est.weights_mib, 1),
                         "gradients_mib": round(est.gradients_mib, 1),
                         "optimizer_mib": round(est.optimizer_mib, 1),
                         "activations_mib": round(est.activations_mib, 1),
                         "overhead_mib": round(est.overhead_mib, 1)})


DEFAULT_FINETUNE_BATCH = 16
"""Batch of the fine-tune memory estimate when no fine-tune probe ran (``selector bench``'s
default training batch)."""


def _calibration(device: str, run: bool = False) -> Any:
    """This machine's CPU calibration (cached; measured first when ``run``), None on a GPU."""
    if device.startswith("cuda"):
        return None
    try:
        from selector.core.estimate.calibration import get_calibration

        return get_calibration(run_if_missing=run)
    except (ImportError, OSError, RuntimeError):
        return None


def _latency_estimate(entry: Any, constraints: Constraints, hardware: dict[str, Any] | None,
                      calibration: Any) -> Figure | None:
    try:
        from selector.core.estimate.latency import estimate_latency
        from selector.core.estimate.memory import Workload

        est = estimate_latency(entry, Workload(mode="inference", batch_size=constraints.batch),
                               constraints.device, calibration,
                               device_name=_gpu_name(hardware, constraints.device))
    except (ImportError, ValueError, KeyError, TypeError, ZeroDivisionError):
        return None
    if est is None:
        return None
    threads = calibration.threads if calibration is not None else None
    return Figure(round(est.ms_per_batch, 3), ESTIMATED, "ms", batch=constraints.batch,
                  dtype="fp32", threads=threads, device=constraints.device,
                  method=f"estimate_latency: {est.method}",
                  extra={"samples_per_s": round(est.samples_per_s, 3)})


def _gpu_name(hardware: dict[str, Any] | None, device: str) -> str:
    if not device.startswith("cuda") or not hardware:
        return ""
    index = int(device.split(":")[1]) if ":" in device else 0
    for gpu in hardware.get("gpus") or []:
        if gpu.get("index") == index:
            return str(gpu.get("name") or "")
    return ""


def _add_finetune_estimate(cand: Candidate, entry: Any, constraints: Constraints) -> None:
    """Estimate fine-tune memory at the batch the fine-tune probe used (else 16)."""
    measured = [f for f in cand.finetune_memory if f.batch]
    batch = (measured[0].batch if measured else None) or DEFAULT_FINETUNE_BATCH
    device = measured[0].device if measured and measured[0].device else constraints.device
    fig = _memory_estimate(entry, "train", batch, device)
    if fig is not None:
        cand.finetune_memory.append(fig)


def _add_transfer(cands: list[Candidate], results: list[Any]) -> None:
    """Transferability rows of the session, ranked together (same samples and labels; models
    probed with architecture-only weights are left out: their scores describe random features)."""
    from selector.core.transfer.session import comparable_rows

    rows = comparable_rows(results)
    if not rows:
        return
    try:
        ranking = _rank_combined(rows)
    except (ImportError, ValueError, TypeError, KeyError):
        ranking = _rank_logme(rows)  # rows without what the combined ranking needs
    for cand in cands:
        if cand.model_id in ranking:
            cand.transfer = ranking[cand.model_id]


def _rank_combined(rows: dict[str, dict[str, Any]]) -> dict[str, TransferScore]:
    """The transfer module's combined ranking (mean rank over LogME, k-NN and linear probe).

    ``score`` is ``(n - mean rank) / (n - 1)``: 1 when best under every score, 0 when worst;
    ``stability`` is the share of bootstrap resamples in which the model ranked first.
    """
    from selector.core.transfer.ranking import rank_candidates

    ranking = rank_candidates(rows)
    n = len(ranking.candidates)
    out = {}
    for c in ranking.candidates:
        score = 1.0 if n == 1 else (n - c.mean_rank) / (n - 1)
        out[c.model] = TransferScore(round(score, 6), "combined", c.position, c.top_fraction,
                                     dict(c.scores), ranking.n_samples)
    return out


def _rank_logme(rows: dict[str, dict[str, Any]]) -> dict[str, TransferScore]:
    """LogME alone ranks them; stability is the share of bootstrap resamples (if stored) in
    which a model ranked first."""
    ids = sorted(rows, key=lambda m: -float(rows[m].get("logme", float("-inf"))))
    boots = [rows[m].get("logme_bootstrap") or [] for m in ids]
    n_boot = min((len(b) for b in boots), default=0)
    first = {m: 0 for m in ids}
    for b in range(n_boot):
        first[max(ids, key=lambda m: float(rows[m]["logme_bootstrap"][b]))] += 1
    out = {}
    for place, m in enumerate(ids, start=1):
        row = rows[m]
        scores = {k: float(row[k]) for k in ("logme", "knn_balanced_accuracy",
                                             "linear_balanced_accuracy") if row.get(k) is not None}
        out[m] = TransferScore(float(row["logme"]), "logme", place,
                               first[m] / n_boot if n_boot else None, scores, row.get("n_samples"))
    return out
