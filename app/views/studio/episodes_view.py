"""The Studio's "Episodes" tab: the episodes a model meta-trains and is measured on, as pictures.

While a run meta-trains, the tab follows it: about once a second (`episode_jobs.LIVE_EVERY_S`)
the training thread draws the episode its last step used, with the live model's prediction on
each query (green frame: right; red: wrong, with the class it was taken for). ◀ / ▶ and the index
box step through the stream by index (the sampler is deterministic: episode i of a seed is always
the same task), and the stream box switches to the fixed validation or test episodes; those are
drawn on the job thread, with the predictions of the model in use. Stepping stops following.
"""
from __future__ import annotations

import time
from typing import Any, Callable

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QLabel, QSpinBox, QToolButton, QVBoxLayout, QWidget

from app.engine.episode_jobs import STREAMS, episode_job
from app.model import EngineState, Project
from app.views.widgets.episode_grid import EpisodeGrid, LatestJob

MAX_INDEX = 2**31 - 1


class JobStages(QObject):
    """Carries a drawing job's progress from the job thread to the view (queued, as every signal
    that crosses threads): which request (its number) is at which stage."""
    stage = Signal(int, str)


class EpisodesView(QWidget):
    def __init__(self, project: Project, model_in_use: Callable[[], tuple[str, str] | None], engine: EngineState,
                 parent: QWidget | None = None):
        """`model_in_use()`: (checkpoint path, name) of the Studio's model in use, or None."""
        super().__init__(parent)
        self.project, self.model_in_use, self.engine = project, model_in_use, engine
        self.live_stream: dict[str, Any] | None = None  # the running (or last) run's training stream
        self.data: dict[str, Any] | None = None  # the episode on screen (episode_picture.episode_data + predictions)
        self.drawer = LatestJob(self, self._show, self._failed)  # draws on the job thread: the latest choice only
        # While an episode is being drawn, the line above says what the job is doing and for how
        # long (the first one prepares the whole source: 15-20 s for the built-in characters).
        self.stages = JobStages(self)
        self.stages.stage.connect(self._stage)
        self.asked = 0  # how many episodes were asked for: the number of the latest request
        self.waiting: dict[str, Any] | None = None  # the latest request's "what", "since", "stage", while drawn
        self.clock = QTimer(self)
        self.clock.setInterval(1000)
        self.clock.timeout.connect(self._show_waiting)
        self.stream_box = QComboBox()
        for key, label in STREAMS.items():
            self.stream_box.addItem(label, key)
        self.stream_box.setToolTip("Which episodes: the meta-training stream of the Task tab's settings, or the fixed validation or test episodes")
        self.index_box = QSpinBox()
        self.index_box.setRange(0, MAX_INDEX)
        self.index_box.setPrefix("episode ")
        self.index_box.setKeyboardTracking(False)  # typing 1234 asks for one episode, not four
        self.prev_btn, self.next_btn = QToolButton(), QToolButton()
        self.prev_btn.setText("◀")
        self.next_btn.setText("▶")
        self.prev_btn.setToolTip("The previous episode of the stream")
        self.next_btn.setToolTip("The next episode of the stream")
        self.follow_box = QCheckBox("Follow training")
        self.follow_box.setChecked(True)
        self.follow_box.setToolTip("While meta-training, show the episode of the latest step (about once a second)")
        self.info = QLabel("Meta-train, or pick an episode.")
        self.info.setObjectName("muted")
        self.info.setWordWrap(True)
        self.grid = EpisodeGrid()
        self.prev_btn.clicked.connect(lambda: self.step_by(-1))
        self.next_btn.clicked.connect(lambda: self.step_by(1))
        self.index_box.valueChanged.connect(lambda _: self._picked())
        self.stream_box.currentIndexChanged.connect(lambda _: self._picked())
        self.follow_box.toggled.connect(self._follow_toggled)
        row = QHBoxLayout()
        for w in (self.stream_box, self.prev_btn, self.index_box, self.next_btn, self.follow_box):
            row.addWidget(w)
        row.addStretch(1)
        lay = QVBoxLayout(self)
        lay.addLayout(row)
        lay.addWidget(self.info)
        lay.addWidget(self.grid, 1)

    # -- the live run ------------------------------------------------------------------------------
    def run_started(self) -> None:
        self.live_stream = None
        self.follow_box.setChecked(True)

    def show_live(self, data: dict[str, Any]) -> None:
        """(slot of the training run's `episode`) The episode of the latest step, when following."""
        self.live_stream = {k: data[k] for k in ("seed", "n_way", "k_shot", "q_query", "meta_batch", "source")}
        if not self.follow_box.isChecked():
            return
        self._set_selection("train", data["index"])
        self._show(data)

    def _follow_toggled(self, on: bool) -> None:
        if on and self.stream_box.currentData() != "train":
            self._set_selection("train", self.index_box.value())

    # -- stepping ------------------------------------------------------------------------------------
    def step_by(self, delta: int) -> None:
        self.index_box.setValue(max(0, self.index_box.value() + delta))

    def show_episode(self, stream: str, index: int) -> None:
        """Show episode `index` of `stream` ("train", "val" or "test"), as the boxes would."""
        self.follow_box.setChecked(False)
        self._set_selection(stream, index)
        self._picked()

    def _set_selection(self, stream: str, index: int) -> None:
        for w in (self.stream_box, self.index_box):
            w.blockSignals(True)
        self.stream_box.setCurrentIndex(self.stream_box.findData(stream))
        self.index_box.setValue(index)
        for w in (self.stream_box, self.index_box):
            w.blockSignals(False)

    def _picked(self) -> None:
        """The person chose an episode: stop following and draw it on the job thread."""
        self.follow_box.blockSignals(True)
        self.follow_box.setChecked(False)
        self.follow_box.blockSignals(False)
        if not self.engine.ready:
            self.info.setText("The engine is still loading…")
            return
        p = self.project
        model = self.model_in_use()
        request = {"stream": self.stream_box.currentData(), "index": self.index_box.value(), "source": p.task.source.to_dict(),
                   "task": p.task.to_dict(), "algorithm": p.algorithm, "hparams": dict(p.hparams), "live": self.live_stream,
                   "model_path": model[0] if model else None, "model_name": model[1] if model else None}
        self.asked += 1
        self.waiting = {"what": f"Drawing {STREAMS[request['stream']].lower()}, episode {request['index']}", "since": time.monotonic(),
                        "stage": ""}
        self._show_waiting()
        self.clock.start()
        number, stages = self.asked, self.stages

        def report(stage: str) -> None:  # (job thread)
            try:
                stages.stage.emit(number, stage)
            except RuntimeError:  # the view was deleted (its window closed) while the job ran
                pass

        self.drawer.ask(lambda: episode_job(request, report))

    def _stage(self, number: int, stage: str) -> None:
        if self.waiting is not None and number == self.asked:  # an older request's stages would mislead
            self.waiting["stage"] = stage
            self._show_waiting()

    def _show_waiting(self) -> None:
        if self.waiting is None:
            return
        w = self.waiting
        seconds = int(time.monotonic() - w["since"])
        self.info.setText(w["what"] + (f": {w['stage']}" if w["stage"] else "") + "…" + (f" {seconds} s" if seconds else ""))

    def _stop_waiting(self) -> None:
        self.waiting = None
        self.clock.stop()

    def _failed(self, exc: Exception) -> None:
        self._stop_waiting()
        self.grid.show_image(None, "")
        self.info.setText(f"Cannot show this episode: {exc}")

    # -- showing -----------------------------------------------------------------------------------------
    def _show(self, data: dict[str, Any]) -> None:
        self._stop_waiting()
        self.data = data
        self.grid.show_image(data["image"])
        self.info.setText(describe(data))


def describe(data: dict[str, Any]) -> str:
    """The line above an episode: which one it is, its shape, and how the model did on it."""
    stream = data["stream"]
    where = {"train": f"training episode {data['index']} (step {data['step']}" + (f", {data['meta_batch']} episodes a step" if data["meta_batch"] > 1 else "") + ")",
             "val": f"validation episode {data['index']}", "test": f"test episode {data['index']}"}[stream]
    text = f"{where[0].upper()}{where[1:]} of seed {data['seed']} · {data['n_way']}-way {data['k_shot']}-shot, {data['q_query']} queries a class"
    if data["q_query"] == 0:
        return f"{text} · no queries: this algorithm meta-trains on labelled sequences"
    for guesses in data["predictions"].values():
        if isinstance(guesses, str):
            return f"{text} · {data['model']} cannot classify it: {guesses}"
        right = sum(g == t for g, t in zip(guesses, data["query_y"]))
        return f"{text} · {data['model']}: {right} of {len(guesses)} queries right (green frame: right; red: wrong → the class taken)"
    return f"{text} · no model in use: train one to see its predictions"
