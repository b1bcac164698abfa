"""int8 static post-training quantisation, as users deploy it: ONNX Runtime's quantiser.

The exported fp32 ONNX model is pre-processed (shape inference, ``quant_pre_process``) and
quantised to the QDQ format (weights int8 per channel, activations uint8), with activation
ranges calibrated (MinMax) on a sample of the user's data: the calibration split of
:mod:`.userdata`, or random inputs when no data was given (the record says which). ONNX
Runtime and OpenVINO both run the resulting file. Its parity and held-out accuracy are
measured beside fp32's like any runtime's (:mod:`.parity`).
"""

from __future__ import annotations

import contextlib
import io
import logging
from pathlib import Path
from typing import Any

from selector.core.runtimes.base import RuntimeFailure, input_names, short_reason, timed


def quantize_static(fp32_path: Path, out_path: Path, calibration: list[Any]) -> float:
    """Write the int8 QDQ model of ``fp32_path`` to ``out_path``; seconds taken.

    ``calibration``: batches of probe inputs (torch), run through the fp32 model to find the
    activation ranges."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType
    from onnxruntime.quantization import quantize_static as ort_quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    if not calibration:
        raise RuntimeFailure("int8 static quantisation needs calibration inputs")
    names = input_names(calibration[0])
    feeds = [{n: (batch[n] if isinstance(batch, dict) else batch).detach().cpu().numpy() for n in names}
             for batch in calibration]

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.feeds = iter(feeds)

        def get_next(self) -> dict | None:
            return next(self.feeds, None)

    pre = out_path.with_name(out_path.stem + "-pre.onnx")

    def run() -> None:
        source = fp32_path
        try:
            quant_pre_process(str(fp32_path), str(pre), skip_symbolic_shape=True)
            source = pre
        except Exception:  # noqa: BLE001 - pre-processing only helps; quantise the export as is
            pass
        ort_quantize_static(str(source), str(out_path), Reader(), quant_format=QuantFormat.QDQ,
                            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                            per_channel=True)

    logger = logging.getLogger()
    level = logger.level
    try:
        logger.setLevel(logging.ERROR)
        with contextlib.redirect_stdout(io.StringIO()):
            _, seconds = timed(run)
    except Exception as err:  # noqa: BLE001 - the quantiser's error ends the int8 rows
        raise RuntimeFailure(f"int8 static quantisation failed: {short_reason(err)}") from err
    finally:
        logger.setLevel(level)
    return seconds


def method(samples: int, from_data: bool) -> str:
    source = "your data" if from_data else "random inputs (no --data given)"
    return (f"ONNX Runtime static quantisation, QDQ, int8 weights per channel, uint8 activations, "
            f"MinMax calibration on {samples} samples of {source}")
