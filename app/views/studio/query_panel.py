"""The query set: images to classify (drop, paste, open, or draw one), each with its predicted
class and one confidence bar per class; a drawn query is classified live while it is drawn.
"""
from __future__ import annotations

from PySide6.QtCore import QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFontMetrics, QPainter, QPalette
from PySide6.QtWidgets import (QFrame, QHBoxLayout, QLabel, QListWidget, QListWidgetItem, QPushButton,
                               QSizePolicy, QToolButton, QVBoxLayout, QWidget)

from app.controllers.undo import Editor
from app.model import images
from app.model import Project
from app.model.predictions import Prediction
from app.views.widgets.common import ElidedLabel, RemovableList, accepts, clipboard_payload, mime_payload, sample_source, set_drop_highlight, thumb_icon
from app.views.widgets.style import icon

from .canvas import CanvasPanel

QUERY_THUMB = 56


class ConfidenceBars(QWidget):
    """One labelled horizontal bar per class; the most likely class is drawn in the accent colour.
    On a selected row (`on_highlight`) the background is already the accent colour, so the bars
    are drawn in the highlighted-text colour instead: solid for the most likely class, fainter for
    the others, over a faint groove that an empty bar leaves empty. With `reserve_rows` it keeps
    the height of all `max_rows` rows while it shows fewer (or none), so the widgets around it do
    not move when a result arrives."""

    def __init__(self, parent: QWidget | None = None, max_rows: int = 6, reserve_rows: bool = False):
        super().__init__(parent)
        self.names: list[str] = []
        self.probs: list[float] = []
        self.max_rows = max_rows
        self.reserve_rows = reserve_rows
        self.on_highlight = False
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def set_on_highlight(self, on: bool) -> None:
        if on != self.on_highlight:
            self.on_highlight = on
            self.update()

    def set_values(self, names: list[str], probs: list[float]) -> None:
        self.names, self.probs = list(names), list(probs)
        self.updateGeometry()
        self.update()

    def _rows(self) -> list[tuple[str, float]]:
        # The top classes by confidence (a 20-way set would not fit otherwise); the rest summed.
        pairs = sorted(zip(self.names, self.probs), key=lambda t: -t[1])
        if len(pairs) > self.max_rows:
            rest = sum(p for _, p in pairs[self.max_rows - 1:])
            pairs = pairs[: self.max_rows - 1] + [(f"{len(pairs) - self.max_rows + 1} others", rest)]
        return pairs

    def row_height(self) -> int:
        return QFontMetrics(self.font()).height() + 2

    def sizeHint(self) -> QSize:
        rows = self.max_rows if self.reserve_rows else max(1, len(self._rows()))
        return QSize(200, rows * self.row_height())

    def minimumSizeHint(self) -> QSize:
        return QSize(120, self.sizeHint().height())

    def _colors(self) -> tuple[QColor, QColor, QColor, QColor]:
        """(text, groove, the most likely class's bar, the other bars)."""
        pal = self.palette()
        if not self.on_highlight:
            return (pal.color(QPalette.ColorRole.Text), pal.color(QPalette.ColorRole.AlternateBase),
                    pal.color(QPalette.ColorRole.Highlight), pal.color(QPalette.ColorRole.Mid))
        ink = pal.color(QPalette.ColorRole.HighlightedText)
        groove, other = QColor(ink), QColor(ink)
        groove.setAlpha(50)
        other.setAlpha(150)
        return ink, groove, ink, other

    def paintEvent(self, event) -> None:
        p = QPainter(self)
        fm = QFontMetrics(self.font())
        h = self.row_height()
        rows = self._rows()
        label_w = min(90, max((fm.horizontalAdvance(n) for n, _ in rows), default=20) + 6)
        pct_w = fm.horizontalAdvance("100%") + 6
        bar_w = max(10, self.width() - label_w - pct_w)
        text, groove, best, other = self._colors()
        for i, (name, prob) in enumerate(rows):
            y = i * h
            p.setPen(text)
            p.drawText(QRectF(0, y, label_w - 4, h), Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft,
                       fm.elidedText(name, Qt.TextElideMode.ElideRight, label_w - 4))
            track = QRectF(label_w, y + 3, bar_w, h - 6)
            p.fillRect(track, groove)
            p.fillRect(QRectF(track.x(), track.y(), bar_w * max(0.0, min(1.0, prob)), track.height()), best if i == 0 else other)
            p.setPen(text)
            p.drawText(QRectF(label_w + bar_w, y, pct_w, h), Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight, f"{prob:.0%}")


