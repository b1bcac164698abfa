"""Memory of a decoder LLM, derived from its config and its meta-device parameter counts.

``estimate_decoder_memory(entry, workload, device_kind)`` is what ``estimate_memory`` returns
for a ``text-generation`` entry; ``workload.seq_len`` is the context in tokens (prompt plus
what is generated), ``workload.quant`` the weight format, ``workload.lora_rank`` LoRA. Parts
(bytes inside, MiB in the :class:`MemoryEstimate`):

- weights: fp32 4 B, bf16/fp16 2 B per parameter; ``int8`` (LLM.int8): 1 B per projection
  weight plus one fp32 scale per output row; ``nf4`` (bitsandbytes 4-bit): two weights per
  byte, one absmax per 64-weight block (fp32, or with double quantisation 1 byte plus an fp32
  per 256 blocks); embeddings, ``lm_head``, norms, biases and MoE routers stay in 16 bit.
  MoE experts count in the weights; a token's activations see only its ``top_k`` experts.
- ``kv_cache``: ``2 x batch x kv_heads x head_dim x tokens x bytes`` per layer, a sliding-window
  layer holding at most its window (Gemma 2 every other layer, Gemma 3 five of six, Mistral
  v0.1 all), in the compute dtype.
- activations, inference: the prefill of the whole context (one layer's transients, the
  residual stream, the next-token logits in fp32) or the decode step, whichever is larger.
- training: one step over ``seq_len`` tokens. Full: gradients and AdamW's two moments for
  every parameter; LoRA: only for the adapters (peft's default targets); saved activations per
  layer and token (all layers, or one hidden state per layer with gradient checkpointing and
  one layer recomputed), plus the loss over the vocabulary (logits, their fp32 copy and
  log-softmax).

The per-token coefficients below count the tensors alive at the peak in transformers' own
layer code (a decoder layer is the same sequence of ops in every family); they were checked
against measured peaks in ``tests/benchmarks/llm_memory_validation.py``.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Callable

from selector.core.catalog.entry import CatalogEntry
from selector.core.estimate.memory import MIB, MemoryEstimate, Workload

NF4_BLOCK = 64
"""Weights per absmax block in bitsandbytes' 4-bit format (``blocksize=64``)."""
DQ_BLOCK = 256
"""Absmax values per second-level block under double quantisation."""
DEFAULT_LORA_TARGETS = {"gpt2": ("c_attn",), "phi3": ("qkv_proj",)}
"""LoRA targets by model type: peft's defaults (``c_attn`` for GPT-2, ``q_proj`` and ``v_proj``
for the others), and Phi-3's fused ``qkv_proj`` where peft has none."""
LORA_TARGETS = ("q_proj", "v_proj")
CPU_ALLOCATOR = {"inference": (16.0, 0.15), "train": (40.0, 0.02)}
"""glibc malloc (and autograd's first-backward working memory) beyond the live tensors on CPU:
fixed MiB + share of the activations, fitted on the validation rows."""
CPU_CACHE_RETAINED = 1.5
"""On CPU, malloc also keeps freed copies of the KV cache (each layer's keys and values are
written, copied into the cache and freed in heap-sized pieces): raising a tiny Qwen3's KV
heads from 2 to 4 grew the peak by about three times the cache's own growth. 1.5 copies is
fitted on the rows of ``tests/benchmarks/llm_memory_validation.py`` (in-sample there: tiny
configs favour 2, SmolLM2-135M and Qwen2.5-0.5B at 4,096 tokens about 1)."""
CUDA_WORKSPACE_MIB = 40.0
EAGER_ATTENTION = ("gemma2",)
"""Model types transformers runs with eager attention by default (Gemma 2's logit soft-capping):
one layer's attention scores are materialised at prefill."""
QUANTS = ("fp32", "bf16", "fp16", "int8", "nf4")
"""What ``selector list --quant`` offers, cheapest last."""


@dataclass
class Dims:
    """The widths of a decoder that memory depends on, read from its config."""

    layers: int
    hidden: int
    heads: int
    kv_heads: int
    head_dim: int
    intermediate: int
    vocab: int
    windows: list[int | None]
    """Per layer: the sliding window in tokens, or None for full attention."""
    experts: int = 0
    top_k: int = 0
    expert_intermediate: int = 0


