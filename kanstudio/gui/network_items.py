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
"""
from __future__ import annotations

import math
from typing import Optional

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetricsF, QPainterPath, QPainterPathStroker, QPalette, QPen, QPolygonF
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem
from pyqtgraph.functions import ndarray_from_qpolygonf

BETA = 3.0            # strength = tanh(BETA * score), DESIGN §1
MIN_STRENGTH = 0.07   # dead edges stay faintly visible, hence clickable
LOD_LINES = 0.3       # below this zoom an edge is drawn as plain lines
HIT_WIDTH = 9.0       # width of the clickable stroke around a connector (scene units)


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
        self.badge_font.setPixelSize(9)
        self.badge_metrics = QFontMetricsF(self.badge_font)
        self.label_font = QFont()
        self.label_font.setPixelSize(15)
        self.label_font.setBold(True)
        self.select_pen = _pen(self.select, 2.6)
        self.select_frame = _pen(self.select, 2.0)

    def edge_colour(self, t: float, symbolic: bool) -> QColor:
        return mix(self.bg, self.symbolic, max(t, 0.35)) if symbolic else mix(self.bg, self.fg, t)


def _pen(colour: QColor, width: float, style=Qt.PenStyle.SolidLine) -> QPen:
    pen = QPen(colour, width, style)
    pen.setCosmetic(True)            # crisp, zoom-independent line widths
    pen.setCapStyle(Qt.PenCapStyle.RoundCap)
    pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
    return pen


class EdgeItem(QGraphicsItem):
    """Edge (layer, i, j): node i of level l -> box with the function glyph -> subnode j."""

    def __init__(self, style: Style, layer: int, i: int, j: int,
                 src: QPointF, dst: QPointF, box: QRectF, n_points: int):
        super().__init__()
        self.key = (layer, i, j)
        self.style = style
        self.src, self.dst, self.box = QPointF(src), QPointF(dst), QRectF(box)
        self._bottom = QPointF(box.center().x(), box.bottom())
        self._top = QPointF(box.center().x(), box.top())
        pad = 14.0
        self._bounds = QRectF(src, dst).normalized().united(box).adjusted(-pad, -pad, pad, pad)
        self._shape: Optional[QPainterPath] = None
        self.poly = QPolygonF()
        self.points = np.zeros((0, 2))
        self.resize(n_points)
        self.selected_edge = False
        self.hovered = False
        self.alive, self.symbolic, self.score, self.r2 = True, None, 0.0, math.nan
        self.tooltip = ""
        self._badge_rect = QRectF()
        self.set_colours(style.fg, style.fg)
        self.setAcceptHoverEvents(True)
        self.setZValue(0)

    # --------------------------------------------------------------- state
    def resize(self, n: int):
        """(Re)allocate the glyph polygon; ``points`` is a writable [n, 2] view of it."""
        if len(self.poly) != n:
            self.poly = QPolygonF()
            self.poly.resize(n)
            self.points = ndarray_from_qpolygonf(self.poly)

    def set_state(self, alive: bool, symbolic: Optional[str], score: float, r2: float, t: float):
        self.alive, self.symbolic, self.score, self.r2 = alive, symbolic, score, r2
        colour = self.style.edge_colour(t, symbolic is not None)
        frame = mix(self.style.bg, colour, 0.55) if symbolic else mix(self.style.bg, self.style.fg, 0.12 + 0.3 * t)
        self.set_colours(colour, frame)
        if symbolic:
            w = self.style.badge_metrics.horizontalAdvance(symbolic) + 6
            h = self.style.badge_metrics.height() + 1
            self._badge_rect = QRectF(self.box.center().x() - w / 2, self.box.bottom() + 3, w, h)

    def set_colours(self, colour: QColor, frame: QColor):
        self._line_pen = _pen(colour, 1.3)
        self._curve_pen = _pen(colour, 1.7)
        self._frame_pen = _pen(frame, 1.0)
        self._hover_pen = _pen(mix(colour, self.style.fg, 0.5), 2.4)
        self._dead_pen = _pen(mix(self.style.bg, self.style.fg, 0.18), 1.0, Qt.PenStyle.DashLine)
        self._text_colour = colour

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
        lod = QStyleOptionGraphicsItem.levelOfDetailFromTransform(painter.worldTransform())
        if not self.alive:
            painter.setPen(self._dead_pen)
            painter.drawLine(self.src, self._bottom)
            painter.drawLine(self._top, self.dst)
            return
        emphasis = self.style.select_pen if self.selected_edge else (
            self._hover_pen if self.hovered else self._line_pen)
        painter.setPen(emphasis)
        painter.drawLine(self.src, self._bottom)
        painter.drawLine(self._top, self.dst)
        if lod < LOD_LINES:
            painter.drawLine(self._bottom, self._top)
            return
        painter.setBrush(self.style.box_fill)
        painter.setPen(self.style.select_frame if self.selected_edge else
                       (self._hover_pen if self.hovered else self._frame_pen))
        painter.drawRect(self.box)
        painter.setPen(self._curve_pen)
        painter.drawPolyline(self.poly)
        if self.symbolic and lod >= 0.6:
            painter.setBrush(self.style.badge_fill)
            painter.setPen(self._frame_pen)
            painter.drawRoundedRect(self._badge_rect, 3, 3)
            painter.setFont(self.style.badge_font)
            painter.setPen(self._text_colour)
            painter.drawText(self._badge_rect, Qt.AlignmentFlag.AlignCenter, self.symbolic)

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
        self.tooltip = ""
        self.set_strength(1.0)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable, True)
        self.setAcceptHoverEvents(True)
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
            painter.setPen(_pen(self.style.bg, 1.6))
            c = 0.5 * r
            painter.drawLine(QPointF(-c, -c), QPointF(c, c))
            painter.drawLine(QPointF(-c, c), QPointF(c, -c))
        else:
            painter.drawEllipse(QRectF(-r, -r, 2 * r, 2 * r))
        if self.isSelected():
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.setPen(self.style.select_pen)
            painter.drawEllipse(QRectF(-r - 3, -r - 3, 2 * r + 6, 2 * r + 6))
