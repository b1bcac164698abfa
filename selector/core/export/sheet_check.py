"""The shape of a JSON sheet, checked before it is read: a sheet comes from another machine,
perhaps edited by hand, and a ``null`` candidate or a figure without a number must be one clear
line (which field, what was found, what is expected), not a traceback later in the recommender.

Only the fields the app reads are checked, and only their types; unknown fields are ignored,
as :meth:`Sheet.from_dict` ignores them.
"""

from __future__ import annotations

import math
from typing import Any

from selector.core.recommend.candidate import SOURCES

_FIGURE_LISTS = ("latency", "inference_memory", "finetune_memory")
_FIGURES = ("finetuned_accuracy", "baseline_accuracy")
_CANDIDATE_TEXT = ("task", "family", "source", "weights", "published_source")
_TOP_TEXT_LISTS = ("method", "notes")
_TOP_OBJECTS = ("hardware", "software", "data", "recommendation")


class SheetShapeError(ValueError):
    """The JSON is a sheet in name, but a field has the wrong type; the message says which."""


def check_sheet_data(data: Any) -> None:
    """``SheetShapeError`` for the first field of ``data`` (parsed JSON) the app cannot read."""
    if not isinstance(data, dict):
        return  # Sheet.from_dict says "not a selector sheet"
    for key in _TOP_OBJECTS:
        _object(data.get(key), key)
    for key in _TOP_TEXT_LISTS:
        _list(data.get(key), key, _text)
    _list(data.get("results"), "results", _object_required)
    hardware = data.get("hardware")
    if isinstance(hardware, dict) and "name" in hardware:
        from selector.core.hardware import HardwareProfile

        try:
            HardwareProfile.from_dict(hardware)
        except Exception as err:  # noqa: BLE001 - any malformed part of the profile
            raise SheetShapeError(f"hardware is not a hardware profile ({err})") from None
    candidates = data.get("candidates")
    if candidates is None:
        return
    if not isinstance(candidates, list):
        raise SheetShapeError(f"candidates is {_kind(candidates)}; expected a list of candidates")
    seen: set[str] = set()
    for index, candidate in enumerate(candidates):
        where = f"candidates[{index}]"
        _candidate(candidate, where)
        if candidate["model_id"] in seen:
            raise SheetShapeError(f"{where}: model {candidate['model_id']!r} is listed twice")
        seen.add(candidate["model_id"])


def _candidate(value: Any, where: str) -> None:
    if not isinstance(value, dict):
        raise SheetShapeError(f"{where} is {_kind(value)}; expected an object with a \"model_id\"")
    model_id = value.get("model_id")
    if not isinstance(model_id, str) or not model_id.strip():
        raise SheetShapeError(f"{where}.model_id is {_kind(model_id)}; expected the model's id")
    try:
        _candidate_fields(value, where)
    except SheetShapeError as err:
        raise SheetShapeError(f"{err} (model {model_id!r})") from None


def _candidate_fields(value: dict, where: str) -> None:
    for key in _CANDIDATE_TEXT:
        if value.get(key) is not None and not isinstance(value[key], str):
            raise SheetShapeError(f"{where}.{key} is {_kind(value[key])}; expected text")
    for key in ("params", "macs"):
        _number(value.get(key), f"{where}.{key}", optional=True)
    for key in _FIGURE_LISTS:
        _list(value.get(key), f"{where}.{key}", _figure)
    for key in _FIGURES:
        if value.get(key) is not None:
            _figure(value[key], f"{where}.{key}")
    published = value.get("published")
    _object(published, f"{where}.published")
    for metric, figure in (published or {}).items():
        _number(figure, f"{where}.published.{metric}")
    transfer = value.get("transfer")
    _object(transfer, f"{where}.transfer")
    if transfer is not None:
        _number(transfer.get("score"), f"{where}.transfer.score")
    for key in ("probe_status", "probe_messages"):
        _object(value.get(key), f"{where}.{key}")
    _list(value.get("notes"), f"{where}.notes", _text)
    _list(value.get("input_size"), f"{where}.input_size", _whole)
    _list(value.get("loss_curve"), f"{where}.loss_curve", _point)


def _figure(value: Any, where: str) -> None:
    if not isinstance(value, dict):
        raise SheetShapeError(f"{where} is {_kind(value)}; expected a figure "
                              "(an object with \"value\" and \"source\")")
    _number(value.get("value"), f"{where}.value")
    if value.get("source") not in SOURCES:
        raise SheetShapeError(f"{where}.source is {value.get('source')!r}; expected one of "
                              + ", ".join(SOURCES))
    for key in ("batch", "threads"):
        if value.get(key) is not None:
            _whole(value[key], f"{where}.{key}")
    _object(value.get("extra"), f"{where}.extra")
    _list(value.get("noisy"), f"{where}.noisy", _text)


def _point(value: Any, where: str) -> None:
    if not isinstance(value, list) or len(value) != 2:
        raise SheetShapeError(f"{where} is {_kind(value)}; expected a [step, loss] pair")
    for number in value:
        _number(number, where)


def _number(value: Any, where: str, optional: bool = False) -> None:
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise SheetShapeError(f"{where} is {_kind(value)}; expected a number")


def _whole(value: Any, where: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise SheetShapeError(f"{where} is {_kind(value)}; expected a whole number")


def _text(value: Any, where: str) -> None:
    if not isinstance(value, str):
        raise SheetShapeError(f"{where} is {_kind(value)}; expected text")


def _object_required(value: Any, where: str) -> None:
    if not isinstance(value, dict):
        raise SheetShapeError(f"{where} is {_kind(value)}; expected an object")


def _object(value: Any, where: str) -> None:
    if value is not None:
        _object_required(value, where)


def _list(value: Any, where: str, check: Any) -> None:
    if value is None:
        return
    if not isinstance(value, list):
        raise SheetShapeError(f"{where} is {_kind(value)}; expected a list")
    for index, item in enumerate(value):
        check(item, f"{where}[{index}]")


def _kind(value: Any) -> str:
    """How a JSON value reads in a message: ``null``, ``the text 'fast'``, ``a list``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"{str(value).lower()}"
    if isinstance(value, str):
        shown = value if len(value) <= 30 else value[:27] + "..."
        return f"the text {shown!r}"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if isinstance(value, list):
        return "a list"
    return "an object"