class QueryRow(QWidget):
    def __init__(self, sample, parent: QWidget | None = None):
        super().__init__(parent)
        self.sample = sample
        thumb = QLabel()
        thumb.setPixmap(thumb_icon(sample, QUERY_THUMB).pixmap(QUERY_THUMB, QUERY_THUMB))
        thumb.setFixedSize(QUERY_THUMB + 4, QUERY_THUMB + 4)
        # Which file (or drawing) this is: with ten dropped files the thumbnails alone do not say.
        short, tip = sample_source(sample)
        self.source = ElidedLabel(short)
        self.source.setObjectName("muted")
        self.source.setVisible(bool(short))
        self.setToolTip(tip)
        self.prediction = QLabel("not classified yet")
        self.prediction.setObjectName("prediction")
        self.bars = ConfidenceBars(max_rows=3)
        right = QVBoxLayout()
        right.setSpacing(2)
        right.addWidget(self.source)
        right.addWidget(self.prediction)
        right.addWidget(self.bars)
        right.addStretch(1)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(4, 4, 8, 4)
        lay.addWidget(thumb)
        lay.addLayout(right, 1)

    def set_selected(self, selected: bool) -> None:
        """The list paints a selected row's background in the accent colour: its prediction and
        bars then take the highlighted-text colour, so they stay readable on it."""
        own = QPalette()  # no roles of its own: the label inherits the row's colours
        if selected:
            own.setColor(QPalette.ColorRole.WindowText, self.palette().color(QPalette.ColorRole.HighlightedText))
        self.prediction.setPalette(own)
        self.bars.set_on_highlight(selected)

    def set_result(self, prediction: Prediction | None, pending: bool = False) -> None:
        """Show a prediction; without one, say whether a classification covering this row is under way."""
        if prediction is None:
            self.prediction.setText("classifying…" if pending else "not classified yet")
            self.bars.set_values([], [])
            return
        best = prediction.best
        self.prediction.setText(f"→ {prediction.names[best]}  {prediction.probs[best]:.0%}")
        self.bars.set_values(prediction.names, prediction.probs)


