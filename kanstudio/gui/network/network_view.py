"""The network drawing: inputs at the bottom, outputs at the top, one item per edge.

Interface (used by the main window)
-----------------------------------
``NetworkView(parent=None)``, a QGraphicsView with objectName "network_view".

Signals
    ``edgeSelected(int layer, int i, int j)``   left click on an edge; (-1, -1, -1)
                                                 when a click on empty space clears it.
    ``nodesSelected(list)``                      [(level, index), ...] after node click,
                                                 Ctrl+click or rubber band.
    ``edgeAction(str action, int layer, int i, int j, str arg)`` from the edge context
        menu; action in {"inspect", "prune", "fix", "suggest", "unfix"}; arg is the
        function name for "fix", "" otherwise.
Methods
    ``set_picture(pic: NetworkPicture)``  rebuilds the scene only when
        ``pic.topology_key`` changed, otherwise updates glyphs and colours in place
        (cheap enough for 10 Hz during training).
    ``select_edge(layer, i, j)``  highlight an edge (no signal); (-1, -1, -1) clears.
    ``edge_item(layer, i, j) -> EdgeItem | None``; ``edge_scene_pos(layer, i, j) -> QPointF``
        (centre of the edge's glyph box); ``node_item(level, index)``.
    ``selected_edge() -> (layer, i, j) | None``; ``selected_nodes() -> list``;
    ``picture() -> NetworkPicture | None``; ``edge_items()``; ``tooltip_at(viewport_pos) -> str``.
    ``edge_menu(layer, i, j) -> QMenu``  the context menu (edge_menu.py; tests trigger its actions).
    ``set_show_pruned(bool)``  draw pruned edges as faint dashed connectors.
    ``fit_all()``; ``clear()``; ``render_image(scale=2.0) -> QImage`` (PNG export).
Score mode: the caller recomputes the picture (``engine.curves.network_picture``).

Mouse: wheel zooms under the cursor; middle-drag or Space+drag pans; F fits;
Escape clears the selection; hovering an edge highlights it, its tooltip reads
"x1 → h2 · score 0.42 · sin · R²=0.9990".  Colours follow the palette (Window,
WindowText, Highlight), so dark and light themes both work; an edge's colour
is the opaque mix(background, foreground, tanh(3·score)) (floored at 0.07 so
dead edges stay findable), symbolic edges are orange and badged with their
function, the selected edge takes the Highlight colour.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from PySide6.QtCore import QEvent, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QImage, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import (QGraphicsPathItem, QGraphicsScene,
                               QGraphicsView, QMenu, QToolTip)

from .edge_menu import edge_menu
from .network_items import EdgeItem, LabelItem, Layout, NodeItem, Style, edge_tooltip, glyph_points, mix, strength

if TYPE_CHECKING:   # annotations only: importing the engine here would load torch at start-up
    from ...picture import NetworkPicture

__all__ = ["NetworkView", "EdgeItem", "NodeItem"]


class NetworkView(QGraphicsView):
    edgeSelected = Signal(int, int, int)
    nodesSelected = Signal(list)
    edgeAction = Signal(str, int, int, int, str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("network_view")
        self.setScene(QGraphicsScene(self))
        self.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.TextAntialiasing)
        self.setOptimizationFlags(QGraphicsView.OptimizationFlag.DontAdjustForAntialiasing
                                  | QGraphicsView.OptimizationFlag.DontSavePainterState)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.SmartViewportUpdate)
        self.setDragMode(QGraphicsView.DragMode.RubberBandDrag)
        self.setRubberBandSelectionMode(Qt.ItemSelectionMode.IntersectsItemShape)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMinimumSize(200, 150)
        self.setFrameShape(QGraphicsView.Shape.NoFrame)
        self.scene().selectionChanged.connect(self._emit_nodes)
        self._style = Style(self.palette())
        self.setBackgroundBrush(self._style.bg)
        self._picture: Optional[NetworkPicture] = None
        self._key = None
        self._edges: dict[tuple, EdgeItem] = {}
        self._nodes: dict[tuple, NodeItem] = {}
        self._labels: list[tuple[int, int, LabelItem]] = []
        self._links: list[QGraphicsPathItem] = []
        self._selected: Optional[tuple] = None
        self._show_pruned = False
        self._auto_fit = True
        self._fit_scale = 1.0
        self._space = False
        self._pan_from: Optional[QPointF] = None

    # ------------------------------------------------------------------ API
    def set_picture(self, pic: NetworkPicture):
        rebuilt = pic.topology_key != self._key
        if rebuilt:
            self._rebuild(pic)
        self._picture = pic
        self._apply(pic)
        if rebuilt:  # labels are placed by _apply: fit after it
            rect = self.scene().itemsBoundingRect()
            m = max(rect.width(), rect.height())  # room to pan past the edges
            self.setSceneRect(rect.adjusted(-m, -m, m, m))
            self.fit_all()

    def picture(self) -> Optional[NetworkPicture]:
        return self._picture

    def needs_rebuild(self, pic: NetworkPicture) -> bool:
        """set_picture(pic) would rebuild the scene (new topology: ~20 ms for
        a few hundred edges), not just restyle it."""
        return pic.topology_key != self._key

    def clear(self):
        had = self._selected is not None
        self.scene().clear()
        self._edges, self._nodes, self._labels, self._links = {}, {}, [], []
        self._picture, self._key, self._selected = None, None, None
        self.viewport().update()
        if had:
            self.edgeSelected.emit(-1, -1, -1)

    def edge_item(self, layer: int, i: int, j: int) -> Optional[EdgeItem]:
        return self._edges.get((layer, i, j))

    def node_item(self, level: int, index: int) -> Optional[NodeItem]:
        return self._nodes.get((level, index))

    def edge_items(self) -> list:
        return list(self._edges.values())

    def edge_scene_pos(self, layer: int, i: int, j: int) -> QPointF:
        item = self._edges.get((layer, i, j))
        if item is None:
            raise KeyError(f"no edge ({layer}, {i}, {j}) in the view")
        return item.center()

    def selected_edge(self) -> Optional[tuple]:
        return self._selected

    def select_edge(self, layer: int, i: int, j: int):
        """Highlight an edge without emitting edgeSelected; (-1, -1, -1) clears."""
        key = (layer, i, j)
        if self._selected is not None and self._selected in self._edges:
            self._edges[self._selected].set_selected_edge(False)
        self._selected = key if key in self._edges else None
        if self._selected is not None:
            self._edges[key].set_selected_edge(True)

    def selected_nodes(self) -> list:
        return sorted(it.key for it in self.scene().selectedItems() if isinstance(it, NodeItem))

    def set_show_pruned(self, on: bool):
        self._show_pruned = bool(on)
        if self._picture is not None:
            self._apply(self._picture)

    def fit_all(self):
        rect = self.scene().itemsBoundingRect()
        if rect.isEmpty():
            return
        self.fitInView(rect.adjusted(-20, -20, 20, 20), Qt.AspectRatioMode.KeepAspectRatio)
        self._fit_scale = self.transform().m11()
        self._auto_fit = True

    def render_image(self, scale: float = 2.0) -> QImage:
        """The whole network on the theme background (for PNG export)."""
        rect = self.scene().itemsBoundingRect().adjusted(-20, -20, 20, 20)
        img = QImage(max(1, int(rect.width() * scale)), max(1, int(rect.height() * scale)),
                     QImage.Format.Format_ARGB32_Premultiplied)
        img.fill(self._style.bg)
        p = QPainter(img)
        p.setRenderHints(self.renderHints())
        self.scene().render(p, QRectF(img.rect()), rect)
        p.end()
        return img

    def edge_menu(self, layer: int, i: int, j: int) -> QMenu:
        """Context menu of an edge; every action emits edgeAction."""
        return edge_menu(self, self._edges[(layer, i, j)],
                         lambda action, arg: self.edgeAction.emit(action, layer, i, j, arg))

    # -------------------------------------------------------------- building
    def _rebuild(self, pic: NetworkPicture):
        had = self._selected is not None
        scene = self.scene()              # once: each wrapper call costs ~15 us, x 500 edges
        scene.clear()
        self._edges, self._nodes, self._labels, self._links = {}, {}, [], []
        self._selected = None
        self._layout = lay = Layout(pic)
        n_points = pic.layers[0].xs.shape[1] if pic.layers else 2
        for l, lp in enumerate(pic.layers):
            cx, cy, side = lay.boxes[l]
            for i in range(lp.mask.shape[0]):
                for j in range(lp.mask.shape[1]):
                    box = QRectF(cx[i, j] - side / 2, cy - side / 2, side, side)
                    item = EdgeItem(self._style, l, i, j, lay.nodes[l][i], lay.subnodes[l + 1][j], box, n_points)
                    scene.addItem(item)
                    self._edges[(l, i, j)] = item
        for l in range(pic.depth + 1):
            n_sum = pic.width[l][0]
            for k, pos in enumerate(lay.nodes[l]):
                node = NodeItem(self._style, l, k, pos, mult=k >= n_sum)
                scene.addItem(node)
                self._nodes[(l, k)] = node
            if pic.width[l][1]:
                self._add_links(pic, l)
        for l in (0, pic.depth):
            for k in range(pic.n_nodes(l)):
                label = LabelItem(self._style, lay.nodes[l][k], below=l == 0)
                scene.addItem(label)
                self._labels.append((l, k, label))
        self._key = pic.topology_key
        if had:
            self.edgeSelected.emit(-1, -1, -1)

    def _add_links(self, pic: NetworkPicture, level: int):
        """Operand subnodes of multiplication nodes: dots joined to their node."""
        path = QPainterPath()
        n_sum = pic.width[level][0]
        for s, owner in enumerate(pic.subnode_owner[level]):
            if owner >= n_sum:
                p = self._layout.subnodes[level][s]
                path.addEllipse(p, 2.5, 2.5)
                path.moveTo(p)
                path.lineTo(self._layout.nodes[level][owner])
        item = QGraphicsPathItem(path)
        item.setZValue(3)
        self.scene().addItem(item)
        self._links.append(item)

    def _apply(self, pic: NetworkPicture):
        """Glyphs, colours, labels and tooltips from a picture of the same topology."""
        st = self._style
        for l, lp in enumerate(pic.layers):
            cx, cy, side = self._layout.boxes[l]
            px, py = glyph_points(lp.xs, lp.ys, cx, cy, side)
            t = strength(lp.scores)
            for i in range(lp.mask.shape[0]):
                for j in range(lp.mask.shape[1]):
                    item = self._edges[(l, i, j)]
                    alive = bool(lp.mask[i, j] > 0)
                    item.resize(px.shape[-1])
                    item.points[:, 0] = px[i, j]
                    item.points[:, 1] = py[i, j]
                    item.set_state(alive, lp.symbolic[i][j], float(lp.scores[i, j]),
                                   float(lp.sym_r2[i, j]), float(t[i, j]))
                    item.setVisible(alive or self._show_pruned)
                    item.update()
        for (l, k), node in self._nodes.items():
            score = float(pic.node_scores[l][k]) if l < len(pic.node_scores) else 1.0
            node.set_strength(float(strength(score)))
        pen = QPen(mix(st.bg, st.fg, 0.6), 1.2)
        pen.setCosmetic(True)
        for item in self._links:
            item.setPen(pen)
            item.setBrush(mix(st.bg, st.fg, 0.6))
        for l, k, label in self._labels:
            label.set_text(pic.node_name(l, k))

    # ---------------------------------------------------------------- mouse
    def _item_at(self, pos):
        """Node, else the edge whose glyph box is under pos, else any edge stroke."""
        hits = [it for it in self.items(pos) if isinstance(it, (EdgeItem, NodeItem))]
        if not hits or isinstance(hits[0], NodeItem):
            return hits[0] if hits else None
        scene_pos = self.mapToScene(pos)
        for item in hits:  # a connector crossing a box must not steal the box's click
            if isinstance(item, EdgeItem) and item.box.contains(scene_pos):
                return item
        return hits[0]

    def mousePressEvent(self, event):
        left = event.button() == Qt.MouseButton.LeftButton
        if event.button() == Qt.MouseButton.MiddleButton or (left and self._space):
            self._pan_from = event.position()
            self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)
            event.accept()
            return
        if left:
            item = self._item_at(event.position().toPoint())
            if isinstance(item, EdgeItem):
                if not event.modifiers() & Qt.KeyboardModifier.ControlModifier:
                    self.scene().clearSelection()
                self.select_edge(*item.key)
                self.edgeSelected.emit(*item.key)
                event.accept()
                return
            if item is None:
                self.select_edge(-1, -1, -1)
                self.edgeSelected.emit(-1, -1, -1)
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event):
        if self._pan_from is not None:
            d = event.position() - self._pan_from
            self._pan_from = event.position()
            self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() - int(d.x()))
            self.verticalScrollBar().setValue(self.verticalScrollBar().value() - int(d.y()))
            self._auto_fit = False
            event.accept()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event):
        if self._pan_from is not None:
            self._pan_from = None
            self.viewport().setCursor(Qt.CursorShape.OpenHandCursor if self._space else Qt.CursorShape.ArrowCursor)
            event.accept()
            return
        super().mouseReleaseEvent(event)

    def wheelEvent(self, event):
        factor = 1.0015 ** event.angleDelta().y()
        scale = self.transform().m11()
        lo = min(0.02, 0.5 * self._fit_scale)  # sane bounds, whatever the network's size
        factor = min(max(factor, lo / scale), 12.0 / scale)
        self.scale(factor, factor)
        self._auto_fit = False
        event.accept()

    def contextMenuEvent(self, event):
        item = self._item_at(event.pos())
        if isinstance(item, EdgeItem):
            self.edge_menu(*item.key).exec(event.globalPos())
            event.accept()
        else:
            super().contextMenuEvent(event)

    def keyPressEvent(self, event):
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = True
            self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
        elif event.key() == Qt.Key.Key_F:
            self.fit_all()
        elif event.key() == Qt.Key.Key_Escape:
            self.scene().clearSelection()
            if self._selected is not None:
                self.select_edge(-1, -1, -1)
                self.edgeSelected.emit(-1, -1, -1)
        else:
            super().keyPressEvent(event)

    def keyReleaseEvent(self, event):
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = False
            self.viewport().setCursor(Qt.CursorShape.ArrowCursor)
        else:
            super().keyReleaseEvent(event)

    # ----------------------------------------------------- events and theme
    def viewportEvent(self, event):
        if event.type() == QEvent.Type.ToolTip:  # built lazily, not on every update
            text = self.tooltip_at(event.pos())
            if text:
                QToolTip.showText(event.globalPos(), text, self)
            else:
                QToolTip.hideText()
            return True
        return super().viewportEvent(event)

    def tooltip_at(self, pos) -> str:
        """Tooltip text for the item under a viewport position ("" for none)."""
        item, pic = self._item_at(pos), self._picture
        if pic is None or item is None:
            return ""
        if isinstance(item, EdgeItem):
            return edge_tooltip(pic, *item.key)
        l, k = item.key
        kind = " \u00b7 multiplication" if k >= pic.width[l][0] else ""
        return f"{pic.node_name(l, k)} \u00b7 score {pic.node_scores[l][k]:.3g}{kind}"

    def resizeEvent(self, event):
        super().resizeEvent(event)
        if self._auto_fit:
            self.fit_all()

    def changeEvent(self, event):
        if event.type() == QEvent.Type.PaletteChange:
            self._style = Style(self.palette())
            self.setBackgroundBrush(self._style.bg)
            for item in [*self._edges.values(), *self._nodes.values(), *(lab for *_, lab in self._labels)]:
                item.style = self._style
                item.update()
            if self._picture is not None:
                self._apply(self._picture)
        super().changeEvent(event)

    def drawForeground(self, painter, rect):
        if self._picture is None:  # a friendly empty state, not a blank canvas
            painter.save()
            painter.resetTransform()
            painter.setPen(mix(self._style.bg, self._style.fg, 0.55))
            painter.drawText(self.viewport().rect(), Qt.AlignmentFlag.AlignCenter,
                             "Open a CSV and press Fit:\nthe network will be drawn here.")
            painter.restore()

    def _emit_nodes(self):
        if self.scene() is not None:
            self.nodesSelected.emit(self.selected_nodes())
