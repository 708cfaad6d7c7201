"""The History dock: every edit of the project, bound to the undo stack.

A QUndoView: clicking an entry undoes or redoes up to it; the entry matching
the last save carries a "saved" icon.  Edits recorded in a project opened
from disk cannot be undone any more; they are listed above, greyed.
"""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QUndoStack
from PySide6.QtWidgets import QLabel, QListWidget, QListWidgetItem, QStyle, QUndoView, QVBoxLayout, QWidget

__all__ = ["HistoryPanel"]


class HistoryPanel(QWidget):
    def __init__(self, stack: QUndoStack, parent=None):
        super().__init__(parent)
        self.setObjectName("history_panel")
        self.view = QUndoView(stack)
        self.view.setObjectName("history_view")
        self.view.setEmptyLabel("Start (data imported)")
        self.view.setCleanIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_DialogSaveButton))
        self.view.setAlternatingRowColors(True)
        self.past = QListWidget()
        self.past.setObjectName("history_past")
        self.past.setToolTip("Edits saved in the project file (they cannot be undone)")
        self.past.setVisible(False)
        self.past.setMaximumHeight(110)
        self.hint = QLabel("Click an entry to go back to that point; Ctrl+Z / Ctrl+Shift+Z step.")
        self.hint.setWordWrap(True)
        self.hint.setEnabled(False)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(self.past)
        lay.addWidget(self.view, 1)
        lay.addWidget(self.hint)
        self._stack = stack

    def labels(self) -> list[str]:
        """Past (loaded) edits, then the undoable ones."""
        return self.past_labels() + [self._stack.text(i) for i in range(self._stack.count())]

    def past_labels(self) -> list[str]:
        return [self.past.item(i).text() for i in range(self.past.count())]

    def set_past(self, labels: list[str]):
        self.past.clear()
        for text in labels:
            item = QListWidgetItem(text)
            item.setFlags(Qt.ItemFlag.ItemIsEnabled)
            item.setForeground(self.palette().color(self.palette().ColorGroup.Disabled,
                                                    self.palette().ColorRole.Text))
            self.past.addItem(item)
        self.past.setVisible(bool(labels))
        self.view.setEmptyLabel("Opened from file" if labels else "Start (data imported)")

    def set_enabled_for_edits(self, on: bool):
        """Disabled while a job runs in the worker (the model is being replaced)."""
        self.view.setEnabled(on)
