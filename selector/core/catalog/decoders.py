"""Decoder language models (``text-generation``): configs shipped with the app, counted on meta.

``resources/decoder_configs/<org>--<name>.json`` is each model's ``config.json`` as on the
Hub (hyperparameters only), ``models.csv`` its family, licence, published parameter count
and any published score, each with its source (``SOURCES.md`` beside them). The parameter
counts come from a meta-device build (``AutoModelForCausalLM.from_config`` under
``torch.device("meta")``: no memory, no weights) and are shipped in ``params.json`` so that
loading the catalog imports no torch; ``python -m selector.core.catalog.decoders`` rebuilds
that file. Each count is split the way quantisation treats it (what bitsandbytes packs and
what it leaves in 16 bit), which :mod:`selector.core.estimate.llm_memory` reads from
``entry.activation``.

Without the model's tokenizer (it comes with downloaded weights), token counts are a stated
fallback: about 4 characters of English per token (:data:`CHARS_PER_TOKEN`).
"""

from __future__ import annotations

import csv
import json
import re
import sys
from pathlib import Path
from typing import Any

from selector.core.catalog.entry import GENERATION, CatalogEntry
from selector.core.errors import SelectorError
from selector.core.paths import resource

PROFILE_KIND = "decoder"
PROFILE_VERSION = 1
CHARS_PER_TOKEN = 4.0
"""Fallback without a tokenizer: characters of English text per BPE token (GPT-2's, Llama's
and Qwen's tokenizers all land near 4 on English prose)."""
_ROUTER_LEAVES = {"gate", "router"}


def config_dir() -> Path:
    return resource("decoder_configs")


def config_path(model_id: str) -> Path:
    return config_dir() / (model_id.replace("/", "--") + ".json")


def load_config_dict(model_id: str) -> dict[str, Any]:
    path = config_path(model_id)
    if not path.is_file():
        raise SelectorError(f"no shipped config for decoder '{model_id}' ({path})")
    return json.loads(path.read_text(encoding="utf-8"))


