"""File dialogs start in the folder of the user's last choice, one memory per kind of dialog."""

from pathlib import Path

from selector.ui.settings import last_folder, remember_folder


def test_each_kind_remembers_its_own_folder(tmp_path):
    assert last_folder("sheet") == str(Path.home())
    remember_folder("sheet", str(tmp_path / "a.json"))
    assert last_folder("sheet") == str(tmp_path)
    assert last_folder("sheet", "recommendation.pdf") == str(tmp_path / "recommendation.pdf")
    assert last_folder("plot") == str(Path.home())  # another kind, untouched
    remember_folder("data", str(tmp_path / "images"))  # a folder picked as a whole
    assert last_folder("data") == str(tmp_path)


def test_a_folder_that_is_gone_falls_back_to_home(tmp_path):
    remember_folder("profile", str(tmp_path / "gone" / "p.json"))
    assert last_folder("profile") == str(Path.home())


def test_save_plot_starts_where_the_last_plot_went(qtbot, tmp_path, monkeypatch):
    from selector.ui import plots_panel

    panel = plots_panel.PlotsPanel()
    qtbot.addWidget(panel)
    started: list[str] = []
    target = tmp_path / "plots" / "pareto.png"
    target.parent.mkdir()

    def fake_dialog(_parent, _title, start, _filters):  # noqa: ANN001
        started.append(start)
        return str(target), ""

    monkeypatch.setattr(plots_panel.QFileDialog, "getSaveFileName", fake_dialog)
    panel.save_dialog()
    panel.save_dialog()
    assert Path(started[0]).parent == Path.home()
    assert Path(started[1]).parent == target.parent
    assert target.exists()
