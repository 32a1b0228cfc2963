"""Undo / redo of every edit to the project: classes, samples, queries, algorithm and settings.

Views edit the project only through an `Editor`; each edit becomes a `QUndoCommand` that calls
the project's mutators and knows how to take itself back. Undo puts back the very objects it
took away (classes, samples), so sample ids stay stable and the thumbnail caches and
classification results keyed by them stay valid.

Merging: consecutive edits of one field (typing 2, 5, 0 into Steps) or the samples drawn in one
Draw dialog become one undo step. An edit merges only into the step just before it, with the same
merge key, in the same editing session; `seal()` (a field's editing finished, a dialog opened) and
every undo / redo start a new session.

While training runs, the algorithm, hyperparameters and settings are locked (the run was started
with them, and the model it makes belongs to them): undo / redo of such a step waits until the
run ends; edits of classes, samples and queries stay undoable meanwhile.
"""
from __future__ import annotations

import contextlib
from typing import Any

from PySide6.QtCore import QEvent, QObject
from PySide6.QtGui import QAction, QKeyEvent, QKeySequence, QUndoCommand, QUndoStack
from PySide6.QtWidgets import QLineEdit, QWidget

from app.model import ImageClass, Project, Sample, TaskSettings
from app.model.words import plural


def _index_of(project: Project, cls: ImageClass) -> int:
    return next(i for i, c in enumerate(project.classes) if c is cls)


class ProjectCommand(QUndoCommand):
    """One user action. `merge_key` None: never merges; `touches_config`: locked during training."""
    merge_key: Any = None
    touches_config = False

    def __init__(self, editor: "Editor", text: str = ""):
        super().__init__(text)
        self.project = editor.project
        self.session = editor.session

    def id(self) -> int:
        return -1 if self.merge_key is None else 1

    def mergeWith(self, other: QUndoCommand) -> bool:
        if self.merge_key is None or getattr(other, "merge_key", None) != self.merge_key or other.session != self.session:
            return False
        self.absorb(other)
        self.setObsolete(self.is_noop())  # e.g. a box changed and changed back: no step at all
        return True

    def absorb(self, later: "ProjectCommand") -> None:
        raise NotImplementedError

    def is_noop(self) -> bool:
        return False


class AddClass(ProjectCommand):
    def __init__(self, editor: "Editor", name: str | None, pngs: list[bytes]):
        super().__init__(editor)
        self.name, self.pngs = name, list(pngs)
        self.cls: ImageClass | None = None
        self.index = -1

    def redo(self) -> None:
        if self.cls is None:  # the first time: the project picks the name and makes the samples
            self.index = self.project.add_class(self.name, self.pngs)
            self.cls = self.project.classes[self.index]
            self.setText(f"Add class “{self.cls.name}”")
        else:
            self.project.insert_class(self.index, self.cls)

    def undo(self) -> None:
        self.project.remove_class(_index_of(self.project, self.cls))


class RemoveClass(ProjectCommand):
    def __init__(self, editor: "Editor", index: int):
        super().__init__(editor)
        self.index, self.cls = index, editor.project.classes[index]
        self.setText(f"Remove class “{self.cls.name}”")

    def redo(self) -> None:
        self.project.remove_class(_index_of(self.project, self.cls))

    def undo(self) -> None:
        self.project.insert_class(self.index, self.cls)


class RenameClass(ProjectCommand):
    def __init__(self, editor: "Editor", index: int, name: str):
        super().__init__(editor)
        self.cls, self.old, self.new = editor.project.classes[index], editor.project.classes[index].name, name
        self.setText(f"Rename class “{self.old}” to “{self.new}”")

    def _rename(self, name: str) -> None:
        self.project.rename_class(_index_of(self.project, self.cls), name)

    def redo(self) -> None:
        self._rename(self.new)

    def undo(self) -> None:
        self._rename(self.old)


class AddSamples(ProjectCommand):
    """Support samples into a class (`index`) or queries (`index` None)."""

    def __init__(self, editor: "Editor", index: int | None, pngs: list[bytes], merge_key: Any = None):
        super().__init__(editor)
        self.index, self.pngs = index, list(pngs)
        self.placements: list[tuple[int | None, int, Sample]] = []
        if merge_key is not None:
            self.merge_key = ("add", merge_key, index)

    def _describe(self) -> None:
        n = len(self.placements)
        if self.index is None:
            self.setText("Add query" if n == 1 else f"Add {n} queries")
        else:
            self.setText(f"Add {plural(n, 'sample')} to “{self.project.classes[self.index].name}”")

    def redo(self) -> None:
        if not self.placements:
            p = self.project
            start = len(p.queries if self.index is None else p.classes[self.index].samples)
            new = p.add_queries(self.pngs) if self.index is None else p.add_samples(self.index, self.pngs)
            self.placements = [(self.index, start + i, s) for i, s in enumerate(new)]
            self.pngs = []
            self._describe()
        else:
            self.project.restore_samples(self.placements)

    def undo(self) -> None:
        self.project.remove_samples([s.id for _, _, s in self.placements])

    def absorb(self, later: "AddSamples") -> None:
        self.placements += later.placements
        self._describe()


