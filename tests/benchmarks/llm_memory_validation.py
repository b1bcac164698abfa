"""Decoder memory estimates against measured peaks, with accelerate's and llmfit's on the same rows.

Each row runs one decoder (random weights, no download) in a FRESH process and measures the
peak RSS over the process's baseline (torch, transformers, peft and the model's code imported),
read from the kernel's high-water mark (VmHWM, reset just before the steps), as
``memory_validation.py`` does; on CUDA ``max_memory_allocated``. It compares that with
``MemoryEstimate.dynamic_mib`` (the estimate less the fixed process overhead) and prints beside
it what two common tools would say on the same row:

- accelerate ``estimate-memory``: the weights only (parameters x bytes; "Training using Adam"
  is 4x that; it has no KV cache, activations or LoRA);
- llmfit's formula: ``params x bytes + KV cache + 0.5 GB`` (the KV term taken as ours).

Rows: tiny configs of each family (2-6 layers, the family's own vocabulary, attention layout,
sliding windows and MoE routing) and the SmolLM2-135M and Qwen2.5-0.5B architectures at full
size; inference (prefill of the context, then 4 decode steps with the KV cache) at context
256 / 1,024 / 4,096; LoRA fine-tuning (peft, r=8, peft's default targets, AdamW) and, for tiny
configs, full fine-tuning, at sequence 256 and 1,024.

Usage::

    python tests/benchmarks/llm_memory_validation.py                 # every row (CPU)
    python tests/benchmarks/llm_memory_validation.py --models tiny-llama,SmolLM2-135M --rows infer
    python tests/benchmarks/llm_memory_validation.py --device cuda --json out.json

Target: every row within 10 %.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

TINY = {
    "tiny-gpt2": ("openai-community/gpt2", {"n_embd": 256, "n_layer": 4, "n_head": 4}),
    "tiny-llama": ("meta-llama/Llama-3.2-1B", {"hidden_size": 256, "intermediate_size": 688, "num_hidden_layers": 4,
                                               "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 64}),
    "tiny-qwen2.5": ("Qwen/Qwen2.5-0.5B", {"hidden_size": 256, "intermediate_size": 688, "num_hidden_layers": 4,
                                          "num_attention_heads": 4, "num_key_value_heads": 1, "max_window_layers": 4}),
    "tiny-qwen3": ("Qwen/Qwen3-0.6B", {"hidden_size": 256, "intermediate_size": 688, "num_hidden_layers": 4,
                                      "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 64}),
    "tiny-qwen3-moe": ("Qwen/Qwen3-30B-A3B", {"hidden_size": 256, "num_hidden_layers": 4, "num_attention_heads": 4,
                                             "num_key_value_heads": 2, "head_dim": 64, "num_experts": 8,
                                             "num_experts_per_tok": 2, "moe_intermediate_size": 128}),
    "tiny-mistral-swa": ("mistralai/Mistral-7B-v0.1", {"hidden_size": 256, "intermediate_size": 688,
                                                       "num_hidden_layers": 4, "num_attention_heads": 4,
                                                       "num_key_value_heads": 2, "sliding_window": 512}),
    "tiny-mixtral": ("mistralai/Mixtral-8x7B-v0.1", {"hidden_size": 256, "intermediate_size": 344,
                                                     "num_hidden_layers": 4, "num_attention_heads": 4,
                                                     "num_key_value_heads": 2}),
    "tiny-phi3": ("microsoft/Phi-3.5-mini-instruct", {"hidden_size": 256, "intermediate_size": 688,
                                                      "num_hidden_layers": 4, "num_attention_heads": 4,
                                                      "num_key_value_heads": 4}),
    "tiny-gemma2": ("google/gemma-2-2b", {"hidden_size": 256, "intermediate_size": 688, "num_hidden_layers": 4,
                                         "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 64,
                                         "query_pre_attn_scalar": 64, "sliding_window": 512,
                                         "layer_types": ["sliding_attention", "full_attention"] * 2}),
    "tiny-gemma3": ("google/gemma-3-1b-pt", {"hidden_size": 256, "intermediate_size": 688, "num_hidden_layers": 6,
                                            "num_attention_heads": 4, "num_key_value_heads": 1, "head_dim": 64,
                                            "query_pre_attn_scalar": 64, "sliding_window": 512,
                                            "layer_types": ["sliding_attention"] * 5 + ["full_attention"]}),
    "tiny-olmo2": ("allenai/OLMo-2-1124-7B", {"hidden_size": 256, "intermediate_size": 688, "num_hidden_layers": 4,
                                             "num_attention_heads": 4, "num_key_value_heads": 4}),
}
FULL = {"SmolLM2-135M": "HuggingFaceTB/SmolLM2-135M", "Qwen2.5-0.5B": "Qwen/Qwen2.5-0.5B"}
CONTEXTS = (256, 1024, 4096)
TRAIN_SEQS = (256, 1024)
DECODE_STEPS = 4


def config_for(name: str) -> dict:
    from selector.core.catalog.decoders import load_config_dict

    if name in FULL:
        return load_config_dict(FULL[name])
    base, override = TINY[name]
    return {**load_config_dict(base), **override}


def entry_for(name: str):
    """A decoder entry for the row's config, counted on the meta device."""
    from selector.core.catalog.decoders import count_params
    from selector.core.catalog.entry import GENERATION, CatalogEntry

    config = config_for(name)
    params = count_params(config)
    return CatalogEntry(name, "transformers", GENERATION, name, config["model_type"], params=params["total"],
                        activation=params, config=config)


