"""A CPU calibration is made once per machine, torch release and thread count, then reused."""

import torch

from selector.core.estimate import calibration as cal_mod


def test_a_saved_calibration_is_found_again_with_a_local_torch_build_tag():
    cal = cal_mod.Calibration(key=cal_mod.calibration_key(3, torch.__version__ + "+cu999"),
                              macs_per_s={"conv": 1e9}, threads=3)
    cal_mod.save_calibration(cal)
    found = cal_mod.load_calibration(threads=3)
    assert found is not None and found.macs_per_s == {"conv": 1e9}
    assert cal_mod.get_calibration(threads=3, run_if_missing=False) == found
    assert cal_mod.load_calibration(threads=5) is None