class RemoveSamples(ProjectCommand):
    """Support samples and / or queries by id; `text` names it ("Clear queries")."""

    def __init__(self, editor: "Editor", ids: list[int], text: str | None = None):
        super().__init__(editor)
        self.ids = list(ids)
        self.placements: list[tuple[int | None, int, Sample]] = []
        queries = {s.id for s in editor.project.queries}
        n_query = sum(1 for i in self.ids if i in queries)
        if text is None:
            noun = "query" if n_query == len(self.ids) else "sample"
            text = f"Remove {noun}" if len(self.ids) == 1 else f"Remove {len(self.ids)} {'queries' if noun == 'query' else 'samples'}"
        self.setText(text)

    def redo(self) -> None:
        self.placements = self.project.remove_samples(self.ids)

    def undo(self) -> None:
        self.project.restore_samples(self.placements)


class SetTask(ProjectCommand):
    """A change of the task settings. The old and new `TaskSettings` are frozen values, so the
    step holds them as they are."""
    touches_config = True

    def __init__(self, editor: "Editor", new: TaskSettings, label: str, merge_key: Any):
        super().__init__(editor, f"Change {label}")
        self.old, self.new = editor.project.task, new
        self.merge_key = merge_key

    def redo(self) -> None:
        self.project.set_task(self.new)

    def undo(self) -> None:
        self.project.set_task(self.old)

    def absorb(self, later: "SetTask") -> None:
        self.new = later.new

    def is_noop(self) -> bool:
        return self.new == self.old


class SetConfig(ProjectCommand):
    """The algorithm with its hyperparameters and the model in use: changed together, since a
    model and the hyperparameters belong to one algorithm."""
    touches_config = True

    def __init__(self, editor: "Editor", text: str, merge_key: Any = None, **after: Any):
        super().__init__(editor, text)
        p = editor.project
        self.old = {"algorithm": p.algorithm, "hparams": dict(p.hparams), "model_file": p.model_file}
        self.new = {**self.old, **after}
        self.merge_key = merge_key

    def _apply(self, config: dict) -> None:
        self.project.set_algorithm(config["algorithm"], dict(config["hparams"]))
        self.project.set_model_file(config["model_file"])

    def redo(self) -> None:
        self._apply(self.new)

    def undo(self) -> None:
        self._apply(self.old)

    def absorb(self, later: "SetConfig") -> None:
        self.new = later.new

    def is_noop(self) -> bool:
        return self.new == self.old


class _TypingUndoFirst(QObject):
    """A text field claims Ctrl+Z even with nothing typed to undo, so the window's Undo would never
    run while it has the focus: let the keys through to the window's actions in that case."""

    def __init__(self, line: QLineEdit, parent: QWidget):
        super().__init__(parent)
        self.line = line

    def eventFilter(self, obj: QObject, e: QEvent) -> bool:
        if e.type() == QEvent.Type.ShortcutOverride and (
                e.matches(QKeySequence.StandardKey.Undo) and not self.line.isUndoAvailable()
                or _is_redo(e) and not self.line.isRedoAvailable()):
            e.ignore()
            return True  # not accepted: the key is matched against shortcuts (Edit ▸ Undo / Redo)
        return False


def _is_redo(e: QKeyEvent) -> bool:
    return e.matches(QKeySequence.StandardKey.Redo) or QKeySequence(e.keyCombination()) == QKeySequence("Ctrl+Shift+Z")


