import json

from selector.core.preferences import Preferences, load_preferences, preferences_path, save_preferences


def test_round_trip_and_recent_list():
    prefs = Preferences(device="cpu", threads=2, latency_budget_ms=20.0)
    for i in range(12):
        prefs.remember_data(f"/data/{i}")
    prefs.remember_data("/data/3")
    save_preferences(prefs)
    again = load_preferences()
    assert again == prefs
    assert again.recent_data[0] == "/data/3" and len(again.recent_data) == 8
    assert again.recent_data.count("/data/3") == 1


def test_missing_damaged_or_invalid_files_fall_back_to_defaults():
    assert load_preferences() == Preferences()
    preferences_path().write_text("{broken")
    assert load_preferences() == Preferences()
    preferences_path().write_text(json.dumps({"dtype": "int3", "threads": 4, "future_key": 1,
                                              "batch_size": 0}))
    prefs = load_preferences()
    assert prefs.dtype == "fp32" and prefs.batch_size == 1  # invalid values: defaults
    assert prefs.threads == 4  # valid ones kept
