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


def _fake_calibration(noisy: bool) -> "cal_mod.Calibration":
    from selector.core.probes.contention import Contention, judge

    record = judge(Contention(wall_s=5.0, cores=2, others_cores=1.4 if noisy else 0.0,
                              reference_before_gmacs=40.0, reference_after_gmacs=41.0))
    return cal_mod.Calibration(key=cal_mod.calibration_key(2, torch.__version__),
                               macs_per_s={"conv": 2e9}, threads=2, reference_gmacs=40.5,
                               contention=record.to_dict())


def test_a_calibration_measured_on_a_busy_machine_is_used_but_not_cached(monkeypatch):
    made = []
    monkeypatch.setattr(cal_mod, "_PROVISIONAL", {})
    monkeypatch.setattr(cal_mod, "calibrate", lambda threads=None: made.append(1) or _fake_calibration(True))
    cal = cal_mod.get_calibration(threads=2)
    assert cal.provisional == ["other processes used 1.40 cores of 2 on average while it measured "
                               "(limit 0.25)"]
    assert not cal_mod._cache_file().exists() and cal_mod.load_calibration(threads=2) is None
    assert cal_mod.get_calibration(threads=2) is cal and len(made) == 1, "measured once per process"
    note = cal_mod.provisional_note(cal)
    assert note.startswith("CPU latency estimates are provisional: this CPU was calibrated while "
                           "other processes used 1.40 cores") and "Not saved" in note


def test_a_quiet_calibration_is_cached_with_the_reference_speed(monkeypatch):
    monkeypatch.setattr(cal_mod, "_PROVISIONAL", {})
    monkeypatch.setattr(cal_mod, "calibrate", lambda threads=None: _fake_calibration(False))
    cal = cal_mod.get_calibration(threads=2)
    assert cal.provisional == [] and cal_mod.provisional_note(cal) is None
    back = cal_mod.load_calibration(threads=2)
    assert back.reference_gmacs == 40.5 and back.contention == cal.contention
    from selector.core.probes.contention import calibration_reference

    assert calibration_reference() == 40.5


def test_a_calibration_without_the_reference_speed_is_measured_again():
    old = cal_mod.Calibration(key=cal_mod.calibration_key(2, torch.__version__), threads=2, version=1)
    cal_mod.save_calibration(old)
    assert cal_mod.load_calibration(threads=2) is None
