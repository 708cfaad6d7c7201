"""The CSV import dialog and bad files: clear messages, an app that stays usable."""
from __future__ import annotations

import pytest

pytest.importorskip("pytestqt")
from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtWidgets import QApplication, QDialogButtonBox  # noqa: E402

pytestmark = pytest.mark.gui


@pytest.fixture
def dialog_for(qtbot, gui_env):
    from kanstudio.gui.dialogs.import_dialog import ImportDialog
    made = []

    def make(path):
        dlg = ImportDialog(path)
        qtbot.addWidget(dlg)
        made.append(dlg)
        return dlg
    return make


def ok_button(dlg):
    return dlg.buttons.button(QDialogButtonBox.StandardButton.Ok)


def test_defaults_guess_the_last_numeric_column(dialog_for, hello_csv):
    dlg = dialog_for(hello_csv)
    assert dlg.targets() == ["f"] and dlg.inputs() == ["x", "y"]
    assert dlg.preview.rowCount() == 50 and dlg.preview.columnCount() == 3
    assert ok_button(dlg).isEnabled()
    o = dlg.options()
    assert o["test_fraction"] == pytest.approx(0.2) and o["seed"] == 0 and o["normalization"] == "standard"
    assert "240 training rows, 60 test rows" in dlg.summary.text()


def test_rows_dropped_are_counted_with_reasons(dialog_for, tmp_path):
    p = tmp_path / "dirty.csv"
    p.write_text("a,b,label,y\n1,2,u,3\n2,,v,4\n3,4,w,inf\n4,x,w,5\n5,6,z,7\n6,7,q,8\n", encoding="utf-8")
    dlg = dialog_for(p)
    assert dlg.role_of("label") == "ignore" and dlg.targets() == ["y"]
    text = dlg.summary.text()
    assert "dropped" in text and "missing" in text and "infinite" in text
    assert dlg.dataset is not None and dlg.dataset.n_rows == 3


def test_preview_shows_numbers_as_read_and_row_counters_start_ignored(dialog_for, tmp_path):
    p = tmp_path / "lab.csv"
    p.write_text("row;L;g;T\n1;1,5;9,81;2,46\n2;0,25;n/a;1,0\n3;1,2,3;9,81;2,2\n4;2,0;9,81;2,84\n",
                 encoding="utf-8")
    dlg = dialog_for(p)
    assert dlg.role_of("row") == "ignore" and dlg.inputs() == ["L", "g"] and dlg.targets() == ["T"]
    item = dlg.preview.item
    assert item(0, 1).text() == "1.5" and item(0, 2).text() == "9.81"     # decimal commas read as points
    assert item(1, 2).text() == "" and item(1, 2).toolTip() == "missing value"
    assert item(2, 1).text() == "1,2,3" and item(2, 1).toolTip() == "not a number"
    assert dlg.dataset.n_rows == 2
    dlg.set_role("row", "input")                                          # still the user's choice
    assert dlg.inputs() == ["row", "L", "g"]


def test_changing_roles_updates_the_dataset(dialog_for, hello_csv):
    dlg = dialog_for(hello_csv)
    dlg.set_role("y", "ignore")
    assert dlg.dataset.input_names == ["x"]
    dlg.set_role("f", "ignore")
    assert not ok_button(dlg).isEnabled() and "target" in dlg.error_text()
    dlg.set_role("f", "target")
    dlg.norm_combo.setCurrentIndex(dlg.norm_combo.findData("minmax"))
    dlg.test_spin.setValue(0.5)
    assert dlg.dataset.normalization == "minmax" and len(dlg.dataset.test_idx) == 150


