"""The typed rows inside a :class:`~selector.core.results.record.ProbeResult`: one per
measured configuration of the latency probe (:class:`LatencyRow`, or :class:`GenerationRow`
for a decoder) and the one row of a fine-tune (:class:`FinetuneReport`).

Each row is self-contained (model, input size, batch, dtype, threads, device, software) so a
figure can be compared with a row measured elsewhere, and plain JSON (``to_dict`` /
``from_dict`` round-trip exactly). Units: times in seconds (``*_s``) or milliseconds
(``*_ms``), memory in MiB (``*_mib``), accuracies as fractions in [0, 1].
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, TypeVar

_R = TypeVar("_R", bound="_Row")


def _known(cls: type, data: dict[str, Any]) -> dict[str, Any]:
    """The items of ``data`` that name a field of ``cls``: a row stored by a newer or older
    selector (with keys added or dropped since) still loads."""
    names = {f.name for f in dataclasses.fields(cls)}
    return {k: v for k, v in data.items() if k in names}


class _Row:
    """What every stored row shares: the contention flag and its plain-JSON round trip."""

    contention: dict[str, Any] | None

    @property
    def noisy(self) -> bool:
        """True when the machine was too busy while this row measured (``contention``)."""
        return bool(self.contention and self.contention.get("noisy"))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls: type[_R], data: dict[str, Any]) -> _R:
        return cls(**_known(cls, data))


@dataclass
class LatencyRow(_Row):
    """One measured configuration of the latency probe: a model at one batch size and dtype.

    The row is self-contained (model, input size, batch, dtype, threads, device, software),
    so it can be compared with a row measured elsewhere.
    """

    model_id: str
    device: str
    """``cpu`` or ``cuda:N``."""
    dtype: str
    """``fp32``, ``bf16``, ``fp16``, ``int8`` (eager: dynamic quantization of the Linear layers,
    CPU) or ``int8-static`` (ONNX Runtime / OpenVINO: static, calibrated; see ``parity``)."""
    batch_size: int
    input_size: list[int] = field(default_factory=list)
    """Per-sample input: ``[3, H, W]`` for images, ``[seq_len]`` for text."""
    weights: str = ""
    """``pretrained`` or ``random`` (architecture only)."""
    device_name: str = ""
    threads: int | None = None
    """Intra-op threads torch used (``torch.get_num_threads()`` in the probe)."""
    channels_last: bool = False
    timing: str = "perf_counter"
    """``perf_counter`` (CPU, synchronous), ``cuda_events`` / ``xpu_events`` / ``mps_events``
    (an event pair and a sync per step; ROCm keeps ``cuda_events``) or ``mps_sync``
    (perf_counter between synchronisations, a torch without MPS events)."""
    warmup_iters: int = 0
    warmup_s: float = 0.0
    iters: int = 0
    """Measured iterations (each one forward pass of ``batch_size`` samples)."""
    measure_s: float = 0.0
    """Wall time spent in the measured iterations."""
    load_s: float | None = None
    """Building the model and moving it to the device (the same for every row of a probe)."""
    convert_s: float | None = None
    """Converting the loaded model to this row's dtype (cast or quantization)."""
    first_call_ms: float | None = None
    """The first forward pass at this batch size and dtype (includes lazy initialisation)."""
    p50_ms: float | None = None
    p90_ms: float | None = None
    p99_ms: float | None = None
    """None when fewer than 10 iterations ran (``kinds.latency.MIN_ITERS_FOR_P99``; ``note`` says so)."""
    mean_ms: float | None = None
    std_ms: float | None = None
    min_ms: float | None = None
    max_ms: float | None = None
    cv: float | None = None
    """Coefficient of variation of the step time (std / mean), a fraction."""
    samples_per_s: float | None = None
    """Throughput: ``batch_size`` / mean step time."""
    rss_before_mib: float | None = None
    """Resident memory of the probe process before this row started."""
    peak_rss_mib: float | None = None
    """Peak resident memory of the probe process during this row (process-wide)."""
    peak_rss_method: str = ""
    """``kernel high-water mark (VmHWM)`` (Linux: exact) or ``polled every 10 ms``."""
    rss_poll_ms: float | None = None
    """Interval of the RSS poller (relaxed to 250 ms where the kernel keeps the peak)."""
    cuda_max_allocated_mib: float | None = None
    cuda_max_reserved_mib: float | None = None
    nvml_process_mib: float | None = None
    """Peak GPU memory NVML attributes to the probe process (includes the CUDA context)."""
    quantized_fraction: float | None = None
    """int8 rows: share of the parameters that sit in quantized Linear layers."""
    budget_limited: bool = False
    """True when the time budget stopped the measurement before its minimum length."""
    software: dict[str, str] = field(default_factory=dict)
    note: str = ""
    samples_ms: list[float] = field(default_factory=list)
    """Every timed iteration, ms per batch, in the order run (for the distribution plot and
    re-analysis)."""
    energy_j: float | None = None
    """Joules the device's energy counter counted over the measured window (``energy_method``);
    None when nothing could be read, with the reason in ``energy_note``."""
    energy_method: str | None = None
    """``NVML total energy``, ``amdsmi energy counter`` or ``RAPL package (powercap)``."""
    avg_power_w: float | None = None
    """``energy_j`` over the window's wall time, watts."""
    energy_per_sample_j: float | None = None
    """Joules per sample (1 / samples per joule)."""
    energy_note: str = ""
    """What the counter covers (the whole board or CPU package), or why there is no figure."""
    contention: dict[str, Any] | None = None
    """How busy the machine was while this row measured (``probes.contention.Contention``);
    ``contention["noisy"]`` with its ``reasons``. None: measured before selector recorded it."""
    runtime: str = "eager"
    """``eager``, ``compile`` (torch.compile), ``onnxruntime`` or ``openvino``
    (:mod:`selector.core.runtimes`)."""
    runtime_version: str = ""
    provider: str = ""
    """Where the runtime ran: ``torch cpu``, ``inductor``, ``CPUExecutionProvider``,
    ``CUDAExecutionProvider``, ``CPU`` (OpenVINO's plugin)."""
    export_s: float | None = None
    """Seconds to export / convert / compile (and quantise) before the first call, apart from
    the latency (``first_call_ms`` is the first call at this batch size after that)."""
    export_steps: dict[str, float] = field(default_factory=dict)
    """``export_s`` in parts, seconds (``export``, ``quantize``, ``session``, ``compile`` ...)."""
    runtime_rss_mib: float | None = None
    """Resident memory the runtime's own session added to the probe process, MiB."""
    parity: dict[str, Any] | None = None
    """The runtime's answers against eager fp32 (``runtimes.parity.check``): ``max_abs_diff``,
    ``max_rel_diff``, ``top1_agreement`` (on your data), the ``tolerance``, ``ok`` and ``reason``.
    A row whose parity is not ok is never recommended. None: eager rows of other dtypes."""
    heldout_accuracy: float | None = None
    """With labelled data: held-out accuracy under this runtime (``parity["heldout_method"]``)."""
    heldout_accuracy_fp32: float | None = None
    """The same for eager fp32, beside it."""
    error: str = ""
    """Why this runtime's row ended without a measurement (export failed, op unsupported)."""

    @property
    def parity_ok(self) -> bool:
        """False when this runtime changed the answers beyond its tolerance (never recommended)."""
        return bool((self.parity or {}).get("ok", True))

    @property
    def setting(self) -> str:
        """``onnxruntime int8-static`` (eager rows: the dtype alone)."""
        return self.dtype if self.runtime == "eager" else f"{self.runtime} {self.dtype}"


