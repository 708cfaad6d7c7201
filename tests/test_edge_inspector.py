"""EdgeInspector: placeholder, plot, candidates, buttons and their signals."""
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from collections import namedtuple  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

pytest.importorskip("pytestqt")
from PySide6.QtCore import Qt  # noqa: E402

from kanstudio.picture import edge_detail  # noqa: E402
from kanstudio.model.network import KAN  # noqa: E402
from kanstudio.gui.panels.candidate_text import candidate_curve, format_fixed  # noqa: E402
from kanstudio.gui.panels.edge_inspector import EdgeInspector  # noqa: E402

pytestmark = pytest.mark.gui

Cand = namedtuple("Cand", "name r2 complexity params score")
CANDIDATES = [Cand("x^2", 0.999, 2, (1.0, 0.0, 0.5, 0.1), -3.0),
              Cand("sin", 0.98, 2, (2.0, 0.5, 1.0, 0.0), -2.0),
              Cand("x", 0.40, 1, (1.0, 0.0, 0.2, 0.0), -0.5)]


@pytest.fixture(scope="module")
def model_and_x():
    x = torch.rand(500, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 2 - 1
    model = KAN([2, 3, 1], grid=3, seed=0)
    model.set_names(["alpha", "beta"], ["out"])
    return model, x


@pytest.fixture
def insp(qtbot):
    w = EdgeInspector()
    qtbot.addWidget(w)
    w.resize(480, 600)
    w.show()
    return w


def _show(insp, model, x, layer=0, i=1, j=2):
    d = edge_detail(model, x, layer, i, j)
    insp.show_edge(d, layer, i, j, names=d.names)
    return d


def test_placeholder_until_an_edge_is_shown(insp, model_and_x):
    assert insp.objectName() == "edge_inspector"
    assert insp.placeholder.isVisible() and "Click an edge" in insp.placeholder.text()
    for b in (insp.button_suggest, insp.button_fix, insp.button_unfix, insp.button_prune):
        assert not b.isEnabled()
    _show(insp, *model_and_x)
    assert not insp.placeholder.isVisible() and insp.plot_widget.isVisible()
    assert "beta \u2192 h3" in insp.header.text() and "layer 0" in insp.header.text()
    insp.clear()
    assert insp.placeholder.isVisible() and insp.current_edge() is None


def test_plot_shows_curve_samples_and_histogram(insp, model_and_x):
    d = _show(insp, *model_and_x)
    xs, ys = insp._curve.getData()
    np.testing.assert_allclose(xs, d.xs)
    np.testing.assert_allclose(ys, d.ys)
    assert len(insp._scatter.data) == len(d.sample_x)
    assert insp._bars.opts["height"].sum() == 500


def test_buttons_follow_state(insp, model_and_x):
    _show(insp, *model_and_x)
    assert insp.button_suggest.isEnabled() and insp.button_prune.isEnabled()
    assert not insp.button_fix.isEnabled()        # no candidate selected
    assert not insp.button_unfix.isEnabled()      # not fixed
    insp.set_candidates(CANDIDATES)
    assert insp.candidate_table.rowCount() == 3 and not insp.button_fix.isEnabled()
    insp.candidate_table.selectRow(1)
    assert insp.button_fix.isEnabled()
    insp.set_busy(True)
    assert not any(b.isEnabled() for b in (insp.button_suggest, insp.button_fix, insp.button_prune))
    insp.set_busy(False)
    assert insp.button_fix.isEnabled()


def test_candidates_table_and_preview(insp, model_and_x):
    _show(insp, *model_and_x)
    insp.set_candidates(CANDIDATES)
    t = insp.candidate_table
    assert t.objectName() == "candidate_table"
    assert [t.horizontalHeaderItem(c).text() for c in range(t.columnCount())] == \
        ["Function", "R\u00b2", "Complexity", "a", "b", "c", "d"]
    assert t.item(0, 0).text() == "x^2" and t.item(1, 3).text() == "2"
    t.selectRow(1)
    xs, ys = insp._preview.getData()
    np.testing.assert_allclose(ys, np.sin(2 * xs + 0.5), atol=1e-12)


def test_fix_emits_selected_candidate(qtbot, insp, model_and_x):
    _show(insp, *model_and_x)
    insp.set_candidates(CANDIDATES)
    insp.candidate_table.selectRow(1)
    with qtbot.waitSignal(insp.fixRequested, timeout=1000) as sig:
        qtbot.mouseClick(insp.button_fix, Qt.MouseButton.LeftButton)
    assert sig.args == [0, 1, 2, "sin", (2.0, 0.5, 1.0, 0.0)]


def test_suggest_prune_unfix_signals(qtbot, insp, model_and_x):
    model, x = model_and_x
    _show(insp, model, x)
    with qtbot.waitSignal(insp.suggestRequested, timeout=1000) as sig:
        qtbot.mouseClick(insp.button_suggest, Qt.MouseButton.LeftButton)
    assert sig.args == [0, 1, 2]
    with qtbot.waitSignal(insp.pruneRequested, timeout=1000) as sig:
        qtbot.mouseClick(insp.button_prune, Qt.MouseButton.LeftButton)
    assert sig.args == [0, 1, 2]
    m = model.copy()
    m.fix_symbolic(0, 1, 2, "sin", (2.0, 0.0, 1.0, 0.0))
    _show(insp, m, x)
    assert insp.button_unfix.isEnabled() and "fixed" in insp.header.text() and "sin" in insp.header.text()
    with qtbot.waitSignal(insp.unfixRequested, timeout=1000) as sig:
        qtbot.mouseClick(insp.button_unfix, Qt.MouseButton.LeftButton)
    assert sig.args == [0, 1, 2]


def test_pruned_edge_disables_edits(insp, model_and_x):
    model, x = model_and_x
    m = model.copy()
    m.set_edge_mask(0, 1, 2, 0.0)
    _show(insp, m, x)
    assert "pruned" in insp.header.text()
    assert not insp.button_prune.isEnabled() and not insp.button_suggest.isEnabled()


def test_candidates_kept_for_same_edge_cleared_for_another(insp, model_and_x):
    _show(insp, *model_and_x)
    insp.set_candidates(CANDIDATES)
    _show(insp, *model_and_x)
    assert insp.candidate_table.rowCount() == 3
    _show(insp, *model_and_x, layer=1, i=0, j=0)
    assert insp.candidate_table.rowCount() == 0 and insp.candidates() == []


def test_helpers():
    xs = np.linspace(-1, 1, 11)
    np.testing.assert_allclose(candidate_curve("sin", (2, 0.5, 3, 1), xs), 3 * np.sin(2 * xs + 0.5) + 1)
    assert candidate_curve("no-such-function", (1, 0, 1, 0), xs) is None
    assert format_fixed("sin", (3.14159, 0.0, 1.0, 0.0), "x") == "1\u00b7sin(3.14\u00b7x)"
    assert format_fixed("x^2", (1.0, -0.5, 2.0, 0.25), "t") == "2\u00b7(t \u2212 0.5)^2 + 0.25"


def test_parameters_fit_the_narrow_columns():
    from kanstudio.gui.panels.candidate_text import format_param
    assert [format_param(v) for v in (0.0, -0.0, 2.04, 0.0642, -1.49, 50.8)] == ["0", "0", "2.04", "0.0642",
                                                                                  "-1.49", "50.8"]
    for v in (-0.000812, 123456.0, -12345.6, 1e-12, -3.3e-7):
        s = format_param(v)
        assert len(s) <= 7 and float(s) == pytest.approx(v, rel=0.06), (v, s)
