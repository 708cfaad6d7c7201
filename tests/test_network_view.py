"""NetworkView: items, clicks, in-place updates, context menu (pytest-qt, offscreen)."""
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402
import torch  # noqa: E402

pytest.importorskip("pytestqt")
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt  # noqa: E402
from PySide6.QtGui import QColor, QPalette, QWheelEvent  # noqa: E402

from kanstudio.picture import network_picture  # noqa: E402
from kanstudio.model.network import KAN  # noqa: E402
from kanstudio.training.loop import fit  # noqa: E402
from kanstudio.gui.network.network_items import LabelItem  # noqa: E402
from kanstudio.gui.network.network_view import EdgeItem, NetworkView, NodeItem  # noqa: E402

pytestmark = pytest.mark.gui


@pytest.fixture(scope="module")
def trained():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(300, 2, generator=g, dtype=torch.float64) * 2 - 1
    y = torch.sin(2 * x[:, [0]]) + x[:, [1]] ** 2
    model = KAN([2, 3, 1], grid=3, seed=0)
    fit(model, x, y, steps=5)
    model.set_names(["alpha", "beta"], ["out"])
    return model, x


@pytest.fixture
def view(qtbot, trained):
    model, x = trained
    v = NetworkView()
    qtbot.addWidget(v)
    v.resize(700, 560)
    v.show()
    qtbot.waitExposed(v)
    v.set_picture(network_picture(model, x))
    return v


def _click(qtbot, view, scene_pos, modifier=Qt.KeyboardModifier.NoModifier):
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, modifier, view.mapFromScene(scene_pos))


def test_draws_one_item_per_edge_and_node(view):
    items = view.scene().items()
    assert sum(isinstance(it, EdgeItem) for it in items) == 9
    assert sum(isinstance(it, NodeItem) for it in items) == 6
    assert view.objectName() == "network_view"
    assert view.edge_item(0, 1, 2).key == (0, 1, 2)


def test_labels_use_names_inputs_at_the_bottom(view):
    labels = {it.text(): it for it in view.scene().items() if isinstance(it, LabelItem)}
    assert {"alpha", "beta", "out"} <= set(labels)
    assert labels["alpha"].pos().y() > labels["out"].pos().y()   # inputs below outputs
    assert view.node_item(0, 0).pos().y() > view.node_item(2, 0).pos().y()


def test_click_edge_emits_indices(qtbot, view):
    with qtbot.waitSignal(view.edgeSelected, timeout=1000) as sig:
        _click(qtbot, view, view.edge_scene_pos(0, 1, 2))
    assert sig.args == [0, 1, 2]
    assert view.selected_edge() == (0, 1, 2) and view.edge_item(0, 1, 2).selected_edge
    with qtbot.waitSignal(view.edgeSelected, timeout=1000) as sig:
        _click(qtbot, view, view.edge_scene_pos(1, 2, 0))
    assert sig.args == [1, 2, 0] and not view.edge_item(0, 1, 2).selected_edge


def test_click_empty_space_clears(qtbot, view):
    view.select_edge(0, 0, 0)
    corner = view.mapToScene(QPoint(3, 3))
    with qtbot.waitSignal(view.edgeSelected, timeout=1000) as sig:
        _click(qtbot, view, corner)
    assert sig.args == [-1, -1, -1] and view.selected_edge() is None


def test_node_click_and_ctrl_click_select_nodes(qtbot, view):
    with qtbot.waitSignal(view.nodesSelected, timeout=1000) as sig:
        _click(qtbot, view, view.node_item(0, 0).pos())
    assert sig.args == [[(0, 0)]]
    _click(qtbot, view, view.node_item(1, 2).pos(), Qt.KeyboardModifier.ControlModifier)
    assert view.selected_nodes() == [(0, 0), (1, 2)]


def test_same_topology_updates_in_place(view, trained):
    model, x = trained
    item = view.edge_item(0, 0, 1)
    before = item.points.copy()
    m = model.copy()
    with torch.no_grad():
        m.layers[0].coef[0, 1] += torch.linspace(0, 1, m.layers[0].coef.shape[-1], dtype=m.dtype)
    view.set_picture(network_picture(m, x))
    assert view.edge_item(0, 0, 1) is item
    assert len(view.edge_items()) == 9
    assert abs(item.points - before).max() > 0.1


def test_topology_change_rebuilds(view, trained):
    _, x = trained
    old = view.edge_item(0, 0, 0)
    view.set_picture(network_picture(KAN([2, 4, 1], grid=3), x))
    assert len(view.edge_items()) == 12 and view.edge_item(0, 0, 0) is not old