# ------------------------------------------------------------------------------ the child
def child(request: dict) -> dict:
    import peft  # noqa: F401 - part of the baseline, as the finetune probe imports it
    import torch
    import transformers
    from transformers.models.auto import modeling_auto

    from selector.core.catalog.text import config_from_dict
    from selector.core.estimate.measure import _PeakRss, _rss_mib
    from selector.core.estimate.memory import Workload

    wl = Workload.from_dict(request["workload"])
    device = request["device"]
    if request.get("threads"):
        torch.set_num_threads(int(request["threads"]))
    torch.manual_seed(0)
    cfg = config_from_dict(request["config"])
    modeling_auto.MODEL_FOR_CAUSAL_LM_MAPPING[type(cfg)]
    (torch.ones(8, 8) @ torch.ones(8, 8)).sum().item()
    if device.startswith("cuda"):
        torch.ones(1, device=device)
    baseline = _rss_mib()
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(wl.dtype, torch.float32)
    model = transformers.AutoModelForCausalLM.from_config(cfg, dtype=dtype).to(device)
    b, s = wl.batch_size, wl.seq_len
    ids = torch.randint(0, cfg.vocab_size, (b, s), device=device)
    if wl.training:
        if wl.lora_rank:
            from peft import LoraConfig, get_peft_model

            from selector.core.estimate.llm_memory import lora_targets

            lora = LoraConfig(r=wl.lora_rank, lora_alpha=2 * wl.lora_rank, lora_dropout=0.0,
                              target_modules=list(lora_targets(request["config"])))
            model = get_peft_model(model, lora)
        if wl.grad_checkpointing:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.train()
        opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-5)
    else:
        model.eval()
    after_build = _rss_mib()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    peak = _PeakRss()
    started = time.perf_counter()
    for _ in range(request.get("steps", 2)):
        if wl.training:
            opt.zero_grad(set_to_none=True)
            loss = model(input_ids=ids, labels=ids).loss
            loss.backward()
            opt.step()
            del loss
        else:
            with torch.no_grad():
                prompt = ids[:, : s - DECODE_STEPS]
                out = model(input_ids=prompt, use_cache=True, logits_to_keep=1)
                cache, token = out.past_key_values, out.logits[:, -1:].argmax(-1)
                del out
                for _step in range(DECODE_STEPS):
                    out = model(input_ids=token, past_key_values=cache, use_cache=True)
                    token = out.logits[:, -1:].argmax(-1)
                    del out
                del cache
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    result = {"baseline_mib": baseline, "weights_mib": after_build - baseline,
              "peak_mib": peak.stop() - baseline, "seconds": time.perf_counter() - started,
              "threads": torch.get_num_threads(), "rss_method": peak.method}
    if device.startswith("cuda"):
        result["peak_mib"] = torch.cuda.max_memory_allocated() / 2**20
    return result


