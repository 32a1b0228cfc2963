"""The support set: one column per class (editable name, thumbnails, count, draw / add / paste),
a validity badge, and drops of files (onto a column) or folders (onto the panel: one class each).
"""
from __future__ import annotations

from PySide6.QtCore import QRect, QSize, Qt, Signal
from PySide6.QtGui import QFontMetrics, QPainter, QPalette
from PySide6.QtWidgets import (QFrame, QHBoxLayout, QLabel, QLineEdit, QListView, QListWidgetItem, QScrollArea,
                               QSizePolicy, QStyle, QStyleOptionFrame, QToolButton, QVBoxLayout, QWidget)

from app.controllers.undo import Editor
from app.model import images
from app.model import Project
from app.model.words import plural
from app.views.widgets.common import RemovableList, accepts, clipboard_payload, mime_payload, repolish, sample_source, set_drop_highlight, thumb_icon
from app.views.widgets.style import icon

THUMB = 44
COLUMN_WIDTH = 150  # a class column's width; it widens into free room for a long name, up to:
COLUMN_MAX_WIDTH = 300


class SampleList(RemovableList):
    """Thumbnails of one class's samples; Delete or the context menu removes the selected ones."""

    def __init__(self, parent: QWidget | None = None, thumb: int = THUMB):
        super().__init__(parent)
        self.thumb = thumb
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setIconSize(QSize(thumb, thumb))
        self.setGridSize(QSize(thumb + 6, thumb + 6))
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setMovement(QListView.Movement.Static)
        self.setUniformItemSizes(True)
        self._ids: list[int] = []

    def sample_ids(self) -> list[int]:
        """The ids of the samples shown, in order."""
        return [self.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.count())]

    def set_samples(self, samples) -> None:
        ids = [s.id for s in samples]
        if ids == self._ids:
            return
        self._ids = ids
        self.clear()
        for s in samples:
            item = QListWidgetItem(thumb_icon(s, self.thumb), "")
            item.setData(Qt.ItemDataRole.UserRole, s.id)
            where = sample_source(s)[1]
            item.setToolTip((f"{where}\n" if where else "") + "Right-click or Delete to remove")
            self.addItem(item)


def shared_ends(names: list[str]) -> tuple[int, int]:
    """How many characters all `names` share at their start and at their end: the part between
    is what tells the classes apart ("Bengali" of "Bengali_character03" beside
    "Latin_character03"). (0, 0) for fewer than two names."""
    if len(names) < 2:
        return 0, 0
    shortest = min(len(n) for n in names)
    start = next((k for k in range(shortest) if len({n[k] for n in names}) > 1), shortest)
    room = shortest - start  # the two shared parts never overlap
    end = next((k for k in range(room) if len({n[len(n) - 1 - k] for n in names}) > 1), room)
    return start, end


def elide_keeping(fm: QFontMetrics, text: str, start: int, end: int, room: int) -> str:
    """`text` in `room` pixels, cut in the parts it shares with its neighbours rather than in
    `text[start:end]`, the part that tells it apart: after it ("Bengali_char…") or before it
    ("Syriac_(Es…01"). When even that part does not fit, as much of its start as fits shows
    after a shared start, or the start and the end of it when they share no end."""
    fits = lambda s: fm.horizontalAdvance(s) <= room  # noqa: E731
    if fits(text):
        return text  # (elidedText may cut a name that fits to the pixel)
    if end < len(text) and fits(text[:end] + "…"):
        return fm.elidedText(text, Qt.TextElideMode.ElideRight, room)
    if start > 0 and fits("…" + text[start:]):
        head = max(k for k in range(start) if fits(text[:k] + "…" + text[start:]))
        return text[:head] + "…" + text[start:]
    mode = Qt.TextElideMode.ElideRight if end < len(text) else Qt.TextElideMode.ElideMiddle
    return fm.elidedText(text, mode, room)