@dataclass
class GenerationRow(_Row):
    """One measured configuration of a decoder's latency probe (``kinds.generate``): time to
    first token at ``prompt_len`` and greedy decode with the KV cache over ``gen_len`` tokens."""

    model_id: str
    device: str
    dtype: str
    batch_size: int
    prompt_len: int = 0
    gen_len: int = 0
    weights: str = ""
    device_name: str = ""
    threads: int | None = None
    timing: str = "perf_counter"
    load_s: float | None = None
    repeats: int = 0
    """Measured repeats, each one prefill plus its decode (after one warm-up repeat)."""
    warmup_s: float = 0.0
    measure_s: float = 0.0
    first_ttft_ms: float | None = None
    """The warm-up repeat's time to first token (lazy initialisation included)."""
    first_decode_ms_per_token: float | None = None
    ttft_p50_ms: float | None = None
    """Time to first token: the prefill of ``prompt_len`` tokens and the first greedy pick, ms."""
    ttft_p90_ms: float | None = None
    decode_ms_per_token_p50: float | None = None
    """One decode step (one new token for each sequence of the batch), ms."""
    decode_ms_per_token_p90: float | None = None
    decode_tokens_per_s: float | None = None
    """Tokens generated per second over the batch: ``batch_size`` / the p50 decode step."""
    prefill_tokens_per_s: float | None = None
    kv_cache_mib: float | None = None
    """What the KV cache's tensors held after ``prompt_len + gen_len - 1`` tokens, MiB."""
    rss_before_mib: float | None = None
    peak_rss_mib: float | None = None
    peak_rss_method: str = ""
    rss_poll_ms: float | None = None
    cuda_max_allocated_mib: float | None = None
    cuda_max_reserved_mib: float | None = None
    nvml_process_mib: float | None = None
    budget_limited: bool = False
    software: dict[str, str] = field(default_factory=dict)
    note: str = ""
    samples_ttft_ms: list[float] = field(default_factory=list)
    """Every repeat's time to first token, ms, in the order run."""
    samples_decode_ms_per_token: list[float] = field(default_factory=list)
    contention: dict[str, Any] | None = None
    """How busy the machine was while this row measured (see ``LatencyRow.contention``)."""

    @staticmethod
    def is_one(data: dict[str, Any]) -> bool:
        """Whether a stored latency row is a decoder's (it has a time to first token)."""
        return "ttft_p50_ms" in data