def rows() -> list[dict[str, str]]:
    with open(config_dir() / "models.csv", newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def parse_published(text: str) -> tuple[float, float] | None:
    """``'0.49B'`` -> (4.9e8, 5e6): the count and half a unit of its last stated digit."""
    match = re.fullmatch(r"\s*([0-9]+)(?:\.([0-9]+))?\s*([MB])\s*", text or "")
    if not match:
        return None
    scale = 1e6 if match.group(3) == "M" else 1e9
    decimals = len(match.group(2) or "")
    value = float(f"{match.group(1)}.{match.group(2) or '0'}") * scale
    return value, 0.5 * scale / 10**decimals


def build_meta(config: dict[str, Any]) -> Any:
    """The causal-LM on the meta device (no memory is allocated, no weights are read)."""
    import torch
    from transformers import AutoModelForCausalLM

    from selector.core.catalog.text import config_from_dict

    with torch.device("meta"):
        return AutoModelForCausalLM.from_config(config_from_dict(config))


def param_breakdown(model: Any, config: dict[str, Any]) -> dict[str, Any]:
    """Parameter counts of a (meta) causal LM, split as quantisation treats them.

    ``linear``: weights of the projection layers (nn.Linear / GPT-2's Conv1D) that int8 and
    NF4 pack, ``linear_rows`` their output rows (LLM.int8 keeps one fp32 scale per row);
    ``experts``: MoE expert weights (fused 3-D tensors), ``expert_rows`` likewise; ``embed``
    and ``lm_head`` (0 when tied to the embeddings) and ``other`` (norms, biases, routers)
    stay in 16 bit. ``lora_dims``: per projection name, the sum of ``in + out`` features over
    the layers (a rank-r adapter on it adds ``r x`` that many parameters). ``active``: what
    one token touches (an MoE token uses ``top_k`` of its experts).
    """
    import torch
    from transformers.pytorch_utils import Conv1D

    seen: set[int] = set()
    counts = dict.fromkeys(("embed", "lm_head", "linear", "linear_rows", "experts", "expert_rows"), 0)
    lora: dict[str, int] = {}
    for name, module in model.named_modules():
        leaf = name.rsplit(".", 1)[-1]
        weight: Any = getattr(module, "weight", None)
        if isinstance(module, torch.nn.Embedding):
            if id(weight) not in seen:
                seen.add(id(weight))
                counts["embed"] += weight.numel()
        elif isinstance(module, (torch.nn.Linear, Conv1D)) and id(weight) not in seen:
            seen.add(id(weight))
            if leaf == "lm_head":
                counts["lm_head"] += weight.numel()
                continue
            if leaf in _ROUTER_LEAVES:
                continue
            rows = module.out_features if isinstance(module, torch.nn.Linear) else module.nf
            counts["linear"] += weight.numel()
            counts["linear_rows"] += rows
            lora[leaf] = lora.get(leaf, 0) + weight.shape[0] + weight.shape[1]
    for name, p in model.named_parameters():
        if ".experts." in f".{name}" and p.dim() == 3 and id(p) not in seen:
            seen.add(id(p))
            counts["experts"] += p.numel()
            counts["expert_rows"] += p.shape[0] * p.shape[1]
    params = {id(p): p for p in model.parameters()}
    total = sum(p.numel() for p in params.values())
    counts["other"] = total - sum(counts[k] for k in ("embed", "lm_head", "linear", "experts"))
    n_experts = int(config.get("num_experts") or config.get("num_local_experts") or 0)
    top_k = int(config.get("num_experts_per_tok") or 0)
    active = total
    if n_experts and counts["experts"]:
        active = total - counts["experts"] + counts["experts"] * top_k // n_experts
    return {"kind": PROFILE_KIND, "version": PROFILE_VERSION, "total": total, "active": active,
            **counts, "lora_dims": lora,
            "largest": max((p.numel() for p in params.values()), default=0)}


def count_params(config: dict[str, Any]) -> dict[str, Any]:
    """:func:`param_breakdown` of the model ``config`` describes, built on the meta device."""
    return param_breakdown(build_meta(config), config)


def family_of(config: dict[str, Any], model_id: str = "") -> str:
    name = model_id.lower()
    for needle, family in (("smollm2", "smollm2"), ("tinyllama", "tinyllama"), ("llama-3", "llama3"),
                           ("qwen2.5", "qwen2.5")):
        if needle in name:
            return family
    model_type = str(config.get("model_type", ""))
    return {"qwen3_moe": "qwen3-moe", "gemma3_text": "gemma3"}.get(model_type, model_type)


def _shipped_params() -> dict[str, Any]:
    path = config_dir() / "params.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def decoder_entry(row: dict[str, str], params: dict[str, Any] | None) -> CatalogEntry:
    """The entry of one ``models.csv`` row; ``params`` its meta-device breakdown (or None)."""
    model_id = row["hf_id"]
    config = load_config_dict(model_id)
    published = parse_published(row.get("published_params", ""))
    scores: dict[str, float] = {}
    source = ""
    if row.get("mmlu", "").strip():
        scores["mmlu"] = float(row["mmlu"])
        source = f"MMLU {row['mmlu']}: {row.get('mmlu_source', '').strip()}"
    notes = [row.get("notes", "").strip()]
    if published:
        notes.append(f"published parameter count {row['published_params']} ({row.get('params_source', '')})")
    return CatalogEntry(
        id=model_id, source="transformers", task=GENERATION, family=row.get("family") or family_of(config, model_id),
        architecture=str(config["model_type"]), params=params["total"] if params else None,
        input_size=(int(config.get("max_position_embeddings") or config.get("n_positions") or 2048),),
        published=scores, published_source=source,
        published_params=round(published[0]) if published else None, license=row.get("license") or None,
        hf_hub_id=model_id, activation=params, config=config, notes="; ".join(n for n in notes if n),
    )


def decoder_entries() -> list[CatalogEntry]:
    """Every shipped decoder, its parameters from the shipped meta-device counts."""
    shipped = _shipped_params()
    return [decoder_entry(row, shipped.get(row["hf_id"])) for row in rows()]


def is_decoder_config(config: dict[str, Any]) -> bool:
    """A causal LM's config.json (``architectures`` names ``...ForCausalLM`` or ``...LMHeadModel``)."""
    return any(str(a).endswith(("ForCausalLM", "LMHeadModel")) for a in config.get("architectures") or [])


def inspect_decoder_folder(folder: Path, config: dict[str, Any], entry_id: str) -> CatalogEntry:
    """The entry of a local decoder folder: its checkpoint (one file or shards with their index)
    checked against a meta-device build of its config.json, and counted as the shipped ones are."""
    from selector.core.catalog.checkpoints import compare_shapes, find_weights, read_shapes

    weights = find_weights(folder)
    if weights is None or not weights.name.endswith((".safetensors", ".bin", ".index.json")):
        raise SelectorError(f"no weights in {folder}: expected model.safetensors (or its shards with "
                            "model.safetensors.index.json) beside config.json")
    shapes = read_shapes(weights)
    try:
        model = build_meta(config)
    except (ValueError, KeyError, TypeError) as err:
        raise SelectorError(f"{folder}: transformers cannot build its config.json: {err}") from err
    body = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    mismatched, missing, _ = compare_shapes(body, shapes)
    missing = [k for k in missing if not k.startswith("lm_head.")]  # tied to the embeddings
    if mismatched or len(missing) > len(body) // 2:
        shown = (mismatched or missing)[:3]
        raise SelectorError(f"checkpoint {weights} does not match its config.json ({config.get('model_type')}): "
                            + "; ".join(shown))
    params = param_breakdown(model, config)
    tokenizer = any((folder / n).is_file() for n in ("tokenizer.json", "tokenizer.model", "vocab.json"))
    return CatalogEntry(
        id=entry_id, source="local", task=GENERATION, family=family_of(config, folder.name),
        architecture=str(config.get("model_type")), params=params["total"],
        input_size=(int(config.get("max_position_embeddings") or config.get("n_positions") or 2048),),
        activation=params, local_path=str(folder), config=config,
        notes=f"Hugging Face decoder folder, weights {weights.name}"
        + ("" if tokenizer else f"; no tokenizer files in the folder (token counts: ~{CHARS_PER_TOKEN:g} "
                                "characters per token)"),
    )


def write_params(path: Path | None = None) -> dict[str, Any]:
    """Count every shipped decoder on the meta device and write ``params.json``."""
    out = {row["hf_id"]: count_params(load_config_dict(row["hf_id"])) for row in rows()}
    (path or config_dir() / "params.json").write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
    return out


def main(argv: list[str] | None = None) -> int:
    """Rebuild ``params.json`` and print each count against the published one."""
    counted = write_params(Path(argv[0]) if argv else None)
    for row in rows():
        got = counted[row["hf_id"]]["total"]
        published = parse_published(row.get("published_params", ""))
        off = f"{(got - published[0]) / published[0] * 100:+6.1f} %" if published else "   —"
        print(f"{row['hf_id']:40s} {got / 1e9:8.3f}B  published {row.get('published_params') or '—':>6s} {off}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