class ClassNameField(QLineEdit):
    """A class's name, renamed in place. A line edit shows the end of a name too long for it, cut
    at the left (":ic_character03", the alphabet lost); this one, while not being edited, cuts it
    where it is like the other classes' names (`set_shared`), so the part that tells it apart
    shows (as drawn: `shown_text`)."""

    shared = (0, 0)  # characters its name shares with every other class's at its start and its end

    def set_shared(self, start: int, end: int) -> None:
        if (start, end) != self.shared:
            self.shared = (start, end)
            self.update()

    def text_width(self) -> int:
        """The width the whole name needs in this field, its frame and margins included."""
        opt = QStyleOptionFrame()
        self.initStyleOption(opt)
        margins = self.textMargins()
        inner = self.fontMetrics().horizontalAdvance(self.text()) + 4 + margins.left() + margins.right()  # 4: QLineEdit's own margins
        return self.style().sizeFromContents(QStyle.ContentsType.CT_LineEdit, opt, QSize(inner, 10), self).width()

    def _text_rect(self, opt: QStyleOptionFrame) -> QRect:
        margins = self.textMargins()
        rect = self.style().subElementRect(QStyle.SubElement.SE_LineEditContents, opt, self)
        return rect.adjusted(2 + margins.left(), margins.top(), -2 - margins.right(), -margins.bottom())

    def shown_text(self) -> str:
        if self.hasFocus():
            return self.text()
        opt = QStyleOptionFrame()
        self.initStyleOption(opt)
        text, (start, end) = self.text(), self.shared
        return elide_keeping(self.fontMetrics(), text, start, len(text) - end, self._text_rect(opt).width())

    def paintEvent(self, event) -> None:
        shown = self.shown_text()
        if shown == self.text():
            super().paintEvent(event)
            return
        opt = QStyleOptionFrame()
        self.initStyleOption(opt)
        p = QPainter(self)
        self.style().drawPrimitive(QStyle.PrimitiveElement.PE_PanelLineEdit, opt, p, self)
        p.setPen(self.palette().color(QPalette.ColorRole.Text))
        p.drawText(self._text_rect(opt), Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, shown)