def dims(config: dict[str, Any]) -> Dims:
    """:class:`Dims` of a ``config.json`` dict (GPT-2's ``n_*`` keys too)."""
    layers = int(config.get("num_hidden_layers") or config.get("n_layer") or 0)
    hidden = int(config.get("hidden_size") or config.get("n_embd") or 0)
    heads = int(config.get("num_attention_heads") or config.get("n_head") or 1)
    kv = int(config.get("num_key_value_heads") or heads)
    head_dim = int(config.get("head_dim") or hidden // heads)
    inter = int(config.get("intermediate_size") or config.get("n_inner") or 4 * hidden)
    window = config.get("sliding_window")
    types = config.get("layer_types")
    windows: list[int | None]
    if types:
        windows = [int(window) if t == "sliding_attention" and window else None for t in types]
    elif window and config.get("use_sliding_window", True):
        windows = [int(window)] * layers
    else:
        windows = [None] * layers
    experts = int(config.get("num_experts") or config.get("num_local_experts") or 0)
    return Dims(layers, hidden, heads, kv, head_dim, inter, int(config.get("vocab_size") or 0), windows,
                experts, int(config.get("num_experts_per_tok") or 0),
                int(config.get("moe_intermediate_size") or inter) if experts else 0)


def _bytes(dtype: str) -> int:
    return 4 if dtype == "fp32" else 2


def weight_bytes(params: dict[str, Any], dtype: str = "fp32", quant: str | None = None,
                 double_quant: bool = True) -> float:
    """Bytes of the weights in ``dtype``, or packed as ``quant`` (see the module doc)."""
    total = params["total"]
    if quant is None:
        return float(total * _bytes(dtype))
    packed = params["linear"] + params["experts"]
    kept = (total - packed) * 2  # embeddings, lm_head, norms, biases, routers: 16 bit
    if quant == "int8":
        return float(packed + 4 * (params["linear_rows"] + params["expert_rows"]) + kept)
    blocks = math.ceil(packed / NF4_BLOCK)
    scales = blocks + 4 * math.ceil(blocks / DQ_BLOCK) if double_quant else 4 * blocks
    return float(math.ceil(packed / 2) + scales + kept)


def kv_cache_bytes(d: Dims, batch: int, tokens: int, cache_bytes: int = 2) -> float:
    """Keys and values of every layer for ``batch`` sequences of ``tokens``; a sliding-window
    layer keeps at most its window."""
    per_token = 2 * d.kv_heads * d.head_dim * cache_bytes * batch
    return float(sum(per_token * min(tokens, w or tokens) for w in d.windows))


def lora_targets(config: dict[str, Any]) -> tuple[str, ...]:
    return DEFAULT_LORA_TARGETS.get(str(config.get("model_type")), LORA_TARGETS)


def lora_params(params: dict[str, Any], config: dict[str, Any], rank: int,
                targets: tuple[str, ...] | None = None) -> int:
    """Trainable parameters of rank-``rank`` LoRA adapters (A: r x in, B: out x r per module)."""
    names = targets or lora_targets(config)
    return rank * sum(int(params["lora_dims"].get(n, 0)) for n in names)


def _layer_tokens(d: Dims) -> float:
    """Values per token alive at one layer's inference peak (residual, projections, MLP)."""
    inter = float(d.intermediate)
    if d.experts:
        inter = d.expert_intermediate * d.top_k / max(1, d.experts) + d.top_k
    attention = 2 * d.hidden + 3 * d.heads * d.head_dim + 4 * d.kv_heads * d.head_dim
    mlp = 2 * d.hidden + 3 * inter
    return float(max(attention, mlp))


def _saved_per_layer(d: Dims, lora: bool) -> float:
    """Values per token one layer keeps for backward (inputs of norms, projections, attention
    and the MLP's gate, up, activation and product)."""
    inter = d.intermediate if not d.experts else d.expert_intermediate * d.top_k + d.experts
    qkv = d.heads * d.head_dim + 2 * d.kv_heads * d.head_dim
    return float(6 * d.hidden + 2 * qkv + d.heads * d.head_dim + 4 * inter) - (d.hidden if lora else 0)


def _attention_dropout(config: dict[str, Any]) -> float:
    """Attention dropout in training (GPT-2's ``attn_pdrop`` defaults to 0.1)."""
    if config.get("model_type") == "gpt2":
        return float(config.get("attn_pdrop", 0.1))
    return float(config.get("attention_dropout") or 0.0)


def _mask_bytes(d: Dims, batch: int, tokens: int) -> float:
    """Sliding-window layers take a boolean (tokens x tokens) mask; full causal attention none."""
    return float(batch * tokens * tokens) if any(d.windows) else 0.0


def estimate_decoder_memory(entry: CatalogEntry, workload: Workload, device_kind: str,
                            overhead_mib: float) -> MemoryEstimate:
    """Peak memory of ``workload`` for a decoder entry (needs its meta-device counts)."""
    params = entry.activation or {}
    config = entry.config or {}
    if params.get("kind") != "decoder":
        raise ValueError(f"{entry.id}: no decoder parameter counts; rebuild params.json")
    d = dims(config)
    b, s = workload.batch_size, workload.seq_len
    a = 2 if workload.dtype in ("bf16", "fp16", "amp") else 4
    weights = weight_bytes(params, workload.dtype if workload.dtype != "amp" else "fp32", workload.quant)
    notes = [f"weights {workload.quant or workload.dtype}"]
    cache = 0.0
    grads = optim = 0.0
    logits_row = 4 * d.vocab  # fp32 logits of one position
    if not workload.training:
        cache = kv_cache_bytes(d, b, s, a)
        prefill = b * s * _layer_tokens(d) * a + b * logits_row + _mask_bytes(d, b, s)
        if config.get("model_type") in EAGER_ATTENTION:
            prefill += 2.0 * b * d.heads * s * s * a  # scores and their soft-capped copy
            notes.append("eager attention: (tokens x tokens) scores per head")
        if any(w is not None and w < s for w in d.windows):
            # a sliding-window layer passes an explicit mask: the boolean (counted above) and
            # the additive float copy torch's attention makes of it
            prefill += b * s * s * 4.0
            notes.append("sliding-window mask at prefill")
        decode = 2 * d.kv_heads * d.head_dim * a * b * s + b * logits_row
        acts = max(prefill, decode)
        notes.append(f"KV cache {b} x {s} tokens; prefill of the whole context")
    else:
        lora = workload.lora_rank > 0
        if lora:
            trainable = lora_params(params, config, workload.lora_rank)
            notes.append(f"LoRA r={workload.lora_rank} on {', '.join(lora_targets(config))}"
                         + (" over a 4-bit base (QLoRA)" if workload.quant == "nf4" else ""))
            weights += trainable * 4
            grads, optim = trainable * 4.0, trainable * 8.0
        else:
            grads = params["total"] * float(a if workload.dtype != "amp" else 4)
            optim = 2.0 * grads
        per_layer = _saved_per_layer(d, lora)
        if workload.grad_checkpointing:
            saved = b * s * (d.layers * d.hidden + per_layer) * a
            notes.append("gradient checkpointing")
        else:
            saved = b * s * d.layers * per_layer * a
        # logits, their fp32 copy and log-softmax (and Gemma 2's soft-capped copy)
        loss = b * s * d.vocab * (a + 4 + 4 + (a if config.get("final_logit_softcapping") else 0))
        if config.get("model_type") in EAGER_ATTENTION:
            saved += d.layers * b * d.heads * s * s * 2.0 * a  # soft-capped scores, probabilities
        if device_kind == "cpu" and _attention_dropout(config):
            # torch's fused CPU attention has no dropout: the math path keeps scores, softmax,
            # mask and dropped probabilities (tokens x tokens per head) for the backward
            saved += d.layers * b * d.heads * s * s * (3 * a + 4)
            notes.append("attention dropout: math attention on CPU")
        # the peak: the loss's tensors and saved activations at the start of the backward, or
        # the gradients once those are freed (``set_to_none``: no gradient before the backward)
        backward = saved + loss + _mask_bytes(d, b, s) - grads
        # AdamW's step: sqrt(v) temporaries, per tensor on CPU (the largest twice), all at once
        # with CUDA's multi-tensor kernels
        largest = 0.0 if lora else float(params["largest"]) * (a if workload.dtype != "amp" else 4)
        step = grads if device_kind != "cpu" else 2.0 * largest
        acts = max(backward, step, 0.0)
        if step > backward:
            notes.append("peak in optimizer.step()")
    limit = int(config.get("max_position_embeddings") or config.get("n_positions") or 0)
    if limit and s > limit:
        notes.append(f"{s} tokens is beyond the model's {limit} positions")
    fixed, share = CPU_ALLOCATOR["train" if workload.training else "inference"]
    allocator = CUDA_WORKSPACE_MIB * MIB if device_kind != "cpu" else (
        fixed * MIB + share * acts + CPU_CACHE_RETAINED * cache)
    parts = [x / MIB for x in (weights, grads, optim, acts, cache, allocator)]
    total = sum(parts) + overhead_mib
    method = "derived from the config and meta-device parameter counts; " + "; ".join(notes)
    return MemoryEstimate(
        weights_mib=parts[0], gradients_mib=parts[1], optimizer_mib=parts[2], activations_mib=parts[3],
        overhead_mib=overhead_mib, total_mib=total, device_kind=device_kind, method=method,
        workload=workload, allocator_mib=parts[5], kv_cache_mib=parts[4],
    )


# ------------------------------------------------------------------ the answers users want
def _status(entry: CatalogEntry, workload: Workload, device: Any, margin: float, overhead: float | None) -> bool:
    from selector.core.estimate.fit import fit

    return fit(entry, workload, device, margin, overhead).passes(include_tight=False)


def longest_context(entry: CatalogEntry, workload: Workload, device: Any, margin: float = 0.10,
                    overhead_mib: float | None = None) -> int:
    """The most tokens per sequence (up to the model's position limit) that fit on ``device``
    at ``workload``'s batch, dtype and quantisation; 0 when not even one token does."""
    limit = max(1, int(entry.input_size[0]) if entry.input_size else 2048)
    return _most_that_fits(lambda n: dataclasses.replace(workload, seq_len=n), limit,
                           entry, device, margin, overhead_mib)


def largest_batch(entry: CatalogEntry, workload: Workload, device: Any, margin: float = 0.10,
                  overhead_mib: float | None = None, cap: int = 4096) -> int:
    """The largest batch (up to ``cap``) that fits at ``workload``'s context; 0: none does."""
    return _most_that_fits(lambda n: dataclasses.replace(workload, batch_size=n), cap,
                           entry, device, margin, overhead_mib)


def _most_that_fits(at: Callable[[int], Workload], high: int, entry: CatalogEntry, device: Any,
                    margin: float, overhead_mib: float | None) -> int:
    """The largest ``n`` (0 to ``high``) whose workload ``at(n)`` still fits, by bisection
    (memory grows with ``n``: tokens per sequence or batch size); 0 when not even 1 does."""
    low = 0
    while low < high:
        mid = (low + high + 1) // 2
        if _status(entry, at(mid), device, margin, overhead_mib):
            low = mid
        else:
            high = mid - 1
    return low


def mildest_quant(entry: CatalogEntry, workload: Workload, device: Any, margin: float = 0.10,
                  overhead_mib: float | None = None) -> str | None:
    """The least lossy weight format that fits (fp32, bf16, int8, nf4 in that order: the cheapest
    step down from full precision), or None when even 4-bit does not."""
    for name in QUANTS:
        if name == "fp16":
            continue
        dtype, quant = (name, None) if name in ("fp32", "bf16") else ("bf16", name)
        candidate = dataclasses.replace(workload, dtype=dtype, quant=quant)
        if _status(entry, candidate, device, margin, overhead_mib):
            return name
    return None


def answers(entry: CatalogEntry, workload: Workload, device: Any, margin: float = 0.10,
            overhead_mib: float | None = None) -> dict[str, Any]:
    """Longest context, largest batch and mildest quantisation that fit, for tables and JSON."""
    return {"longest_context": longest_context(entry, workload, device, margin, overhead_mib),
            "largest_batch": largest_batch(entry, workload, device, margin, overhead_mib),
            "mildest_quant": mildest_quant(entry, workload, device, margin, overhead_mib)}
