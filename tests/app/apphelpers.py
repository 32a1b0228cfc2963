"""Helpers the app tests share (`from tests.app.apphelpers import …`)."""
from __future__ import annotations

import hashlib
import io
import json
import random
import time

from PIL import Image, ImageDraw
from PySide6.QtCore import QEvent, QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QMouseEvent
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from app.controllers.dialogs import Dialogs

TINY_SOURCE = {"kind": "builtin", "folder": "", "classes": 30}
TINY_HPARAMS = {"hidden": 16, "train_way": 10, "train_query": 3}


class FakeDialogs(Dialogs):
    """The app's dialog service with nobody at the screen: it records every message (`messages`:
    (title, text)) and question (`asked`), answers each question with `answer(title, text, buttons,
    default)` (No unless told) and each file or folder dialog with the next of `paths` (cancelled
    once none is left; `path_titles` records the dialogs' titles)."""

    def __init__(self, answer=None, paths=()):
        super().__init__(None)
        self.messages: list[tuple[str, str]] = []
        self.asked: list[tuple[str, str]] = []
        self.answer = answer or (lambda *a, **k: QMessageBox.StandardButton.No)
        self.paths = [str(p) for p in paths]
        self.path_titles: list[str] = []

    def inform(self, title, text):
        self.messages.append((title, text))

    def ask(self, title, text, buttons=QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            default=QMessageBox.StandardButton.Yes):
        self.asked.append((title, text))
        return self.answer(title, text, buttons, default)

    def _next(self, title):
        self.path_titles.append(title)
        return self.paths.pop(0) if self.paths else None

    def save_path(self, title, start, filters):
        return self._next(title)

    def open_path(self, title, start, filters):
        return self._next(title)

    def open_files(self, title, start, filters):
        path = self._next(title)
        return [path] if path else []

    def open_folder(self, title, start):
        return self._next(title)


def meta_trained_bytes(folder, algorithm: str, hparams: dict, steps: int) -> bytes:
    """Checkpoint bytes of `algorithm` meta-trained for `steps` 3-way 1-shot steps on the built-in
    characters (seeded, on the CPU: a second or two)."""
    import core

    cfg = core.TrainConfig(algorithm=algorithm, hparams=hparams, n_way=3, k_shot=1, q_query=3, steps=steps,
                           val_every=1000, val_episodes=0, device="cpu", seed=0)
    trainer = core.Trainer(cfg, core.builtin(n_classes=30, first_class=0))
    for _ in trainer.run():
        pass
    path = folder / f"{algorithm}.pt"
    core.save_checkpoint(path, trainer.learner, trainer.trainer_state(0.0), extra={})
    return path.read_bytes()


TINY_COMPARE_SOURCE = {"kind": "builtin", "folder": "", "classes": 30, "test_classes": 12}


def few_validation_episodes(view, episodes: int = 3) -> None:
    """The Compare view validates its runs on `episodes` episodes (its form does not show the
    number): a few, for speed."""
    view.setup.show_setup(view.setup.value.replace(val_episodes=episodes))


def start_tiny_comparison(window, algorithms, **spins) -> None:
    """In the Compare view: the tiny built-in source, 3-way 1-shot, `spins` over a few steps and
    test episodes, `algorithms` ticked; not run yet."""
    window.compare_view_act.trigger()
    view = window.compare
    few_validation_episodes(view)
    view.setup.set_source({"kind": "builtin", "folder": "", "classes": 30, "test_classes": 12})
    for key, value in {"n_way": 3, "k_shot": 1, "q_query": 2, "steps_each": 3, "seconds_each": 0, "eval_episodes": 4, **spins}.items():
        view.setup.spins[key].setValue(value)
    for name in algorithms:
        view.setup.checks[name].setChecked(True)


