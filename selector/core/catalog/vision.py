"""Vision entries: one per pretrained timm ``architecture.tag``.

What timm's pretrained config says (input size, classes, licence, Hub id) and what the
published CSVs add (ImageNet accuracy, parameter count, MACs, reference throughput) are read
here without building anything; parameter counts and MACs measured on the meta device are
attached by the snapshot builder (``measure.measure_timm``), once per distinct architecture,
input size and head size.
"""

from __future__ import annotations

import re
from typing import Any

from selector.core.catalog.entry import VISION, CatalogEntry
from selector.core.catalog.published import Published, published_results
from selector.core.errors import SelectorError

_FAMILY_RENAMES = {
    "vision_transformer": "vit",
    "vision_transformer_hybrid": "vit-hybrid",
    "vision_transformer_relpos": "vit-relpos",
    "vision_transformer_sam": "vit-sam",
    "swin_transformer": "swin",
    "swin_transformer_v2": "swinv2",
    "swin_transformer_v2_cr": "swinv2-cr",
    "inception_v3": "inception",
    "inception_v4": "inception",
    "inception_resnet_v2": "inception",
    "inception_next": "inceptionnext",
    "maxxvit": "maxvit",
}

_DATASET = re.compile(
    r"^(in1k|in12k|in21k|in22k|inw21k|m38m|laion\w*|webli\w*|datacomp\w*|dfn\w*|dfndr\w*|metaclip\w*|mclip\w*|"
    r"lvd\d+m|ig\d+b|jft\w*|yfcc\w*|merged2b|openai|cc12m|sa1b|seer|swag|siglip\w*)$"
)
"""Tag tokens that name training data, e.g. ``laion2b`` in ``laion2b_ft_in12k_in1k``."""


def module_of(architecture: str) -> str:
    """The timm module an architecture is registered in (``resnet50`` -> ``resnet``)."""
    from timm.models._registry import _model_to_module

    return _model_to_module.get(architecture, "")


def family_of(architecture: str) -> str:
    """Family for filtering: the timm module, with a few friendlier names; ``test`` for test_*."""
    if architecture.startswith("test_"):
        return "test"
    module = module_of(architecture) or architecture.split("_")[0]
    return _FAMILY_RENAMES.get(module, module)


def pretrain_from_tag(tag: str, metadata: str | None = None) -> str | None:
    """Training data in order, from the tag: ``fb_in22k_ft_in1k`` -> ``in22k -> in1k``.

    The older architecture-level metadata (``in1k-dist``, ``ig1b-swsl``...) is more specific
    when the tag names only ImageNet-1k, and is used then.
    """
    datasets: list[str] = []
    for token in tag.split("_"):
        if _DATASET.match(token) and token not in datasets:
            datasets.append(token)
    text = " -> ".join(datasets) if datasets else None
    if metadata and (text is None or text == "in1k") and metadata.startswith(("in1k", "ig", "jft", "yfc", "in21k")):
        return metadata
    return text


def pretrained_names() -> list[str]:
    """Every ``architecture.tag`` timm has pretrained weights for (``test_*`` included)."""
    import timm

    return sorted(timm.list_pretrained())


def timm_config(name: str) -> Any:
    """timm's ``PretrainedCfg`` of ``arch.tag`` or of an architecture's default tag."""
    import timm
    from timm.models import get_pretrained_cfg

    arch = name.split(".", 1)[0]
    if not timm.is_model(arch):
        raise SelectorError(f"'{arch}' is not a timm architecture")
    try:
        cfg = get_pretrained_cfg(name)
    except RuntimeError as err:
        raise SelectorError(f"'{name}': {err}") from err
    if cfg is None:  # an architecture without any registered config: timm's defaults
        from timm.models._pretrained import PretrainedCfg

        cfg = PretrainedCfg(architecture=arch, tag="", url="")
    return cfg


def vision_entry(name: str, published: Published | None = None) -> CatalogEntry:
    """The entry for ``name`` (``arch.tag``, or a bare architecture: its default tag's config).

    Parameter counts and MACs are left empty; ``measure.measure_timm`` fills them.
    """
    cfg = timm_config(name)
    arch = cfg.architecture or name.split(".", 1)[0]
    tag = cfg.tag or ""
    input_size = tuple(int(v) for v in (cfg.input_size or (3, 224, 224)))
    num_classes = cfg.num_classes
    if published is None:
        key = f"{arch}.{tag}" if "." not in name and tag else name
        published = published_results().lookup(key, arch, input_size[-1], num_classes)
    notes = []
    if "." not in name:
        notes.append(
            f"architecture name; timm's default pretrained tag is {arch}.{tag}"
            if cfg.hf_hub_id or cfg.url
            else "architecture without pretrained weights in timm: random initialisation only"
        )
    if num_classes == 0:
        notes.append("feature extractor (no classification head): give num_classes to add one")
    if not cfg.hf_hub_id and cfg.url:
        notes.append("weights are downloaded from a URL, not the Hugging Face Hub")
    return CatalogEntry(
        id=name,
        source="timm",
        task=VISION,
        family=family_of(arch),
        architecture=arch,
        input_size=input_size,
        num_classes=num_classes,
        published=published.scores,
        published_source=published.source,
        published_params=published.params,
        published_macs=published.macs,
        pretrain_data=pretrain_from_tag(tag, published.pretrain),
        license=cfg.license,
        hf_hub_id=cfg.hf_hub_id,
        reference_throughput=published.throughput,
        notes="; ".join(notes),
    )


def measurement_key(entry: CatalogEntry) -> tuple:
    """Entries that share this key build the same network: measure one of them only."""
    return (entry.architecture, tuple(entry.input_size), entry.num_classes)


def vision_entries(names: list[str] | None = None) -> list[CatalogEntry]:
    """Unmeasured entries for ``names`` (default: every pretrained tag)."""
    return [vision_entry(name) for name in (names if names is not None else pretrained_names())]