@dataclass
class FinetuneReport(_Row):
    """What the quick fine-tune probe did and measured (the one row of a fine-tune result)."""

    model_id: str
    device: str
    weights: str = ""
    """``pretrained`` or ``random``; a random backbone learns far less in a short budget."""
    train_mode: str = "full"
    """``full`` (every parameter trains) or ``head`` (only the new classification head)."""
    precision: str = "fp32"
    """``fp32``, or ``bf16-autocast`` / ``fp16-autocast`` (AMP on CUDA)."""
    optimizer: str = "AdamW"
    lr: float | None = None
    head_lr: float | None = None
    weight_decay: float | None = None
    batch_size_requested: int | None = None
    batch_size_used: int | None = None
    """The batch that ran: smaller than requested when out-of-memory stepped it down."""
    oom_step_downs: list[int] = field(default_factory=list)
    """Batch sizes that ran out of memory, in order."""
    steps: int = 0
    """Optimizer steps taken."""
    samples_seen: int = 0
    epochs: float = 0.0
    train_s: float = 0.0
    """Wall time of the training steps (evaluation excluded)."""
    mean_step_ms: float | None = None
    p50_step_ms: float | None = None
    samples_per_s: float | None = None
    """Training throughput: samples seen / train_s."""
    loss_first: float | None = None
    loss_last: float | None = None
    """Mean loss of the last few steps."""
    acc_before: float | None = None
    """Held-out accuracy with the new, untrained head (about chance)."""
    acc_after: float | None = None
    """Held-out accuracy after the fine-tune."""
    eval_samples: int = 0
    train_samples: int = 0
    num_classes: int = 0
    classes: list[str] = field(default_factory=list)
    input_size: list[int] = field(default_factory=list)
    preprocessing: str = ""
    """Where the preprocessing came from: the model's data config, its tokenizer, or a fallback."""
    tokenizer: str = ""
    """Text: ``model tokenizer (<path>)`` or ``hashing fallback`` (when none was local)."""
    load_s: float | None = None
    peak_rss_mib: float | None = None
    peak_rss_method: str = ""
    cuda_max_allocated_mib: float | None = None
    cuda_max_reserved_mib: float | None = None
    nvml_process_mib: float | None = None
    threads: int | None = None
    data: dict[str, Any] = field(default_factory=dict)
    """Dataset summary: source, counts, skipped files, notes (see ``LoadedDataset.summary``)."""
    budget_limited: bool = True
    """True when the time budget (not a step limit) ended the training."""
    software: dict[str, str] = field(default_factory=dict)
    note: str = ""
    energy_j: float | None = None
    """Joules the device's energy counter counted over the training steps (evaluation excluded) (``energy_method``);
    None when nothing could be read, with the reason in ``energy_note``."""
    energy_method: str | None = None
    """``NVML total energy``, ``amdsmi energy counter`` or ``RAPL package (powercap)``."""
    avg_power_w: float | None = None
    """``energy_j`` over the window's wall time, watts."""
    energy_per_sample_j: float | None = None
    """Joules per sample (1 / samples per joule)."""
    energy_note: str = ""
    """What the counter covers (the whole board or CPU package), or why there is no figure."""
    contention: dict[str, Any] | None = None
    """How busy the machine was while it trained and evaluated (see ``LatencyRow.contention``)."""
    heldout_loss_before: float | None = None
    """Decoders (LoRA): mean next-token loss on the held-out text before training, nats."""
    heldout_loss_after: float | None = None
    tokens_per_s: float | None = None
    """Decoders: trained tokens per second of step time."""
    lora: dict[str, Any] = field(default_factory=dict)
    """Decoders: ``rank``, ``alpha``, ``target_modules``, ``trainable_params``, ``total_params``."""
