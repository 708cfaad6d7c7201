"""What ``kanstudio`` shows before any data is open: open buttons, recent
files, and the sample datasets (sample_datasets/*.csv, described by the
folder's README when it says something about them)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from PySide6.QtCore import QRect, QSize, Qt, Signal
from PySide6.QtGui import QFont, QFontMetrics, QPalette
from PySide6.QtWidgets import (QFrame, QHBoxLayout, QLabel, QListWidget, QListWidgetItem,
                               QPushButton, QSizePolicy, QStyle, QStyledItemDelegate,
                               QStyleOptionViewItem, QVBoxLayout, QWidget)

from ..theme import app_icon

__all__ = ["StartPage", "SampleDataset", "sample_datasets", "samples_dir", "readme_descriptions"]


def samples_dir() -> Optional[Path]:
    p = Path(__file__).resolve().parents[3] / "sample_datasets"
    return p if p.is_dir() else None


@dataclass
class SampleDataset:
    path: Path
    title: str
    description: str


def _clean(text: str) -> str:
    text = re.sub(r"`([^`]*)`", r"\1", text)
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)       # [label](url) -> label
    text = text.replace("**", "").replace("__", "")
    return " ".join(text.strip(" \t-*:|#>—–").split())


def _cells(line: str) -> list[str]:
    return [_clean(c) for c in line.strip().strip("|").split("|")]


def _table_description(lines: list[str], k: int, name: str, stem: str) -> str:
    """A markdown table row: the formula/description column (and the row count) if
    the header names them, else the other cells joined."""
    cells = _cells(lines[k])
    header = None
    for back in range(k - 1, -1, -1):
        if not lines[back].lstrip().startswith("|"):
            break
        if not set(lines[back].replace("|", "").strip()) <= set("-: "):
            header = [h.lower() for h in _cells(lines[back])]
    if header and len(header) == len(cells):
        pick = {}
        for h, c in zip(header, cells):
            for key in ("formula", "description", "law", "what", "rows"):
                if key in h and key not in pick and c:
                    pick[key] = c
        main = pick.get("formula") or pick.get("description") or pick.get("law") or pick.get("what")
        if main:
            return main + (f" · {pick['rows']} rows" if "rows" in pick else "")
    rest = [c for c in cells if c and name not in c and c != stem and not set(c) <= set("-: ")]
    return " — ".join(rest)


def readme_descriptions(readme: str, names: list[str]) -> dict[str, str]:
    """One line per CSV, from a table row, a bullet or a heading that names it."""
    lines = readme.splitlines()
    out: dict[str, str] = {}
    for name in names:
        stem = Path(name).stem
        for k, line in enumerate(lines):
            if name not in line and not re.search(rf"(^|[\s`*#]){re.escape(stem)}([\s`*:]|$)", line):
                continue
            if line.lstrip().startswith("|"):
                desc = _table_description(lines, k, name, stem)
            else:
                desc = _clean(line.replace(name, "", 1) if name in line else line.replace(stem, "", 1))
                if len(desc) < 12 or line.lstrip().startswith("#"):
                    para = []
                    for nxt in lines[k + 1:]:
                        if not nxt.strip():
                            if para:
                                break
                            continue
                        if nxt.lstrip().startswith(("#", "|")):
                            break
                        para.append(nxt)
                    desc = _clean(" ".join([desc] + para))
            if desc:
                out[name] = desc[:300] + ("…" if len(desc) > 300 else "")
                break
    return out


def sample_datasets(folder: Optional[Path] = None) -> list[SampleDataset]:
    """Every CSV under the samples folder (sub-folders too), each described by
    the README of its own folder when that names it."""
    folder = folder or samples_dir()
    if folder is None or not folder.is_dir():
        return []
    out = []
    files = sorted(folder.rglob("*.csv"), key=lambda f: (len(f.relative_to(folder).parts), str(f)))
    readmes: dict[Path, str] = {}
    for f in files:
        d = f.parent
        if d not in readmes:
            readmes[d] = ""
            for cand in ("README.md", "README.txt", "README"):
                if (d / cand).is_file():
                    try:
                        readmes[d] = (d / cand).read_text(encoding="utf-8", errors="replace")
                    except OSError:
                        pass
                    break
        desc = readme_descriptions(readmes[d], [f.name]).get(f.name, "") if readmes[d] else ""
        group = "" if d == folder else f"{d.relative_to(folder)}: "
        out.append(SampleDataset(f, group + f.stem.replace("_", " ").replace("-", " "), desc))
    return out


class _TwoLineDelegate(QStyledItemDelegate):
    """Items whose text is "title\ndescription": the title bold, the description dimmed."""

    PAD = 6

    def sizeHint(self, option, index):
        fm = QFontMetrics(option.font)
        lines = max(1, str(index.data() or "").count("\n") + 1)
        return QSize(200, lines * fm.height() + 2 * self.PAD)

    def paint(self, painter, option, index):
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        text = str(index.data() or "")     # opt.text has its newlines replaced
        opt.text = ""
        style = opt.widget.style() if opt.widget else QStyle()
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, opt.widget)
        title, _, desc = text.partition("\n")
        icon_w = opt.decorationSize.width() + 2 * self.PAD if not opt.icon.isNull() else self.PAD
        r = opt.rect.adjusted(icon_w, self.PAD, -self.PAD, -self.PAD)
        selected = bool(opt.state & QStyle.StateFlag.State_Selected)
        pal = opt.palette
        fg = pal.color(QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text)
        dim = fg if selected else pal.color(QPalette.ColorRole.PlaceholderText)
        if not (index.flags() & Qt.ItemFlag.ItemIsEnabled):
            dim = fg = pal.color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text)
        fm = QFontMetrics(opt.font)
        painter.save()
        plain = QFont(opt.font)
        bold = QFont(opt.font)
        bold.setBold(bool(desc))
        painter.setFont(bold)
        painter.setPen(fg)
        painter.drawText(QRect(r.left(), r.top(), r.width(), fm.height()), Qt.AlignmentFlag.AlignLeft,
                         QFontMetrics(bold).elidedText(title, Qt.TextElideMode.ElideRight, r.width()))
        painter.setFont(plain)
        painter.setPen(dim)
        for k, line in enumerate(desc.splitlines()):
            painter.drawText(QRect(r.left(), r.top() + (k + 1) * fm.height(), r.width(), fm.height()),
                             Qt.AlignmentFlag.AlignLeft, fm.elidedText(line, Qt.TextElideMode.ElideRight, r.width()))
        painter.restore()


class StartPage(QWidget):
    openCsvRequested = Signal()
    openProjectRequested = Signal()
    openPathRequested = Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("start_page")
        icon = QLabel()
        icon.setPixmap(app_icon().pixmap(64, 64))
        title = QLabel("<div style='font-size:22pt; font-weight:600'>kanstudio</div>"
                       "<div style='font-size:11pt'>Fit a Kolmogorov-Arnold Network, talk to its edges, "
                       "leave with a formula.</div>")
        head = QHBoxLayout()
        head.addWidget(icon)
        head.addSpacing(12)
        head.addWidget(title, 1)

        self.open_csv_button = QPushButton("Open CSV…")
        self.open_csv_button.setObjectName("start_open_csv")
        self.open_csv_button.setIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_FileIcon))
        self.open_csv_button.clicked.connect(self.openCsvRequested)
        self.open_project_button = QPushButton("Open project…")
        self.open_project_button.setObjectName("start_open_project")
        self.open_project_button.setIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_DirOpenIcon))
        self.open_project_button.clicked.connect(self.openProjectRequested)
        for b in (self.open_csv_button, self.open_project_button):
            b.setMinimumHeight(34)
            b.setMinimumWidth(150)
            b.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        buttons = QHBoxLayout()
        buttons.addWidget(self.open_csv_button)
        buttons.addWidget(self.open_project_button)
        buttons.addStretch(1)

        self.samples = self._list("start_samples")
        self.recent = self._list("start_recent")
        cols = QHBoxLayout()
        cols.addLayout(self._column("Sample datasets", self.samples,
                                    "Double-click a sample to import it."), 3)
        cols.addSpacing(16)
        cols.addLayout(self._column("Recent files", self.recent, "Files you opened lately."), 2)

        hint = QLabel("You can also drop a .csv or .kanproj file anywhere on this window.")
        hint.setObjectName("start_hint")
        hint.setEnabled(False)

        inner = QWidget()
        inner.setMaximumWidth(1000)
        lay = QVBoxLayout(inner)
        lay.setContentsMargins(32, 28, 32, 20)
        lay.addLayout(head)
        lay.addSpacing(14)
        lay.addLayout(buttons)
        lay.addSpacing(14)
        lay.addLayout(cols, 1)
        lay.addWidget(hint)
        outer = QHBoxLayout(self)
        outer.addStretch(1)
        outer.addWidget(inner, 12)
        outer.addStretch(1)
        self.set_samples(sample_datasets())
        self.set_recent([])

    def _list(self, name: str) -> QListWidget:
        w = QListWidget()
        w.setObjectName(name)
        w.setWordWrap(True)
        w.setSpacing(2)
        w.setUniformItemSizes(False)
        w.setIconSize(QSize(20, 20))
        w.setFrameShape(QFrame.Shape.StyledPanel)
        w.itemActivated.connect(self._activated)
        w.setItemDelegate(_TwoLineDelegate(w))
        w.setMouseTracking(True)
        return w

    @staticmethod
    def _column(title: str, widget: QWidget, tip: str) -> QVBoxLayout:
        lay = QVBoxLayout()
        label = QLabel(f"<b>{title}</b>")
        label.setToolTip(tip)
        lay.addWidget(label)
        lay.addWidget(widget, 1)
        return lay

    def set_samples(self, samples: list[SampleDataset]):
        self.samples.clear()
        icon = self.style().standardIcon(QStyle.StandardPixmap.SP_FileIcon)
        for s in samples:
            text = s.title + (f"\n{s.description}" if s.description else "")
            item = QListWidgetItem(icon, text)
            item.setData(Qt.ItemDataRole.UserRole, str(s.path))
            item.setToolTip(str(s.path))
            self.samples.addItem(item)
        if not samples:
            item = QListWidgetItem("No sample datasets found next to the application.")
            item.setFlags(Qt.ItemFlag.NoItemFlags)
            self.samples.addItem(item)

    def sample_paths(self) -> list[str]:
        return [self.samples.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.samples.count())
                if self.samples.item(i).data(Qt.ItemDataRole.UserRole)]

    def set_recent(self, paths: list[str]):
        self.recent.clear()
        for p in paths:
            path = Path(p)
            kind = QStyle.StandardPixmap.SP_DirIcon if path.suffix == ".kanproj" else QStyle.StandardPixmap.SP_FileIcon
            item = QListWidgetItem(self.style().standardIcon(kind), f"{path.name}\n{path.parent}")
            item.setData(Qt.ItemDataRole.UserRole, str(path))
            item.setToolTip(str(path))
            self.recent.addItem(item)
        if not paths:
            item = QListWidgetItem("Nothing yet.")
            item.setFlags(Qt.ItemFlag.NoItemFlags)
            self.recent.addItem(item)

    def _activated(self, item: QListWidgetItem):
        path = item.data(Qt.ItemDataRole.UserRole)
        if path:
            self.openPathRequested.emit(str(path))