def run_tiny_comparison(window, qtbot, names=("protonet", "matching"), eval_episodes=10):
    """Meta-train `names` for a few steps in the Compare view, clicking as a person does."""
    from PySide6.QtCore import QPoint

    window.compare_view_act.trigger()
    view = window.compare
    few_validation_episodes(view)
    view.setup.set_source(TINY_COMPARE_SOURCE)
    for key, value in {"n_way": 3, "k_shot": 1, "q_query": 2, "steps_each": 6, "seconds_each": 0, "eval_episodes": eval_episodes}.items():
        view.setup.spins[key].setValue(value)
    for name in names:
        box = view.setup.checks[name]
        qtbot.mouseClick(box, Qt.MouseButton.LeftButton, pos=QPoint(7, box.height() // 2))
        qtbot.mouseClick(view.setup.edit_buttons[name], Qt.MouseButton.LeftButton)
        view.setup.form.editors["hidden"].setValue(8)
    qtbot.mouseClick(view.setup.run_btn, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: view.session is None and view.comparison is not None, timeout=120_000)
    return view


def gate_second_sweep_point(monkeypatch, episodes: int):
    """Hold the sweep's job thread inside the first episode of its second point until released, so
    Stop lands at a known place whatever the machine's load: one point finished, one begun."""
    import threading

    from core.studies import sweeping

    reached, release = threading.Event(), threading.Event()
    real, calls = sweeping.episode_accuracy, [0]

    def gated(*args, **kwargs):
        calls[0] += 1
        if calls[0] == episodes + 1:
            reached.set()
            release.wait(60)
        return real(*args, **kwargs)

    monkeypatch.setattr(sweeping, "episode_accuracy", gated)
    return reached, release


def write_starter_folder(folder, models: dict[str, bytes]):
    """A starter folder as `core.tools.starter.build` leaves it: the checkpoints and their manifest."""
    folder.mkdir(parents=True, exist_ok=True)
    entries = {}
    for algorithm, data in models.items():
        (folder / f"{algorithm}.pt").write_bytes(data)
        entries[algorithm] = {"file": f"{algorithm}.pt", "algorithm": algorithm, "title": algorithm.title(), "bytes": len(data),
                              "sha256": hashlib.sha256(data).hexdigest(), "steps": 15, "built": "2026-12-06T12:00:00",
                              "settings": {}, "accuracy": {"5": {"mean": 97.5, "ci95": 0.3, "episodes": 600}}}
    (folder / "manifest.json").write_text(json.dumps({"attribution": "Omniglot, MIT", "models": entries}))
    return folder


def use_model_from_models_tab(window, entry_id: str) -> None:
    """Click a model's row in the Models tab, then "Use" (what a person does to switch models)."""
    from PySide6.QtCore import QPoint
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QPushButton

    tree = window.models_tab.tree
    window.tabs.setCurrentIndex(window.tabs.indexOf(tree.parentWidget()))
    QTest.qWait(50)  # let the tab lay out before aiming at a cell
    [item] = [tree.topLevelItem(i) for i in range(tree.topLevelItemCount())
              if tree.topLevelItem(i).data(0, Qt.ItemDataRole.UserRole) == entry_id]
    tree.scrollToItem(item)  # a long list (eleven starter models) puts it below the fold: scroll, as a person would
    QTest.qWait(20)
    rect = tree.visualItemRect(item)
    QTest.mouseClick(tree.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     QPoint(tree.header().sectionViewportPosition(0) + 5, rect.center().y()))  # the name: always shown
    assert tree.currentItem() is item
    [use] = [b for b in tree.parentWidget().findChildren(QPushButton) if b.text() == "Use"]
    QTest.mouseClick(use, Qt.MouseButton.LeftButton)


def pump_until(condition, timeout_s: float = 300) -> None:
    """Run the event loop until `condition()`: events pumped between short sleeps, in which the
    job and sweep threads (Python code too) get the interpreter."""
    from PySide6.QtWidgets import QApplication

    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "still waiting"
        QApplication.processEvents()
        time.sleep(0.02)


def glyph_png(kind: int, seed: int = 0, size: int = 96) -> bytes:
    """A dark glyph on white paper, varying a little with `seed` (what a person would draw)."""
    rng = random.Random(seed * 31 + kind)
    img = Image.new("L", (size, size), 255)
    d = ImageDraw.Draw(img)
    j = lambda v: v + rng.randint(-4, 4)  # noqa: E731
    s = size
    if kind % 3 == 0:
        d.ellipse([j(s // 5), j(s // 5), j(4 * s // 5), j(4 * s // 5)], outline=0, width=6)
    elif kind % 3 == 1:
        d.line([j(s // 5), j(s // 5), j(4 * s // 5), j(4 * s // 5)], fill=0, width=6)
        d.line([j(4 * s // 5), j(s // 5), j(s // 5), j(4 * s // 5)], fill=0, width=6)
    else:
        d.line([j(s // 2), j(s // 6), j(s // 2), j(5 * s // 6)], fill=0, width=6)
        d.line([j(s // 5), j(s // 6), j(4 * s // 5), j(s // 6)], fill=0, width=6)
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def fill_support(project, n_classes: int = 3, shots: int = 2) -> None:
    while len(project.classes) > n_classes:
        project.remove_class(len(project.classes) - 1)
    for ci in range(n_classes):
        project.add_samples(ci, [glyph_png(ci, seed) for seed in range(shots)])


class Heartbeat:
    """Measures the event loop's longest stall: a precise 5 ms timer records the largest gap."""

    def __init__(self, interval_ms: int = 5):
        from PySide6.QtCore import Qt, QTimer

        self.timer = QTimer()
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self._tick)
        self.last = None
        self.max_gap = 0.0
        self.ticks = 0

    def _tick(self) -> None:
        now = time.perf_counter()
        if self.last is not None:
            self.max_gap = max(self.max_gap, now - self.last)
        self.last = now
        self.ticks += 1

    def start(self) -> None:
        self.last = None
        self.timer.start()

    def stop(self) -> None:
        self.timer.stop()


def mouse_stroke(widget: QWidget, points: list[tuple[float, float]]) -> None:
    """Real press / move / release mouse events through `points` (widget pixels)."""
    def ev(kind, xy, buttons):
        pos = QPointF(*xy)
        return QMouseEvent(kind, pos, widget.mapToGlobal(pos), Qt.MouseButton.LeftButton, buttons, Qt.KeyboardModifier.NoModifier)

    QApplication.sendEvent(widget, ev(QEvent.Type.MouseButtonPress, points[0], Qt.MouseButton.LeftButton))
    for xy in points[1:]:
        QApplication.sendEvent(widget, ev(QEvent.Type.MouseMove, xy, Qt.MouseButton.LeftButton))
    QApplication.sendEvent(widget, ev(QEvent.Type.MouseButtonRelease, points[-1], Qt.MouseButton.NoButton))


def drop_paths(widget: QWidget, paths) -> bool:
    """Deliver a real drag-enter + drop carrying file URLs; returns whether the drop was accepted."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    pos = QPointF(widget.width() / 2, widget.height() / 2)
    actions = Qt.DropAction.CopyAction
    enter = QDragEnterEvent(pos.toPoint(), actions, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, enter)
    if not enter.isAccepted():
        return False
    drop = QDropEvent(pos, actions, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, drop)
    return drop.isAccepted()


def delay_classification(monkeypatch, seconds: float = 0.3) -> None:
    """Make every classification job take at least `seconds` (longer than the window's 100 ms
    auto-classify debounce), as on a slow machine: requests then queue behind a running job."""
    from app.engine import jobs

    real = jobs.classify

    def slow(*args, **kwargs):
        time.sleep(seconds)
        return real(*args, **kwargs)

    monkeypatch.setattr(jobs, "classify", slow)


def wait_for_results(window, qtbot, timeout: int = 120_000) -> list:
    """The query rows, once no classification is running or queued and every row shows a result
    (so the results are those of the latest request, not of one that covered fewer queries)."""
    qtbot.waitUntil(lambda: not window.classifier.classifying() and all(s.id in window.project.predictions for s in window.project.queries),
                    timeout=timeout)
    return window.query.rows()


class TorchCallsOnThisThread:
    """Records every torch function called on the thread that enters it, and nothing else: torch's
    function modes are per thread, so the engine's work on the worker threads is not seen. Entered
    on the GUI thread it shows whether any engine work ran there, whatever the machine's speed."""

    def __init__(self):
        from torch.overrides import TorchFunctionMode

        calls = self.calls = []

        class Recorder(TorchFunctionMode):
            def __torch_function__(self, func, types, args=(), kwargs=None):
                calls.append(getattr(func, "__qualname__", None) or repr(func))
                return func(*args, **(kwargs or {}))

        self._mode = Recorder()

    def __enter__(self) -> "TorchCallsOnThisThread":
        self._mode.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._mode.__exit__(*exc)
