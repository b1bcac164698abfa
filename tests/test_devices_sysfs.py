"""The sysfs reader the AMD and Intel modules share: cards of one PCI vendor in card order,
connectors skipped, missing or odd attributes read as empty rather than raising."""

from __future__ import annotations

from selector.core.devices.common import drm_cards, read_sysfs, read_sysfs_int


def _card(root, name, vendor, **files):
    dev = root / name / "device"
    dev.mkdir(parents=True)
    (dev / "vendor").write_text(vendor + "\n")
    for key, value in files.items():
        (dev / key).write_text(value)
    return dev


def test_drm_cards_picks_one_vendor_in_order_and_skips_connectors(tmp_path):
    amd1 = _card(tmp_path, "card1", "0x1002")
    _card(tmp_path, "card0", "0x8086")
    amd0 = _card(tmp_path, "card0-DP-1", "0x1002")  # a connector, not a card
    amd2 = _card(tmp_path, "card2", "0x1002")
    assert list(drm_cards(tmp_path, "0x1002")) == [amd1, amd2]
    assert amd0 not in list(drm_cards(tmp_path, "0x1002"))
    assert [d.parent.name for d in drm_cards(tmp_path, "0x8086")] == ["card0"]
    assert list(drm_cards(tmp_path / "absent", "0x1002")) == []


def test_attributes_read_as_text_or_int_and_absent_as_empty(tmp_path):
    dev = _card(tmp_path, "card0", "0x1002", mem_info_vram_total="17163091968\n", product_name="x\n",
                mem_info_gtt_total="n/a")
    assert read_sysfs(dev / "product_name") == "x"
    assert read_sysfs_int(dev / "mem_info_vram_total") == 17163091968
    assert read_sysfs_int(dev / "mem_info_gtt_total") is None
    assert read_sysfs(dev / "missing") == "" and read_sysfs_int(dev / "missing") is None