def measure(config: dict, workload, device: str, threads: int | None, timeout: float = 1800) -> dict:
    request = {"config": config, "workload": workload.to_dict(), "device": device, "threads": threads}
    env = dict(os.environ, HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    env.pop("MALLOC_MMAP_THRESHOLD_", None)
    proc = subprocess.run([sys.executable, __file__, "--child", json.dumps(request)], capture_output=True,
                          text=True, timeout=timeout, env=env)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise RuntimeError(f"exit {proc.returncode}: " + " | ".join(tail))
    return json.loads(lines[-1])


# ------------------------------------------------------------------- other tools' figures
def accelerate_mib(entry, workload) -> float:
    """accelerate estimate-memory: parameters x bytes; training with Adam 4x (no LoRA, no KV)."""
    size = entry.activation["total"] * (2 if workload.dtype in ("bf16", "fp16") else 4)
    return size * (4 if workload.training and not workload.lora_rank else 1) / 2**20


def llmfit_mib(entry, workload, kv_mib: float) -> float:
    """llmfit: params x bytes + KV + 0.5 GB."""
    size = entry.activation["total"] * (2 if workload.dtype in ("bf16", "fp16") else 4)
    return size / 2**20 + kv_mib + 0.5e9 / 2**20


FULL_TRAINING = ("tiny-llama", "tiny-gpt2", "tiny-qwen3-moe", "tiny-gemma3")
"""Full fine-tuning rows (AdamW on every parameter) for these; LoRA rows for every model."""


def plan(names: list[str], kinds: set[str]) -> list[tuple[str, str, int]]:
    rows = []
    for name in names:
        config = config_for(name)
        limit = int(config.get("max_position_embeddings") or config.get("n_positions") or 1 << 20)
        if "infer" in kinds:
            rows += [(name, "infer", c) for c in CONTEXTS if c <= limit]
        if "lora" in kinds:
            rows += [(name, "lora", s) for s in TRAIN_SEQS]
        if "full" in kinds and name in FULL_TRAINING:
            rows += [(name, "full", s) for s in TRAIN_SEQS]
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--models", default=",".join([*TINY, *FULL]))
    parser.add_argument("--rows", default="infer,lora,full", help="infer, lora, full")
    parser.add_argument("--dtype", default="fp32", choices=["fp32", "bf16", "fp16"])
    parser.add_argument("--lora-rank", type=int, default=8)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--json", metavar="FILE")
    parser.add_argument("--rescore", metavar="FILE",
                        help="no measuring: re-estimate the rows of an earlier --json FILE with the current code")
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(json.loads(args.child))), flush=True)
        return 0

    from selector.core.estimate.memory import Workload, device_kind_of, estimate_memory

    kind = device_kind_of(args.device)
    print(f"device {args.device}, dtype {args.dtype}; MiB over the process baseline; error = (x - measured) / measured")
    print(f"{'model':17s} {'row':5s} {'tokens':>6s} {'measured':>8s} {'ours':>7s} {'err':>7s} "
          f"{'accel.':>7s} {'err':>7s} {'llmfit':>7s} {'err':>7s}  weights   kv  activ  alloc")
    out = []
    entries: dict[str, object] = {}
    saved = {}
    if args.rescore:
        earlier = json.loads(Path(args.rescore).read_text())
        saved = {(r["model"], r["row"], r["tokens"]): r["measurement"] for r in earlier}
        args.models = ",".join(dict.fromkeys(k[0] for k in saved))
    for name, row, tokens in plan(args.models.split(","), set(args.rows.split(","))):
        if args.rescore and (name, row, tokens) not in saved:
            continue
        entry = entries.get(name) or entries.setdefault(name, entry_for(name))
        wl = Workload(mode="inference" if row == "infer" else "train", seq_len=tokens, dtype=args.dtype,
                      lora_rank=args.lora_rank if row == "lora" else 0)
        est = estimate_memory(entry, wl, kind)
        try:
            got = saved[(name, row, tokens)] if args.rescore else measure(entry.config, wl, args.device, args.threads)
        except Exception as err:  # noqa: BLE001 - one failed row stays one failed row
            print(f"{name:17s} {row:5s} {tokens:6d} failed: {err}", flush=True)
            continue
        meas = got["peak_mib"]
        acc, fit = accelerate_mib(entry, wl), llmfit_mib(entry, wl, est.kv_cache_mib)
        errs = [100 * (x - meas) / meas for x in (est.dynamic_mib, acc, fit)]
        print(f"{name:17s} {row:5s} {tokens:6d} {meas:8.0f} {est.dynamic_mib:7.0f} {errs[0]:+6.1f}% "
              f"{acc:7.0f} {errs[1]:+6.0f}% {fit:7.0f} {errs[2]:+6.0f}%  {est.weights_mib:7.0f} "
              f"{est.kv_cache_mib:4.0f} {est.activations_mib:6.0f} {est.allocator_mib:6.0f}", flush=True)
        out.append({"model": name, "row": row, "tokens": tokens, "measured_mib": meas, "ours_mib": est.dynamic_mib,
                    "accelerate_mib": acc, "llmfit_mib": fit, "errors_pct": errs, "measurement": got,
                    "estimate": est.to_dict()})
        if args.json:  # after every row: a long run stopped early keeps what it measured
            Path(args.json).write_text(json.dumps(out, indent=1))
    if out:
        worst = max(out, key=lambda r: abs(r["errors_pct"][0]))
        for i, who in enumerate(("ours", "accelerate", "llmfit")):
            within = sum(abs(r["errors_pct"][i]) <= 10 for r in out)
            mean = sum(abs(r["errors_pct"][i]) for r in out) / len(out)
            print(f"{who:10s}: {within}/{len(out)} rows within 10 %, mean |error| {mean:.1f} %")
        print(f"worst of ours: {worst['model']} {worst['row']} {worst['tokens']}: {worst['errors_pct'][0]:+.1f} %")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