class ClassColumn(QFrame):
    def __init__(self, panel: "SupportPanel", index: int):
        super().__init__(panel)
        self.panel, self.index = panel, index
        self.setObjectName("classColumn")
        self.setAcceptDrops(True)
        # As wide as its name needs while the panel has room to spare (the row's stretch takes the
        # rest), never narrower than COLUMN_WIDTH: a long name shows in full when it can.
        self.setMinimumWidth(COLUMN_WIDTH)
        self.setMaximumWidth(COLUMN_MAX_WIDTH)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Expanding)
        self.name = ClassNameField()
        self.name.setObjectName("className")
        self.name.editingFinished.connect(self._rename)
        self.name.textChanged.connect(lambda _: self.updateGeometry())  # its width follows the name
        panel.edit.watch_field(self.name)
        self.remove_btn = QToolButton()
        self.remove_btn.setIcon(icon("remove"))
        self.remove_btn.setAutoRaise(True)
        self.remove_btn.setToolTip("Remove this class")
        self.remove_btn.clicked.connect(lambda: panel.edit.remove_class(self.index))
        self.count = QLabel()
        self.count.setObjectName("muted")
        self.samples = SampleList()
        self.samples.removeRequested.connect(panel.edit.remove_samples)
        self.hint = QLabel("Draw, drop or\npaste images here")
        self.hint.setObjectName("muted")
        self.hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.draw_btn = self._button("draw", "Draw", "Draw samples for this class")
        self.draw_btn.clicked.connect(lambda: panel.drawRequested.emit(self.index))
        self.add_btn = self._button("image", "", "Add images… (files)")
        self.add_btn.clicked.connect(lambda: panel.addFilesRequested.emit(self.index))
        self.paste_btn = self._button("paste", "", "Paste an image from the clipboard")
        self.paste_btn.clicked.connect(lambda: panel.paste_into(self.index))
        head = self.head = QHBoxLayout()
        head.setSpacing(2)
        head.addWidget(self.name, 1)
        head.addWidget(self.remove_btn)
        buttons = QHBoxLayout()
        buttons.setSpacing(2)
        buttons.addWidget(self.draw_btn, 1)
        buttons.addWidget(self.add_btn)
        buttons.addWidget(self.paste_btn)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        lay.setSpacing(4)
        lay.addLayout(head)
        lay.addWidget(self.count)
        lay.addWidget(self.samples, 1)
        lay.addWidget(self.hint, 1)
        lay.addLayout(buttons)

    def _button(self, icon_name: str, text: str, tip: str) -> QToolButton:
        b = QToolButton()
        b.setIcon(icon(icon_name))
        b.setText(text)
        b.setToolTip(tip)
        b.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon if text else Qt.ToolButtonStyle.ToolButtonIconOnly)
        if text:
            b.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        return b

    def wanted_width(self) -> int:
        """The width that shows its whole name."""
        margins = self.layout().contentsMargins()
        return (margins.left() + self.name.text_width() + self.head.spacing() + self.remove_btn.sizeHint().width() + margins.right()
                + 2 * self.frameWidth())

    def sizeHint(self) -> QSize:
        return QSize(max(COLUMN_WIDTH, min(COLUMN_MAX_WIDTH, self.wanted_width())), super().sizeHint().height())

    def refresh(self) -> None:
        c = self.panel.project.classes[self.index]
        if self.name.text() != c.name and not (self.name.hasFocus() and self.name.isModified()):
            self.name.setText(c.name)  # an undone rename shows, but never over a name being typed
        self.name.setToolTip(f"“{c.name}”: click to rename")
        n = len(c.samples)
        self.count.setText(f"{n} sample{'s' if n != 1 else ''}")
        self.samples.set_samples(c.samples)
        self.samples.setVisible(n > 0)
        self.hint.setVisible(n == 0)

    def _rename(self) -> None:
        error = self.panel.edit.rename_class(self.index, self.name.text())
        # The name as stored (also after an error); setText also drops the field's typing history,
        # so Ctrl+Z in it now undoes the rename (the project's step), not the keystrokes.
        self.name.setText(self.panel.project.classes[self.index].name)
        if error:
            self.panel.problem.emit("Rename", error)

    # Files dropped on a column join that class; folders dropped here still become classes.
    def dragEnterEvent(self, e) -> None:
        if accepts(e.mimeData()):
            e.acceptProposedAction()
            set_drop_highlight(self, True)

    def dragLeaveEvent(self, e) -> None:
        set_drop_highlight(self, False)

    def dropEvent(self, e) -> None:
        set_drop_highlight(self, False)
        e.acceptProposedAction()
        self.panel.add_payload(mime_payload(e.mimeData(), folders_as_classes=True), self.index)