def test_units_come_from_the_header_and_can_be_typed(qtbot, dialog_for, tmp_path):
    csv = tmp_path / "units.csv"
    csv.write_text("v [m/s],m (kg),E\n" + "\n".join(f"{i / 2 + 0.3},{i % 7 + 1},{(i / 2 + 0.3) ** 2 * (i % 7 + 1) / 2}"
                                                  for i in range(1, 30)))
    dlg = dialog_for(csv)
    assert dlg.unit_edits["v"].text() == "m/s" and dlg.unit_edits["m"].text() == "kg"
    assert dlg.dataset.units == {"v": "m/s", "m": "kg"}
    edit = dlg.unit_edits["E"]
    edit.setText("furlongs_per_blorp")
    edit.editingFinished.emit()
    assert not ok_button(dlg).isEnabled() and "not a unit" in dlg.error_text()
    edit.setText("J")
    edit.editingFinished.emit()
    assert ok_button(dlg).isEnabled() and dlg.dataset.units == {"v": "m/s", "m": "kg", "E": "J"}
    assert "E [J]" in dlg.summary.text()


def test_semicolon_decimal_comma_and_latin1_read_as_a_person_would(dialog_for, tmp_path):
    p = tmp_path / "european.csv"
    p.write_bytes("température;pression;débit\n1,5;2,25;3,0\n2,5;3,5;4,75\n3,0;1,0;2,0\n".encode("latin-1"))
    dlg = dialog_for(p)
    assert dlg.inputs() == ["température", "pression"] and dlg.targets() == ["débit"]
    assert dlg.dataset.X[0].tolist() == [1.5, 2.25]


@pytest.mark.parametrize("content, words", [
    (b"", "empty"),
    (b"just_one_column\n1\n2\n3\n", "one column"),
    (b"\x00\x01\x02binary\x00stuff", "binary"),
    (b"a,a,b\n1,2,3\n4,5,6\n", "duplicate"),
])
def test_bad_files_show_an_error_and_leave_the_app_usable(qtbot, main_window, tmp_path, hello_csv,
                                                          content, words):
    win = main_window
    bad = tmp_path / "bad.csv"
    bad.write_bytes(content)
    assert win.open_csv(str(bad)) is None
    assert win.last_error is not None and words in win.last_error[1]
    dialogs = [w for w in QApplication.topLevelWidgets() if w.objectName() == "error_dialog" and w.isVisible()]
    assert dialogs, "the error is shown in a dialog"
    dialogs[0].close()
    # still usable: a good file imports
    win.open_csv(str(hello_csv), accept_defaults=True)
    assert win.doc.has_data and win.action_fit.isEnabled()


def test_missing_file_and_folder(main_window, tmp_path):
    assert main_window.open_csv(str(tmp_path / "nope.csv")) is None
    assert "not found" in main_window.last_error[1]
    assert main_window.open_csv(str(tmp_path)) is None
    assert "folder" in main_window.last_error[1]


def test_import_dialog_cancel_keeps_the_previous_state(qtbot, main_window, hello_csv):
    win = main_window
    dlg = win.open_csv(str(hello_csv))
    qtbot.mouseClick(dlg.buttons.button(QDialogButtonBox.StandardButton.Cancel), Qt.MouseButton.LeftButton)
    assert not win.doc.has_data
    assert win.on_start_page()


def test_data_panel_describes_the_dataset(main_window, hello_csv):
    win = main_window
    win.open_csv(str(hello_csv), accept_defaults=True)
    text = win.data_panel.summary.text()
    assert "hello_world.csv" in text and "300 rows" in text
    assert win.data_panel.table.rowCount() == 3


def test_a_group_label_starts_ignored_with_the_reason(dialog_for, tmp_path):
    p = tmp_path / "long.csv"
    rows = [f"{g},{t},{g * 0.1 + t}" for g in (4, 5, 6) for t in (1, 2, 3)]
    p.write_text("plot,t,h\n" + "\n".join(rows) + "\n", encoding="utf-8")
    dlg = dialog_for(p)
    assert dlg.role_of("plot") == "ignore" and dlg.inputs() == ["t"]
    assert "groups of rows" in dlg.role_combos["plot"].toolTip()
    dlg.set_role("plot", "input")       # the user knows better: it is used
    assert dlg.inputs() == ["plot", "t"]