def test_pruned_edge_disappears_and_symbolic_is_badged(view, trained):
    model, x = trained
    m = model.copy()
    m.set_edge_mask(0, 0, 1, 0.0)
    m.fix_symbolic(0, 1, 0, "sin", (2.0, 0.0, 1.0, 0.0))
    view.set_picture(network_picture(m, x))
    assert not view.edge_item(0, 0, 1).isVisible()
    assert view.edge_item(0, 1, 0).symbolic == "sin"
    tip = view.tooltip_at(view.mapFromScene(view.edge_scene_pos(0, 1, 0)))
    assert "beta \u2192 h1" in tip and "sin" in tip and "R\u00b2" in tip and "score" in tip
    view.set_show_pruned(True)
    assert view.edge_item(0, 0, 1).isVisible()
    assert view.edge_item(0, 1, 0).badge == "sin"
    # a formula the symbolic engine found is named by its own text: badged short, in full in the tooltip
    formula = "exp(-1.0*x)*sin(4.00012*x) + 0.0001"
    m.fix_symbolic(0, 0, 0, formula)
    view.set_picture(network_picture(m, x))
    assert view.edge_item(0, 0, 0).symbolic == formula and view.edge_item(0, 0, 0).badge == "f(x)"
    assert formula in view.tooltip_at(view.mapFromScene(view.edge_scene_pos(0, 0, 0)))


def test_context_menu_actions_emit_edge_action(qtbot, view):
    menu = view.edge_menu(0, 1, 2)
    acts = {a.objectName(): a for a in menu.findChildren(type(menu.actions()[0]))}
    with qtbot.waitSignal(view.edgeAction, timeout=1000) as sig:
        acts["edge_action_prune"].trigger()
    assert sig.args == ["prune", 0, 1, 2, ""]
    with qtbot.waitSignal(view.edgeAction, timeout=1000) as sig:
        acts["edge_action_fix_sin"].trigger()
    assert sig.args == ["fix", 0, 1, 2, "sin"]
    assert {"edge_action_inspect", "edge_action_suggest", "edge_action_unfix"} <= set(acts)
    assert not acts["edge_action_unfix"].isEnabled()   # not fixed yet


def test_wheel_zooms_and_fit_all(view):
    before = view.transform().m11()
    pos = QPointF(view.viewport().rect().center())
    ev = QWheelEvent(pos, view.viewport().mapToGlobal(pos), QPoint(0, 0), QPoint(0, 240),
                     Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    view.wheelEvent(ev)
    assert view.transform().m11() > before * 1.3
    view.fit_all()
    assert view.transform().m11() == pytest.approx(before, rel=1e-6)


def test_clear_shows_nothing(view):
    view.clear()
    assert view.edge_items() == [] and view.picture() is None
    with pytest.raises(KeyError):
        view.edge_scene_pos(0, 0, 0)


def test_theme_follows_palette(view):
    pal = QPalette(view.palette())
    pal.setColor(QPalette.ColorRole.Window, QColor("#202225"))
    pal.setColor(QPalette.ColorRole.WindowText, QColor("#eeeeee"))
    view.setPalette(pal)
    assert view.backgroundBrush().color().lightnessF() < 0.3
    # a strong edge is now light, not dark
    item = max(view.edge_items(), key=lambda it: it.score)
    assert item.pens.colour.lightnessF() > 0.5


def test_render_image(view):
    img = view.render_image(scale=1.0)
    assert img.width() > 100 and img.height() > 100


def test_rubber_band_selects_nodes(qtbot, view):
    from PySide6.QtGui import QMouseEvent
    from PySide6.QtWidgets import QApplication
    a, b = view.node_item(0, 0).pos(), view.node_item(0, 1).pos()
    start = view.mapFromScene(QPointF(a.x() - 30, a.y() + 25))
    end = view.mapFromScene(QPointF(b.x() + 30, b.y() - 25))
    vp = view.viewport()
    with qtbot.waitSignal(view.nodesSelected, timeout=1000):
        qtbot.mousePress(vp, Qt.MouseButton.LeftButton, pos=start)
        for t in (0.3, 0.7, 1.0):
            p = QPointF(start + (end - start) * t)
            QApplication.sendEvent(vp, QMouseEvent(QEvent.Type.MouseMove, p, vp.mapToGlobal(p),
                                                   Qt.MouseButton.NoButton, Qt.MouseButton.LeftButton,
                                                   Qt.KeyboardModifier.NoModifier))
        qtbot.mouseRelease(vp, Qt.MouseButton.LeftButton, pos=end)
    assert view.selected_nodes() == [(0, 0), (0, 1)]