class SupportPanel(QWidget):
    drawRequested = Signal(int)
    addFilesRequested = Signal(int)
    problem = Signal(str, str)  # (title, message): shown by the window in one dialog

    def __init__(self, project: Project, editor: Editor | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.project = project
        self.edit = editor or Editor(project, self)  # every change goes through it (undo)
        self.setAcceptDrops(True)
        title = QLabel("Support set")
        title.setObjectName("heading")
        self.badge = QLabel()
        self.badge.setObjectName("badge")
        self.add_btn = QToolButton()
        self.add_btn.setIcon(icon("add"))
        self.add_btn.setText("Add class")
        self.add_btn.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.add_btn.setToolTip("Add a class (or drop a folder: one class per sub-folder)")
        self.add_btn.clicked.connect(lambda: self.edit.add_class())
        head = QHBoxLayout()
        head.addWidget(title)
        head.addWidget(self.badge)
        head.addStretch(1)
        hint = QLabel("Drop a folder to create classes")
        hint.setObjectName("muted")
        head.addWidget(hint)
        head.addWidget(self.add_btn)
        self.row = QHBoxLayout()
        self.row.setContentsMargins(0, 0, 0, 0)
        self.row.setSpacing(8)
        self.row.addStretch(1)
        inner = QWidget()
        inner.setLayout(self.row)
        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll.setWidget(inner)
        self.scroll.setObjectName("dropZone")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(head)
        lay.addWidget(self.scroll, 1)
        self.columns: list[ClassColumn] = []
        project.classesChanged.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        n = len(self.project.classes)
        while len(self.columns) > n:
            col = self.columns.pop()
            col.hide()
            col.deleteLater()  # deleted later: it may be the sender of the signal being handled
        while len(self.columns) < n:
            col = ClassColumn(self, len(self.columns))
            self.row.insertWidget(len(self.columns), col)
            self.columns.append(col)
        for col in self.columns:
            col.refresh()
        # Where the names that may be cut are alike: short names always show whole ("E", left
        # after four folders filled A-D), so a cut name need only be told from the other long ones.
        shared = shared_ends([col.name.text() for col in self.columns if col.wanted_width() > COLUMN_WIDTH])
        for col in self.columns:
            col.name.set_shared(*shared)
        ok, why = self.project.validity()
        self.badge.setText(("✓ " if ok else "✗ ") + why)
        self.badge.setToolTip("N-way K-shot: N classes (ways) with K example images each (shots). The model adapts to every "
                              "support image, then names the class of each query." if ok else "Classifying needs at least 2 "
                              "classes, each with at least one image.")
        self.badge.setProperty("ok", ok)
        repolish(self.badge)  # for the ok property

    def add_payload(self, payload: images.Collected, index: int | None = None) -> None:
        """Groups with a name become (or join) that class; unnamed ones join `index` or a new class.
        One undo step for the whole payload."""
        with self.edit.macro(self._payload_text(payload, index)):
            for name, pngs in payload.groups:
                names = self.project.class_names()
                if name is None and index is not None:
                    self.edit.add_samples(index, pngs)
                elif name is not None and name in names:
                    self.edit.add_samples(names.index(name), pngs)
                else:
                    # Fill an empty (default) column before growing the set.
                    empty = next((i for i, c in enumerate(self.project.classes) if not c.samples), None)
                    if empty is not None and (name is None or self.edit.rename_class(empty, name) is None):
                        self.edit.add_samples(empty, pngs)
                    else:
                        self.edit.add_class(name, pngs)
        if payload.skipped:
            added = payload.count
            self.problem.emit("Some files were skipped", f"Added {added} image{'s' if added != 1 else ''}.\n\n" + images.skipped_message(payload.skipped))

    def _payload_text(self, payload: images.Collected, index: int | None) -> str:
        n_classes = sum(1 for name, _ in payload.groups if name is not None)
        if n_classes:
            return f"Add {plural(payload.count, 'image')} to {n_classes} class{'es' if n_classes != 1 else ''}"
        if index is not None:
            return f"Add {plural(payload.count, 'image')} to “{self.project.classes[index].name}”"
        return f"Add {plural(payload.count, 'image')}"

    def paste_into(self, index: int) -> None:
        payload = clipboard_payload()
        if not payload.count and not payload.skipped:
            self.problem.emit("Paste", "The clipboard holds no image.")
            return
        self.add_payload(payload, index)

    def dragEnterEvent(self, e) -> None:
        if accepts(e.mimeData()):
            e.acceptProposedAction()
            set_drop_highlight(self.scroll, True)

    def dragLeaveEvent(self, e) -> None:
        set_drop_highlight(self.scroll, False)

    def dropEvent(self, e) -> None:
        set_drop_highlight(self.scroll, False)
        e.acceptProposedAction()
        self.add_payload(mime_payload(e.mimeData(), folders_as_classes=True))
