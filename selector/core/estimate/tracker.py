"""The dispatch mode behind :mod:`selector.core.estimate.trace`: live bytes by storage.

``Tracker`` is a ``TorchDispatchMode`` that follows the storage behind every tensor an op
creates, with a weak reference whose callback fires when the storage is freed, so it knows
the live bytes at every moment in five classes (see ``trace``), keeps the envelope of peak
moments, counts MACs, and notes the copies oneDNN makes around convolutions on CPU.
``SdpaRecorder`` swaps attention for a stand-in with the fused kernels' memory.
"""

from __future__ import annotations

import contextlib
import weakref
from typing import Any, Iterator

GRADS, FIXED, SAMPLE, LIN, QUAD = range(5)
ENVELOPE_BATCHES = (1, 4, 32, 256)
ENVELOPE_RATIOS = (0.25, 1.0, 4.0)
"""The grid the envelope is kept for: batch sizes and input-size ratios (pixels or tokens)."""

class ShapeRules:
    """Files a new per-sample tensor as ``sample``, ``lin`` or ``quad`` from its shape."""

    def __init__(self, kind: str, batch: int, seq_len: int | None) -> None:
        self.kind, self.batch, self.seq_len = kind, batch, seq_len

    def per_sample_class(self, shape: tuple[int, ...]) -> int:
        ndim, b, seq = len(shape), self.batch, self.seq_len
        if seq is not None and ndim >= 3 and shape[-1] == shape[-2] == seq:
            if ndim >= 4 or shape[0] != b:
                return QUAD
        if ndim <= 2 and ndim >= 1 and shape[0] == b:
            if ndim == 1 or seq is None or shape[1] != seq:
                return SAMPLE
        return LIN


def _tensors(obj: Any) -> Iterator[Any]:
    import torch

    if isinstance(obj, torch.Tensor):
        yield obj
    elif isinstance(obj, (list, tuple)):
        for item in obj:
            yield from _tensors(item)
    elif isinstance(obj, dict):
        for item in obj.values():
            yield from _tensors(item)


def _probe_weights(kind: str) -> list[tuple[float, ...]]:
    ratios = ENVELOPE_RATIOS
    return [(1.0, 1.0, b, b * r, b * r * r) for b in ENVELOPE_BATCHES for r in ratios]