class Editor(QObject):
    """The one way views change the project; owns the undo stack and the Undo / Redo actions."""

    def __init__(self, project: Project, parent: QObject | None = None):
        super().__init__(parent)
        self.project = project
        self.stack = QUndoStack(self)
        self.session = 0
        self.config_locked = False
        self._macro_text: str | None = None
        self._macro_open = False
        self.undo_action = QAction("Undo", self)
        self.undo_action.setShortcuts(QKeySequence.keyBindings(QKeySequence.StandardKey.Undo))
        self.undo_action.triggered.connect(self.undo)
        self.redo_action = QAction("Redo", self)
        redo_keys = QKeySequence.keyBindings(QKeySequence.StandardKey.Redo)
        ctrl_shift_z = QKeySequence("Ctrl+Shift+Z")
        self.redo_action.setShortcuts(redo_keys + ([] if ctrl_shift_z in redo_keys else [ctrl_shift_z]))
        self.redo_action.triggered.connect(self.redo)
        self.stack.indexChanged.connect(self._update_actions)
        self._update_actions()

    # -- undo / redo ----------------------------------------------------------------------------
    def _locked(self, index: int) -> bool:
        cmd = self.stack.command(index) if 0 <= index < self.stack.count() else None
        return self.config_locked and cmd is not None and self._touches_config(cmd)

    @staticmethod
    def _touches_config(cmd: QUndoCommand) -> bool:
        return getattr(cmd, "touches_config", False) or any(Editor._touches_config(cmd.child(i)) for i in range(cmd.childCount()))

    def _update_actions(self) -> None:
        # Like the actions of QUndoStack.createUndoAction, which cannot be held back: plus the training lock.
        for act, verb, can, text, index in ((self.undo_action, "Undo", self.stack.canUndo(), self.stack.undoText(), self.stack.index() - 1),
                                           (self.redo_action, "Redo", self.stack.canRedo(), self.stack.redoText(), self.stack.index())):
            locked = can and self._locked(index)
            act.setEnabled(can and not locked)
            act.setText(f"{verb} {text}{' — when training ends' if locked else ''}" if can else verb)
            act.setStatusTip("Settings stay as the running training uses them until it ends" if locked else "")

    def undo(self) -> None:
        if self.stack.canUndo() and not self._locked(self.stack.index() - 1):
            self.session += 1
            self.stack.undo()

    def redo(self) -> None:
        if self.stack.canRedo() and not self._locked(self.stack.index()):
            self.session += 1
            self.stack.redo()

    def set_config_locked(self, locked: bool) -> None:
        self.config_locked = locked
        self._update_actions()

    def clear(self) -> None:
        """A new or opened project: nothing before it can be undone."""
        self.stack.clear()
        self.seal()

    def seal(self) -> None:
        """The current editing session ends: the next edit is a step of its own."""
        self.session += 1

    def watch_field(self, field: QWidget) -> None:
        """A spin box or line edit that edits the project. Leaving it (Enter or focus out) ends its
        editing session, and it forgets its own typing history then; Ctrl+Z / Ctrl+Shift+Z in it
        undo its typing while there is some, and the project's steps after that."""
        line = field if isinstance(field, QLineEdit) else field.findChild(QLineEdit)

        def done() -> None:
            self.seal()
            if line is not None and line.isUndoAvailable():
                line.setText(line.text())  # setText drops the typing history

        field.editingFinished.connect(done)
        if line is not None:
            field.installEventFilter(_TypingUndoFirst(line, field))

    @contextlib.contextmanager
    def macro(self, text: str):
        """The edits made inside are one step named `text` (none at all if nothing changed)."""
        self._macro_text, self._macro_open = text, False
        try:
            yield
        finally:
            if self._macro_open:
                self.stack.endMacro()
            self._macro_text, self._macro_open = None, False

    def _push(self, cmd: ProjectCommand) -> None:
        if self._macro_text is not None and not self._macro_open:
            self.stack.beginMacro(self._macro_text)  # begun only now: an empty macro would be an empty step
            self._macro_open = True
        self.stack.push(cmd)

    # -- the edits ----------------------------------------------------------------------------
    def add_class(self, name: str | None = None, pngs: list[bytes] = ()) -> int:
        self._push(AddClass(self, name, pngs))
        return len(self.project.classes) - 1

    def remove_class(self, index: int) -> None:
        if 0 <= index < len(self.project.classes):
            self._push(RemoveClass(self, index))

    def rename_class(self, index: int, name: str) -> str | None:
        """Like Project.rename_class: an error message (and nothing changed) for a bad name."""
        error = self.project.name_problem(index, name)
        if error is None and name.strip() != self.project.classes[index].name:
            self._push(RenameClass(self, index, name.strip()))
        return error

    def add_samples(self, index: int, pngs: list[bytes], merge_key: Any = None) -> list[Sample]:
        return self._add(index, pngs, merge_key)

    def add_queries(self, pngs: list[bytes]) -> list[Sample]:
        return self._add(None, pngs, None)

    def _add(self, index: int | None, pngs: list[bytes], merge_key: Any) -> list[Sample]:
        if not pngs:
            return []
        cmd = AddSamples(self, index, pngs, merge_key)
        self._push(cmd)
        return [s for _, _, s in cmd.placements]  # a Python attribute: still there if the step merged

    def remove_samples(self, ids: list[int]) -> None:
        p = self.project
        present = {s.id for c in p.classes for s in c.samples} | {s.id for s in p.queries}
        ids = [i for i in ids if i in present]
        if ids:
            self._push(RemoveSamples(self, ids))

    def clear_queries(self) -> None:
        if self.project.queries:
            self._push(RemoveSamples(self, [s.id for s in self.project.queries], "Clear queries"))

    def update_task(self, label: str, mergeable: bool = False, **changes: Any) -> None:
        """Change some task settings (`n_way=3`) as one step; `mergeable`: the edits of one visit
        to a field merge. Raises ValueError for a bad value, changing nothing."""
        new = self.project.task.replace(**changes)
        if new != self.project.task:
            self._push(SetTask(self, new, label, ("task", tuple(sorted(changes))) if mergeable else None))

    def set_config(self, text: str, merge_key: Any = None, **after: Any) -> None:
        """Change any of algorithm, hparams, model_file (keyword arguments) as one step."""
        p = self.project
        now = {"algorithm": p.algorithm, "hparams": p.hparams, "model_file": p.model_file}
        if any(now[k] != v for k, v in after.items()):
            self._push(SetConfig(self, text, merge_key, **after))