class QueryList(RemovableList):
    """The query rows; Delete or the context menu removes the selected queries."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setVerticalScrollMode(QListWidget.ScrollMode.ScrollPerPixel)


class QueryPanel(QWidget):
    addFilesRequested = Signal()
    classifyRequested = Signal()
    liveChanged = Signal()  # the drawing changed: the window re-classifies it, throttled
    problem = Signal(str, str)

    def __init__(self, project: Project, editor: Editor | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.project = project
        self.edit = editor or Editor(project, self)  # every change goes through it (undo)
        self.setAcceptDrops(True)
        self.pending: set[int] = set()  # queries a running or queued classification covers
        title = QLabel("Query set")
        title.setObjectName("heading")
        hint = QLabel("drop, paste or draw images to classify")
        hint.setObjectName("muted")
        self.add_btn = self._tool("image", "Add images…", "Add query images from files")
        self.add_btn.clicked.connect(self.addFilesRequested)
        self.paste_btn = self._tool("paste", "Paste", "Paste an image from the clipboard")
        self.paste_btn.clicked.connect(self.paste)
        self.clear_btn = self._tool("clear", "Clear", "Remove every query")
        self.clear_btn.clicked.connect(self.edit.clear_queries)
        self.classify_btn = QPushButton(icon("classify", "white"), "Classify")
        self.classify_btn.setObjectName("primary")
        self.classify_btn.setToolTip("Adapt the model to the support set and classify every query")
        self.classify_btn.clicked.connect(self.classifyRequested)
        head = QHBoxLayout()
        head.addWidget(title)
        head.addWidget(hint)
        head.addStretch(1)
        for b in (self.add_btn, self.paste_btn, self.clear_btn):
            head.addWidget(b)
        head.addWidget(self.classify_btn)

        # Left: the live drawing with its own result.
        self.draw = CanvasPanel(compact=True)
        self.draw.setFixedWidth(180)
        self.live_prediction = QLabel("Draw a query")
        self.live_prediction.setObjectName("prediction")
        # Its rows reserved: the canvas above must not shrink and move under the pen when the
        # first live result arrives, or the next stroke lands off where it was aimed.
        self.live_bars = ConfidenceBars(max_rows=3, reserve_rows=True)
        self.keep_btn = QPushButton(icon("add"), "Add to queries")
        self.keep_btn.setToolTip("Keep this drawing as a query and clear the canvas")
        self.keep_btn.clicked.connect(self.keep_drawing)
        live = QVBoxLayout()
        live.setSpacing(4)
        live.addWidget(self.draw, 1)
        live.addWidget(self.live_prediction)
        live.addWidget(self.live_bars)
        live.addWidget(self.keep_btn)
        live_box = QFrame()
        live_box.setObjectName("card")
        live_box.setLayout(live)
        live_box.setFixedWidth(196)
        self.draw.canvas.changed.connect(self.liveChanged)

        self.list = QueryList()
        self.list.removeRequested.connect(self.edit.remove_samples)
        self.list.itemSelectionChanged.connect(self._show_selection)
        self.empty_hint = QLabel("No queries yet — drop images here")
        self.empty_hint.setObjectName("muted")
        self.empty_hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        body = QHBoxLayout()
        body.addWidget(live_box)
        body.addWidget(self.list, 1)
        body.addWidget(self.empty_hint, 1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(head)
        lay.addLayout(body, 1)
        self._ids: list[int] = []
        project.queriesChanged.connect(self.refresh)
        project.predictions.changed.connect(self.show_results)  # the rows draw the project's predictions
        project.classesChanged.connect(lambda: self.set_live(None, None))  # the drawing's answer was about the old support set
        self.refresh()

    def _tool(self, name: str, text: str, tip: str) -> QToolButton:
        b = QToolButton()
        b.setIcon(icon(name))
        b.setText(text)
        b.setToolTip(tip)
        b.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        return b

    def rows(self) -> list[QueryRow]:
        return [self.list.itemWidget(self.list.item(i)) for i in range(self.list.count())]

    def refresh(self) -> None:
        ids = [s.id for s in self.project.queries]
        if ids != self._ids:
            self._ids = ids
            self.list.clear()
            for s in self.project.queries:
                item = QListWidgetItem()
                item.setData(Qt.ItemDataRole.UserRole, s.id)
                row = QueryRow(s)
                # Room for the prediction line and three bars, whatever the font size / scaling.
                bars_h = 3 * row.bars.row_height()
                source_h = row.source.sizeHint().height() + 2 if row.source.full_text else 0
                item.setSizeHint(QSize(260, max(QUERY_THUMB + 12, source_h + row.prediction.sizeHint().height() + bars_h + 14)))
                item.setToolTip(row.toolTip())
                self.list.addItem(item)
                self.list.setItemWidget(item, row)
            self._show_selection()
        self.show_results()
        self.list.setVisible(bool(ids))
        self.empty_hint.setVisible(not ids)

    def show_results(self) -> None:
        """Each row's prediction (the project's), or whether one is under way."""
        for row in self.rows():
            row.set_result(self.project.predictions.get(row.sample.id), pending=row.sample.id in self.pending)

    def _show_selection(self) -> None:
        for i in range(self.list.count()):
            item = self.list.item(i)
            row = self.list.itemWidget(item)
            if row is not None:  # None while refresh() is still filling the list
                row.set_selected(item.isSelected())

    def set_pending(self, ids: set[int]) -> None:
        if ids != self.pending:
            self.pending = set(ids)
            self.show_results()

    def drawing(self) -> bytes | None:
        """The live drawing as a PNG; None while its canvas is blank."""
        return None if self.draw.canvas.is_blank() else self.draw.canvas.to_png()

    def has_result(self, sample_id: int) -> bool:
        """Whether the query's row shows a prediction (the screenshot script waits on it)."""
        return sample_id in self.project.predictions

    def clear_results(self) -> None:
        """Another model is in use: no answer of the previous one stays, the drawing's neither."""
        self.project.predictions.clear()
        self.set_live(None, None)

    def set_live(self, names: list[str] | None, probs: list[float] | None, note: str = "") -> None:
        if not probs:
            self.live_prediction.setText(note or "Draw a query")
            self.live_bars.set_values([], [])
            return
        best = max(range(len(probs)), key=probs.__getitem__)
        self.live_prediction.setText(f"→ {names[best]}  {probs[best]:.0%}")
        self.live_bars.set_values(names, probs)

    def keep_drawing(self) -> None:
        if self.draw.canvas.is_blank():
            return
        png = images.NamedPng(self.draw.canvas.to_png(), images.next_drawing_name(self.project.queries))
        names, probs = self.live_bars.names, self.live_bars.probs
        [sample] = self.edit.add_queries([png])
        if probs:  # the drawing's answer is the new query's: no need to classify it again
            self.project.predictions.set(names, {sample.id: probs})
        self.draw.canvas.reset()

    def add_payload(self, payload: images.Collected) -> None:
        self.edit.add_queries([png for _, pngs in payload.groups for png in pngs])
        if payload.skipped:
            self.problem.emit("Some files were skipped", f"Added {payload.count} quer{'y' if payload.count == 1 else 'ies'}.\n\n" + images.skipped_message(payload.skipped))

    def paste(self) -> None:
        payload = clipboard_payload()
        if not payload.count and not payload.skipped:
            self.problem.emit("Paste", "The clipboard holds no image.")
            return
        self.add_payload(payload)

    def dragEnterEvent(self, e) -> None:
        if accepts(e.mimeData()):
            e.acceptProposedAction()
            set_drop_highlight(self, True)  # the panel: its list is hidden while there are no queries

    def dragLeaveEvent(self, e) -> None:
        set_drop_highlight(self, False)

    def dropEvent(self, e) -> None:
        set_drop_highlight(self, False)
        e.acceptProposedAction()
        self.add_payload(mime_payload(e.mimeData(), folders_as_classes=False))