class Tracker:
    """The dispatch mode: live bytes per class, by storage, and the envelope of peaks.

    Alongside the fp32 bytes it keeps what the same tensors would take under autocast (AMP):
    outputs of matmuls and convolutions are half precision, norms, softmax and losses stay
    fp32, other ops follow their inputs (a half tensor times an fp32 parameter is fp32, as in
    PyTorch's type promotion; batch norm keeps its input's precision). A matmul that takes an
    fp32 activation saves a half copy instead, and each weight a matmul or convolution uses is
    cast once to a half copy that lives for the step (autocast's cache).
    """

    def __init__(self, rules: ShapeRules) -> None:
        from torch.utils._python_dispatch import TorchDispatchMode

        tracker = self

        class Mode(TorchDispatchMode):
            def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001
                return tracker.dispatch(func, args, kwargs or {})

        self.mode = Mode()
        self.rules = rules
        self.live: dict[int, list] = {}  # id(storage) -> [nbytes, class, weakref, amp bytes, half]
        self.tainted: set[int] = set()
        self.external: set[int] = set()
        self.weight_keys: set[int] = set()
        self.cast: set[int] = set()
        self.totals = [0, 0, 0, 0, 0]
        self.amp = [0.0, 0.0, 0.0, 0.0, 0.0]
        self.weights = _probe_weights(rules.kind)
        self.best = [(-1.0, None)] * len(self.weights)
        self.best_cpu = [(-1.0, None)] * len(self.weights)
        self.best_amp = [(-1.0, None)] * len(self.weights)
        self.saved: list[int] | None = None
        self.ops = 0
        self.data_dependent = 0
        self.macs = {"conv": 0.0, "depthwise": 0.0, "matmul": 0.0}
        self.written = [0, 0]  # bytes of new storages from non-MAC ops: fixed, per sample

    def __enter__(self) -> "Tracker":
        self.mode.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.mode.__exit__(*exc)

    # -- storages
    def _track(self, tensor: Any, tainted: bool, elementwise: bool, half: bool) -> None:
        storage = tensor.untyped_storage()
        key = id(storage)
        if key in self.live or key in self.external:
            return
        nbytes = storage.nbytes()
        if tainted and tensor.numel() % self.rules.batch == 0:
            cls = self.rules.per_sample_class(tuple(tensor.shape))
        else:
            cls = FIXED
        half = half and tensor.is_floating_point()
        amp = nbytes / 2 if half else float(nbytes)
        ref = weakref.ref(storage, lambda _r, k=key: self._freed(k))  # type: ignore[misc]
        self.live[key] = [nbytes, cls, ref, amp, half]
        self.totals[cls] += nbytes
        self.amp[cls] += amp
        if elementwise:
            self.written[cls != FIXED] += nbytes
        if tainted:
            self.tainted.add(key)

    def _freed(self, key: int) -> None:
        record = self.live.pop(key, None)
        if record is not None:
            self.totals[record[1]] -= record[0]
            self.amp[record[1]] -= record[3]
        self.tainted.discard(key)

    def _reclass(self, record: list, cls: int | None = None, amp: float | None = None) -> None:
        self.totals[record[1]] -= record[0]
        self.amp[record[1]] -= record[3]
        if cls is not None:
            record[1] = cls
        if amp is not None:
            record[3] = amp
        self.totals[record[1]] += record[0]
        self.amp[record[1]] += record[3]

    def taint_input(self, tensor: Any) -> None:
        """Mark an input: what derives from it is per sample (its own bytes are counted apart)."""
        key = id(tensor.untyped_storage())
        self.tainted.add(key)
        self.external.add(key)

    def exclude(self, tensors: Any) -> None:
        """Storages that exist before the run (weights, buffers): their views cost nothing."""
        for t in tensors:
            key = id(t.untyped_storage())
            self.external.add(key)
            self.weight_keys.add(key)

    def on_grad(self, param: Any) -> None:
        grad = param.grad
        if grad is None:
            return
        record = self.live.get(id(grad.untyped_storage()))
        if record is not None and record[1] != GRADS:
            self._reclass(record, GRADS, float(record[0]))  # .grad is fp32 under AMP too
        self._observe()

    # -- the dispatch hook
    def dispatch(self, func: Any, args: tuple, kwargs: dict) -> Any:
        import torch

        if func is torch.ops.aten._local_scalar_dense.default:
            self.data_dependent += 1
            return False if args[0].dtype == torch.bool else 1
        out = func(*args, **kwargs)
        self.ops += 1
        tainted, half = False, self._half_output(func, args)
        for t in _tensors((args, kwargs)):
            if id(t.untyped_storage()) in self.tainted:
                tainted = True
                break
        elementwise = func not in _mac_ops()
        for t in _tensors(out):
            self._track(t, tainted, elementwise, half)
        extra = self._count_macs(func, args, out)
        self._observe()
        if extra is not None:
            self._observe(extra, cpu_only=True)
        return out

    def _half_output(self, func: Any, args: tuple) -> bool:
        """Whether ``func``'s outputs are half precision under autocast (see the class doc)."""
        kind = _amp_kind(func)
        if kind == "fp32":
            return False
        if kind == "half":
            for t in _tensors(args):
                if not t.is_floating_point():
                    continue
                key = id(t.untyped_storage())
                if key in self.weight_keys:
                    if key not in self.cast:  # autocast's cached half copy of the weight
                        self.cast.add(key)
                        self.amp[FIXED] += t.untyped_storage().nbytes() / 2
                    continue
                record = self.live.get(key)
                if record is not None and not record[4]:  # saved as a half copy instead
                    record[4] = True
                    self._reclass(record, amp=record[0] / 2)
            return True
        floats = [t for t in _tensors(args) if t.is_floating_point()]
        if kind == "first":
            floats = floats[:1]
        if not floats:
            return False
        for t in floats:
            record = self.live.get(id(t.untyped_storage()))
            if record is None or not record[4]:
                return False
        return True

    def _observe(self, extra: tuple[int, int] | None = None, cpu_only: bool = False) -> None:
        """Keep the moment if it is the highest so far for some probe workload.

        ``extra`` = (fixed, per-sample) bytes that exist only on CPU during this op (oneDNN's
        blocked-format copies of a convolution's input, weights and output).
        """
        totals = list(self.totals)
        if extra is not None:
            totals[FIXED] += extra[0]
            totals[LIN] += extra[1]
        self._keep(totals, (self.best_cpu,) if cpu_only else (self.best, self.best_cpu))
        if not cpu_only:
            self._keep(self.amp, (self.best_amp,))

    def _keep(self, totals: list, bests: tuple) -> None:
        b = self.rules.batch
        for i, w in enumerate(self.weights):
            value = totals[0] * w[0] + totals[1] * w[1] + (
                totals[2] * w[2] + totals[3] * w[3] + totals[4] * w[4]) / b
            for best in bests:
                if value > best[i][0]:
                    best[i] = (value, tuple(totals))

    def mark_saved(self) -> None:
        self.saved = list(self.totals)

    def per_sample(self, totals: Any) -> list[float]:
        b = self.rules.batch
        return [float(totals[0]), float(totals[1]), totals[2] / b, totals[3] / b, totals[4] / b]

    def envelope(self, which: str = "") -> list[list[float]]:
        points: list[list[float]] = []
        for _value, totals in {"": self.best, "cpu": self.best_cpu, "amp": self.best_amp}[which]:
            if totals is None:
                continue
            point = [round(x, 1) for x in self.per_sample(totals)]
            if point not in points:
                points.append(point)
        return points

    def _count_macs(self, func: Any, args: tuple, out: Any) -> tuple[int, int] | None:
        """Count MACs of convolutions and matmuls; return a convolution's CPU-only transients."""
        import torch

        aten = torch.ops.aten
        if func is aten.convolution.default:
            x, w, groups = args[0], args[1], args[8]
            macs = out.numel() * w.shape[1] * (w.numel() // (w.shape[0] * w.shape[1]))
            kind = "depthwise" if groups > 1 and groups == x.shape[1] else "conv"
            self.macs[kind] += float(macs)
            x_bytes = _nbytes(x) if x.shape[1] > 4 else 0
            return _nbytes(w), x_bytes + _nbytes(out)
        if func is aten.convolution_backward.default:
            grad_out, x, w = args[0], args[1], args[2]
            return _nbytes(w), _nbytes(grad_out) + _nbytes(x)
        if func in (aten.mm.default, aten.bmm.default):
            self.macs["matmul"] += float(out.numel() * args[0].shape[-1])
        elif func in (aten.addmm.default, aten.baddbmm.default):
            self.macs["matmul"] += float(out.numel() * args[1].shape[-1])
        return None


_MAC_OPS: set | None = None
_AMP_KINDS: dict[Any, str] | None = None


def _amp_kind(func: Any) -> str:
    """``half`` (autocast runs it in fp16/bf16), ``fp32``, ``first`` (follows its first input)
    or ``promote`` (follows all its floating inputs)."""
    global _AMP_KINDS
    if _AMP_KINDS is None:
        import torch

        aten = torch.ops.aten
        half = [aten.convolution, aten.convolution_backward, aten.mm, aten.bmm, aten.addmm,
                aten.baddbmm, aten.addbmm]
        fp32 = [aten._softmax, aten._log_softmax, aten._safe_softmax, aten.native_layer_norm,
                aten.native_group_norm, aten.exp, aten.log, aten.pow, aten.rsqrt, aten.reciprocal,
                aten.sum, aten.cumsum, aten.logsumexp, aten.nll_loss_forward, aten.norm,
                aten.linalg_vector_norm, aten.mse_loss, aten.binary_cross_entropy_with_logits]
        kinds: dict[Any, str] = {}
        for packet, which in [(p, "half") for p in half] + [(p, "fp32") for p in fp32]:
            for overload in packet.overloads():
                kinds[getattr(packet, overload)] = which
        _AMP_KINDS = kinds
    kind = _AMP_KINDS.get(func)
    if kind is None:
        kind = "first" if "batch_norm" in func.__name__ else "promote"
        _AMP_KINDS[func] = kind
    return kind




def _mac_ops() -> set:
    global _MAC_OPS
    if _MAC_OPS is None:
        import torch

        aten = torch.ops.aten
        _MAC_OPS = {aten.convolution.default, aten.convolution_backward.default, aten.mm.default,
                    aten.bmm.default, aten.addmm.default, aten.baddbmm.default}
    return _MAC_OPS


def _nbytes(t: Any) -> int:
    return t.numel() * t.element_size()


# ------------------------------------------------------------------------------ attention
class SdpaRecorder:
    """Swaps ``F.scaled_dot_product_attention`` for a stand-in with the fused kernels' memory."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.calls, self.macs, self.dropout = 0, 0.0, False

    @contextlib.contextmanager
    def fused(self) -> Iterator[None]:
        import torch.nn.functional as F

        original = F.scaled_dot_product_attention
        recorder = self

        def stand_in(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False,  # noqa: ANN001
                     scale=None, enable_gqa=False):
            recorder.calls += 1
            recorder.dropout = recorder.dropout or dropout_p > 0
            lq, lk = query.shape[-2], key.shape[-2]
            heads_x_batch = query.numel() // (lq * query.shape[-1])
            recorder.macs += float(heads_x_batch * lq * lk * (query.shape[-1] + value.shape[-1]))
            return _fused_attention().apply(query, key, value, attn_mask)

        F.scaled_dot_product_attention = stand_in
        try:
            yield
        finally:
            F.scaled_dot_product_attention = original


_FUSED = None


def _fused_attention() -> Any:
    """An autograd function that saves (q, k, v, out, logsumexp) like flash attention."""
    global _FUSED
    if _FUSED is None:
        import torch

        class FusedAttention(torch.autograd.Function):
            @staticmethod
            def forward(ctx, q, k, v, mask):  # noqa: ANN001
                out = q.new_empty((*q.shape[:-1], v.shape[-1]))
                lse = q.new_empty(q.shape[:-1], dtype=torch.float32)
                ctx.save_for_backward(q, k, v, out, lse)
                return out

            @staticmethod
            def backward(ctx, grad):  # noqa: ANN001
                q, k, v, _out, _lse = ctx.saved_tensors
                return torch.empty_like(q), torch.empty_like(k), torch.empty_like(v), None

        _FUSED = FusedAttention
    return _FUSED
