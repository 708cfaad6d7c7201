"""Graphics items of the network view: edges (connector + function glyph) and nodes.

Painting is kept cheap because a network can hold hundreds of edges that are
repainted up to 10 times a second during training:

* every colour is *opaque and pre-mixed*: mix(background, foreground, t) with
  t = tanh(3 * score); no alpha blending per edge;
* an edge's glyph is a QPolygonF whose memory the view fills from numpy in
  place (``points`` gives the [n, 2] view), so an update allocates nothing;
* pens are built when the state changes, not in ``paint``;
* far zoomed out (level of detail < LOD_LINES) an edge is two straight lines.

Items use scene coordinates directly (their position stays at 0, 0).
``Layout`` places nodes, mult-node operands and glyph boxes (inputs at the
bottom; each layer's boxes in one row ordered by (source, target), as in the
KAN papers); ``glyph_points`` maps every curve of a layer into its box at once.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Optional

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetricsF, QPainterPath, QPainterPathStroker, QPalette, QPen, QPolygonF
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem
from pyqtgraph.functions import ndarray_from_qpolygonf

if TYPE_CHECKING:   # annotations only: importing the engine here would load torch at start-up
    from ...picture import NetworkPicture


BETA = 3.0            # strength = tanh(BETA * score), the KAN paper's beta
MIN_STRENGTH = 0.07   # dead edges stay faintly visible, hence clickable
LOD_LINES = 0.3       # below this zoom an edge is drawn as plain lines
LOD_BOLD = 0.9        # from this zoom on glyph curves are drawn 1.7 px wide
_LEVELS = 64          # strength quantisation of the shared pens
HIT_WIDTH = 9.0       # width of the clickable stroke around a connector (scene units)
BADGE_CHARS = 10      # a longer function name (a formula the symbolic engine found, named by its
FORMULA_BADGE = "f(x)"  # own text) is badged as this; the edge inspector shows it in full


def mix(a: QColor, b: QColor, t: float) -> QColor:
    """Opaque colour a*(1-t) + b*t."""
    t = min(max(float(t), 0.0), 1.0)
    return QColor.fromRgbF(a.redF() + (b.redF() - a.redF()) * t,
                           a.greenF() + (b.greenF() - a.greenF()) * t,
                           a.blueF() + (b.blueF() - a.blueF()) * t, 1.0)


def strength(score) -> np.ndarray:
    s = np.nan_to_num(np.asarray(score, dtype=np.float64), nan=0.0, posinf=1.0, neginf=0.0)
    return np.clip(np.tanh(BETA * np.maximum(s, 0.0)), MIN_STRENGTH, 1.0)


class Style:
    """Colours, pens and fonts derived from the widget palette (dark or light)."""

    def __init__(self, palette: QPalette):
        self.bg = palette.color(QPalette.ColorRole.Window)
        self.fg = palette.color(QPalette.ColorRole.WindowText)
        self.select = palette.color(QPalette.ColorRole.Highlight)
        dark = self.bg.lightnessF() < 0.5
        # Symbolic edges: a warm hue that stays distinct from the (blue) selection.
        self.symbolic = QColor("#ff8a3d") if dark else QColor("#d4500f")
        self.box_fill = QBrush(mix(self.bg, self.fg, 0.035))
        self.badge_fill = QBrush(self.bg)
        self.badge_font = QFont()
        self.badge_font.setPixelSize(11)
        self.badge_font.setBold(True)
        self.badge_metrics = QFontMetricsF(self.badge_font)
        self.label_font = QFont()
        self.label_font.setPixelSize(14)
        self.label_font.setBold(True)
        self.label_metrics = QFontMetricsF(self.label_font)
        self.select_pen = _pen(self.select, 2.6)
        self.select_frame = _pen(self.select, 2.0)
        self.dead_pen = _pen(mix(self.bg, self.fg, 0.18), 1.0, Qt.PenStyle.DashLine)
        self.cross_pen = _pen(self.bg, 1.6)
        self._pens: dict = {}

    def edge_colour(self, t: float, symbolic: bool) -> QColor:
        return mix(self.bg, self.symbolic, max(t, 0.35)) if symbolic else mix(self.bg, self.fg, t)

    def edge_pens(self, t: float, symbolic: bool) -> "EdgePens":
        """Pens for an edge of strength t, shared by all edges of (nearly) equal
        strength: t is quantised to 1/64, so an update allocates no pens."""
        key = (int(round(t * _LEVELS)), symbolic)
        pens = self._pens.get(key)
        if pens is None:
            q = key[0] / _LEVELS
            colour = self.edge_colour(q, symbolic)
            frame = mix(self.bg, colour, 0.55) if symbolic else mix(self.bg, self.fg, 0.12 + 0.3 * q)
            # the hover pen is wide: only one item uses it at a time
            pens = self._pens[key] = EdgePens(colour, _pen(colour), _pen(frame),
                                              _pen(mix(colour, self.fg, 0.5), 2.2), _pen(colour, 1.7))
        return pens


class EdgePens:
    __slots__ = ("colour", "line", "frame", "hover", "curve")

    def __init__(self, colour, line, frame, hover, curve):
        self.colour, self.line, self.frame, self.hover, self.curve = colour, line, frame, hover, curve


def _pen(colour: QColor, width: float = 1.0, style=Qt.PenStyle.SolidLine) -> QPen:
    """Cosmetic (zoom-independent) pen.  Width 1 keeps Qt's fast antialiased
    path: 1.5 px lines cost ~4x more to rasterise, round caps ~10x."""
    pen = QPen(colour, width, style)
    pen.setCosmetic(True)
    pen.setCapStyle(Qt.PenCapStyle.FlatCap)
    pen.setJoinStyle(Qt.PenJoinStyle.MiterJoin)
    return pen


class EdgeItem(QGraphicsItem):
    """Edge (layer, i, j): node i of level l -> box with the function glyph -> subnode j."""

    def __init__(self, style: Style, layer: int, i: int, j: int,
                 src: QPointF, dst: QPointF, box: QRectF, n_points: int):
        super().__init__()
        self.key = (layer, i, j)
        self.style = style
        # Built 500 times per scene rebuild: every wrapper call here counts
        # (plain floats where they will do).
        self.src, self.dst, self.box = QPointF(src), QPointF(dst), QRectF(box)
        bx, by, bw, bh = box.x(), box.y(), box.width(), box.height()
        cx = bx + bw / 2
        self._bottom = QPointF(cx, by + bh)
        self._top = QPointF(cx, by)
        self._connector = QPolygonF([self.src, self._bottom, self._top, self.dst])
        pad = 14.0
        sx, sy, dx, dy = src.x(), src.y(), dst.x(), dst.y()
        x0, y0 = min(sx, dx, bx) - pad, min(sy, dy, by) - pad
        self._bounds = QRectF(x0, y0, max(sx, dx, bx + bw) + pad - x0, max(sy, dy, by + bh) + pad - y0)
        self._shape: Optional[QPainterPath] = None
        self.poly = QPolygonF()
        self.points = np.zeros((0, 2))
        self.resize(n_points)
        self.selected_edge = False
        self.hovered = False
        self.alive, self.symbolic, self.score, self.r2 = True, None, 0.0, math.nan
        self.badge = ""
        self._badge_rect = QRectF()
        self.pens = style.edge_pens(1.0, False)
        self.setAcceptHoverEvents(True)      # z stays 0 (the default) until hovered or selected

    # --------------------------------------------------------------- state
    def resize(self, n: int):
        """(Re)allocate the glyph polygon; ``points`` is a writable [n, 2] view of it."""
        if len(self.poly) != n:
            self.poly = QPolygonF()
            self.poly.resize(n)
            self.points = ndarray_from_qpolygonf(self.poly)

    def set_state(self, alive: bool, symbolic: Optional[str], score: float, r2: float, t: float):
        if symbolic and symbolic != self.symbolic:
            self.badge = symbolic if len(symbolic) <= BADGE_CHARS else FORMULA_BADGE
            w = self.style.badge_metrics.horizontalAdvance(self.badge) + 6
            h = self.style.badge_metrics.height() + 1
            self._badge_rect = QRectF(self.box.center().x() - w / 2, self.box.bottom() + 3, w, h)
        self.alive, self.symbolic, self.score, self.r2 = alive, symbolic, score, r2
        self.pens = self.style.edge_pens(t, symbolic is not None)

    def set_selected_edge(self, on: bool):
        if on != self.selected_edge:
            self.selected_edge = on
            self.setZValue(2 if on else (1 if self.hovered else 0))
            self.update()

    # ------------------------------------------------------------ geometry
    def center(self) -> QPointF:
        return self.box.center()

    def boundingRect(self) -> QRectF:
        return self._bounds

    def shape(self) -> QPainterPath:
        if self._shape is None:  # a fat stroke: thin curves stay easy to hit
            path = QPainterPath(self.src)
            path.lineTo(self._bottom)
            path.moveTo(self._top)
            path.lineTo(self.dst)
            stroker = QPainterPathStroker()
            stroker.setWidth(HIT_WIDTH)
            shape = stroker.createStroke(path)
            shape.addRect(self.box)
            self._shape = shape.simplified()
        return self._shape

    # --------------------------------------------------------------- paint
    def paint(self, painter, option, widget=None):
        pens, st = self.pens, self.style
        lod = QStyleOptionGraphicsItem.levelOfDetailFromTransform(painter.worldTransform())
        if not self.alive:
            painter.setPen(st.dead_pen)
            painter.drawPolyline(self._connector)
            return
        painter.setPen(st.select_pen if self.selected_edge else (pens.hover if self.hovered else pens.line))
        if lod < LOD_LINES:  # far out: one straight line costs half of the bent connector
            painter.drawLine(self.src, self.dst)
            return
        painter.drawPolyline(self._connector)   # the box hides its middle segment
        painter.setBrush(st.box_fill)
        painter.setPen(st.select_frame if self.selected_edge else (pens.hover if self.hovered else pens.frame))
        painter.drawRect(self.box)
        # A bold glyph only when zoomed in, where few items are on screen.
        painter.setPen(st.select_pen if self.selected_edge else (pens.curve if lod >= LOD_BOLD else pens.line))
        painter.drawPolyline(self.poly)
        if self.symbolic:
            painter.setBrush(st.badge_fill)
            painter.setPen(pens.frame)
            painter.drawRoundedRect(self._badge_rect, 3, 3)
            painter.setFont(st.badge_font)
            painter.setPen(pens.colour)
            painter.drawText(self._badge_rect, Qt.AlignmentFlag.AlignCenter, self.badge)

    def hoverEnterEvent(self, event):
        self.hovered = True
        self.setZValue(max(self.zValue(), 1))
        self.update()

    def hoverLeaveEvent(self, event):
        self.hovered = False
        self.setZValue(2 if self.selected_edge else 0)
        self.update()


class NodeItem(QGraphicsItem):
    """A sum node (circle) or a multiplication node (square with a cross)."""

    RADIUS = 8.0

    def __init__(self, style: Style, level: int, index: int, pos: QPointF, mult: bool):
        super().__init__()
        self.key = (level, index)
        self.style, self.mult = style, mult
        self.setPos(pos)
        self.set_strength(1.0)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable, True)
        # Constant size on screen: nodes stay visible when zoomed far out.
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations, True)
        self.setZValue(4)

    def set_strength(self, t: float):
        self._fill = QBrush(mix(self.style.bg, self.style.fg, max(t, 0.3)))
        self._edge = _pen(mix(self.style.bg, self.style.fg, 0.85), 1.2)
        self.update()

    def boundingRect(self) -> QRectF:
        r = self.RADIUS + 4
        return QRectF(-r, -r, 2 * r, 2 * r)

    def shape(self) -> QPainterPath:
        path = QPainterPath()
        r = self.RADIUS + 3
        path.addEllipse(QRectF(-r, -r, 2 * r, 2 * r))
        return path

    def paint(self, painter, option, widget=None):
        r = self.RADIUS
        painter.setBrush(self._fill)
        painter.setPen(self.style.select_frame if self.isSelected() else self._edge)
        if self.mult:
            painter.drawRect(QRectF(-r, -r, 2 * r, 2 * r))
            painter.setPen(self.style.cross_pen)
            c = 0.5 * r
            painter.drawLine(QPointF(-c, -c), QPointF(c, c))
            painter.drawLine(QPointF(-c, c), QPointF(c, -c))
        else:
            painter.drawEllipse(QRectF(-r, -r, 2 * r, 2 * r))
        if self.isSelected():
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.setPen(self.style.select_pen)
            painter.drawEllipse(QRectF(-r - 3, -r - 3, 2 * r + 6, 2 * r + 6))


class LabelItem(QGraphicsItem):
    """A node's name, centred below (inputs) or above (outputs) it, at a constant
    screen size so it stays readable at any zoom."""

    MAX_WIDTH = 180.0   # pixels; longer names are elided (the tooltip has them in full)

    def __init__(self, style: Style, anchor: QPointF, below: bool):
        super().__init__()
        self.style, self.below = style, below
        self._text, self._rect = "", QRectF()
        self.setPos(anchor)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations, True)
        self.setZValue(5)

    def text(self) -> str:
        return self._text

    def set_text(self, text: str):
        fm = self.style.label_metrics
        text = fm.elidedText(str(text), Qt.TextElideMode.ElideRight, self.MAX_WIDTH)
        if text == self._text:
            return
        self.prepareGeometryChange()
        w, h, gap = fm.horizontalAdvance(text) + 2, fm.height(), NodeItem.RADIUS + 5
        self._text = text
        self._rect = QRectF(-w / 2, gap if self.below else -gap - h, w, h)

    def boundingRect(self) -> QRectF:
        return self._rect

    def paint(self, painter, option, widget=None):
        painter.setFont(self.style.label_font)
        painter.setPen(self.style.fg)
        painter.drawText(self._rect, Qt.AlignmentFlag.AlignCenter, self._text)


# ------------------------------------------------------------------ layout
BOX, PITCH, NODE_GAP = 46.0, 58.0, 110.0   # glyph box side, box spacing, min node spacing
LEVEL_H, BOX_UP = 240.0, 0.36              # level spacing; box centre height within a layer
SUB_DROP, SUB_GAP = 30.0, 16.0             # mult operands: below their node, spaced apart


class Layout:
    """Scene positions of nodes, subnodes and glyph boxes (pykan-style rows of boxes)."""

    def __init__(self, pic: NetworkPicture):
        depth = pic.depth
        n_edges = [lp.mask.size for lp in pic.layers]
        self.width = max(max(n_edges) * PITCH, max(map(pic.n_nodes, range(depth + 1))) * NODE_GAP, 320.0)
        self.level_h = max(LEVEL_H, 0.15 * self.width)  # a very wide network is not a thin strip
        y = lambda level: (depth - level) * self.level_h  # noqa: E731 (inputs at the bottom)
        self.nodes = [[QPointF((k + 0.5) / pic.n_nodes(l) * self.width, y(l))
                       for k in range(pic.n_nodes(l))] for l in range(depth + 1)]
        self.subnodes = []
        for l in range(depth + 1):
            n_sum, pts = pic.width[l][0], []
            for s, owner in enumerate(pic.subnode_owner[l]):
                p = self.nodes[l][owner]
                if owner >= n_sum:
                    ops = pic.mult_operands[l][owner - n_sum]
                    off = (ops.index(s) - (len(ops) - 1) / 2) * SUB_GAP
                    p = QPointF(p.x() + off, p.y() + SUB_DROP)
                pts.append(p)
            self.subnodes.append(pts)
        self.boxes = []   # per layer: (centre x [in, out], centre y, side)
        for l, lp in enumerate(pic.layers):
            n_in, n_out = lp.mask.shape
            pitch = self.width / (n_in * n_out)
            side = min(BOX, 0.8 * pitch)
            cx = ((np.arange(n_in * n_out) + 0.5) * pitch).reshape(n_in, n_out)
            self.boxes.append((cx, y(l) - BOX_UP * self.level_h, side))


def glyph_points(xs, ys, cx, cy, side, pad_frac=0.14):
    """Map every edge's curve into its box: ([in, out, n] x, [in, out, n] y) scene coords."""
    pad = pad_frac * side
    inner = side - 2 * pad
    xs = np.nan_to_num(xs, nan=0.0, posinf=0.0, neginf=0.0)  # a diverged model must not break painting
    lo, hi = xs.min(1, keepdims=True), xs.max(1, keepdims=True)
    u = (xs - lo) / np.where(hi - lo > 0, hi - lo, 1.0)                     # [in, n]
    px = (cx - side / 2 + pad)[:, :, None] + inner * u[:, None, :]
    ys = np.nan_to_num(ys, nan=0.0, posinf=0.0, neginf=0.0)
    ylo, yhi = ys.min(-1, keepdims=True), ys.max(-1, keepdims=True)
    span = yhi - ylo
    # A floor relative to the layer keeps nearly flat functions flat instead of
    # blowing their noise up to full height.
    floor = max(0.02 * float(span.max(initial=0.0)), 1e-12)
    v = (ys - 0.5 * (ylo + yhi)) / np.maximum(span, floor)                   # [-0.5, 0.5]
    py = cy - inner * v
    return px, py


def edge_tooltip(pic: NetworkPicture, l: int, i: int, j: int) -> str:
    lp = pic.layers[l]
    parts = [pic.edge_label(l, i, j), f"score {lp.scores[i, j]:.3g}"]
    if lp.mask[i, j] <= 0:
        parts.append("pruned")
    elif lp.symbolic[i][j]:
        parts.append(lp.symbolic[i][j])
        r2 = lp.sym_r2[i, j]
        if not math.isnan(r2):
            parts.append(f"R\u00b2={r2:.4f}")
    else:
        parts.append("spline")
    return " \u00b7 ".join(parts)
