"""The Compare view's setup column: what to compare and how.

Tick any registered algorithms (the ⚙ button shows an algorithm's own hyperparameter form, the
Studio's `HParamForm` generated from its HParams; each algorithm keeps its own values), one
meta-training source, N/K/Q, the episode protocol, a budget per algorithm (steps and/or seconds),
the number of shared test episodes, the seed and the device; Run / Stop and the run's progress.
The panel is a view of one `app.model.compare.CompareSetup` (`value`): every edit replaces it,
`show_setup()` renders one, and `apply_setup()` shows a comparison's config.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Mapping

from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtWidgets import (QCheckBox, QComboBox, QFormLayout, QFrame, QGridLayout, QHBoxLayout, QLabel, QProgressBar, QPushButton,
                               QScrollArea, QSpinBox, QToolButton, QVBoxLayout, QWidget)

import core

from app.controllers.dialogs import Dialogs
from app.model.compare import LIMITS, PROTOCOLS, CompareSetup
from app.model.compare_measure import source_words, starter_data_note
from app.model.library import ModelEntry
from app.model.words import fmt_count
from app.views.studio.hparam_form import HParamForm, PresetButton, field_label
from app.views.studio.task_fields import BUILTIN_NOTE, ask_source_folder, combo, device_combo, offer_cuda, source_combo, spin_box
from app.views.widgets.style import icon

from .results import algo_color, swatch

PROTOCOL_LABELS = dict(zip(PROTOCOLS, ("Identical for all", "Each paper's shape")))
MODE_LABELS = [("train", "Meta-train each from scratch"), ("starter", "Starter models (no training)")]
# The fields that only matter when the algorithms are meta-trained here (not for starter models).
TRAINING_ONLY = ("steps_each", "seconds_each", "seed")
# (key, label, tooltip) of the number fields, bounded by the model's LIMITS; the first three are the episode shape.
NUMBERS = [("n_way", "Ways (N)", "Classes per episode (the test protocol)"),
           ("k_shot", "Shots (K)", "Support images per class"),
           ("q_query", "Queries", "Query images per class"),
           ("steps_each", "Steps each", "Meta-training steps per algorithm"),
           ("seconds_each", "Time each (s)", "Training-time budget per algorithm (validations pause its clock; 0 = none); the run stops at whichever budget ends first"),
           ("eval_episodes", "Test episodes", "Shared test episodes (600 is the standard)"),
           ("seed", "Seed", "The same seed gives every algorithm the same episodes and initial weights")]


def muted(text: str = "") -> QLabel:
    """A secondary, word-wrapped line (hints, notes)."""
    lab = QLabel(text)
    lab.setObjectName("muted")
    lab.setWordWrap(True)
    return lab


def group_title(text: str) -> QLabel:
    lab = QLabel(text)
    f = lab.font()
    f.setBold(True)
    lab.setFont(f)
    lab.setContentsMargins(0, 8, 0, 2)
    return lab


def progress_step(index: int, n: int, title: str, ev: dict | None, seconds_each: float | None) -> tuple[int, str]:
    """Where the run's bar stands and the line under it while algorithm `index` of `n` runs (`ev`:
    its latest progress or testing event). Each algorithm fills 100 units: 85 meta-training, 15 testing."""
    if ev is not None and ev["kind"] == "progress":
        frac = ev["step"] / max(1, ev["total_steps"])
        if seconds_each:
            frac = max(frac, min(1.0, ev["train_s"] / seconds_each))
        val = f" · validation {ev['val_accuracy']:.1%}" if ev.get("val_accuracy") is not None else ""
        return int(100 * index + 85 * frac), (f"{index + 1}/{n} {title}: meta-training, step {fmt_count(ev['step'])} · "
                                              f"{ev['episodes_per_s']:.1f} episodes/s · {core.fmt_duration(ev['elapsed_s'])}{val}")
    if ev is not None and ev["kind"] == "testing":
        return (int(100 * index + 85 + 15 * ev["done"] / ev["total"]),
                f"{index + 1}/{n} {title}: testing, episode {ev['done']}/{ev['total']} · {ev['accuracy']:.1%} so far")
    return 100 * index, f"{index + 1}/{n} {title}: starting…"


class SetupPanel(QFrame):
    message = Signal(str, str)  # (title, text): shown by the window

    def __init__(self, dialogs: Dialogs, settings: QSettings | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.dialogs, self.settings = dialogs, settings
        self.value = CompareSetup()  # the setup on screen, the panel's one copy of it: every edit replaces it
        self.checks: dict[str, QCheckBox] = {}
        self.edit_buttons: dict[str, QToolButton] = {}
        self.editing: str | None = None
        heading = QLabel("Compare algorithms")
        heading.setObjectName("heading")
        self.hint = hint = muted()
        self.starters: dict[str, str] = {}  # algorithm -> its starter model's checkpoint (shipped with the app)
        self.starter_entries: dict[str, ModelEntry] = {}  # algorithm -> its starter model's library entry (its own figure)
        # Starter mode: what the test data is next to what the starter models learned from, and
        # the way to test them on what they learned.
        self.data_note = QLabel()  # not muted: it says why the figures differ from the models' own
        self.data_note.setWordWrap(True)
        self.data_note.setTextFormat(Qt.TextFormat.PlainText)
        self.omniglot_btn = QPushButton(icon("open"), "Test on Omniglot: choose its folder…")
        self.omniglot_btn.setToolTip("Choose the folder holding Omniglot (images_background/ and images_evaluation/, "
                                     "as torchvision extracts it): the starter models are tested on its test characters")
        self.omniglot_btn.clicked.connect(lambda: self._ask_folder("omniglot"))
        self.mode_box = combo(MODE_LABELS, "Meta-train each ticked algorithm here, on identical episodes (a race from scratch), or test the "
                                     "starter models shipped with the app as they are: no training, the same test episodes")
        self.mode_box.currentIndexChanged.connect(self._mode_picked)
        self.algo_box = QFrame()
        self.algo_layout = QGridLayout(self.algo_box)
        self.algo_layout.setContentsMargins(0, 0, 0, 0)
        self.algo_layout.setVerticalSpacing(2)
        self.algo_layout.addWidget(QLabel("Loading the engine…"), 0, 0)
        self.form_title = muted()
        self.form = HParamForm()
        self.form.edited.connect(self._form_edited)
        self.restore_btn = QPushButton(icon("restore"), "Restore paper defaults")
        self.restore_btn.clicked.connect(self.form.restore_defaults)
        self.restore_btn.setEnabled(False)
        self.preset_btn = PresetButton(self.form)

        self.source_box = source_combo()
        self.source_box.activated.connect(self._source_picked)
        self.source_label = muted(BUILTIN_NOTE)
        self.spins: dict[str, QSpinBox] = {key: spin_box(*LIMITS[key], tip, getattr(self.value, key)) for key, _, tip in NUMBERS}
        for key, spin in self.spins.items():
            spin.valueChanged.connect(lambda value, key=key: self._edit(**{key: value}))
        self.protocol_box = combo(list(PROTOCOL_LABELS.items()), "Identical episodes: every algorithm trains on the same N-way K-shot Q-query tasks, in the same order "
                                             "(its own Training ways / shots / queries settings are not used).\n"
                                             "Paper: each keeps its paper's training shape (ProtoNet's 60 ways, Reptile's 10 shots…), same seed.")
        self.protocol_box.currentIndexChanged.connect(self._protocol_picked)
        self.device_box = device_combo()
        self.device_box.currentIndexChanged.connect(lambda: self._edit(device=self.device_box.currentData()))
        for box in (self.source_box, self.protocol_box, self.device_box):
            box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            box.setMinimumContentsLength(12)
        task = QFormLayout()
        self.source_title = QLabel("Meta-train on")
        task.addRow(self.source_title, self.source_box)
        task.addRow("", self.source_label)
        for key, label, *_ in NUMBERS[:3]:
            task.addRow(label, self.spins[key])
        task.addRow("Episodes", self.protocol_box)
        for key, label, *_ in NUMBERS[3:]:
            task.addRow(label, self.spins[key])
        task.addRow("Device", self.device_box)

        self.inner = QWidget()
        v = QVBoxLayout(self.inner)
        v.setContentsMargins(0, 0, 6, 0)
        v.addWidget(self.mode_box)
        v.addWidget(hint)
        v.addWidget(self.data_note)
        v.addWidget(self.omniglot_btn, 0, Qt.AlignmentFlag.AlignLeft)
        v.addWidget(group_title("Algorithms"))
        v.addWidget(self.algo_box)
        self.hp_title = group_title("Hyperparameters")
        v.addWidget(self.hp_title)
        v.addWidget(self.form_title)
        v.addWidget(self.form)
        v.addWidget(self.restore_btn, 0, Qt.AlignmentFlag.AlignLeft)
        v.addWidget(self.preset_btn, 0, Qt.AlignmentFlag.AlignLeft)  # below, not beside: the column is narrow
        v.addWidget(group_title("Task, budget & source"))
        v.addLayout(task)
        v.addStretch(1)
        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)  # never clip a form row
        self.scroll.setWidget(self.inner)

        self.run_btn = QPushButton(icon("train", "white"), "Run comparison")
        self.run_btn.setObjectName("primary")
        self.run_btn.setToolTip("Meta-train the ticked algorithms one after another, then test each on the shared test episodes")
        self.stop_btn = QPushButton(icon("stop"), "Stop")
        self.stop_btn.setToolTip("Stop: algorithms that finished keep their results")
        self.stop_btn.setEnabled(False)
        buttons = QHBoxLayout()
        buttons.addWidget(self.run_btn, 1)
        buttons.addWidget(self.stop_btn)
        self.progress = QProgressBar()
        self.progress.setTextVisible(False)
        self.progress.setMaximumHeight(8)
        self.progress_label = muted("Not run yet")
        self.setObjectName("card")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(10, 8, 10, 10)
        lay.addWidget(heading)
        lay.addWidget(self.scroll, 1)
        lay.addLayout(buttons)
        lay.addWidget(self.progress)
        lay.addWidget(self.progress_label)
        self.setMinimumWidth(320)
        self.setMaximumWidth(460)
        self._mode_changed()

    # -- the engine is loaded: list the algorithms ------------------------------------------------
    def list_algorithms(self, cuda: bool) -> None:
        import core

        while self.algo_layout.count():
            item = self.algo_layout.takeAt(0)
            if item.widget():
                item.widget().deleteLater()
        row = 0
        for family, label in core.FAMILIES.items():
            members = [cls for cls in core.ALGORITHMS.values() if cls.family == family]
            if not members:
                continue
            head = QLabel(label)
            head.setObjectName("muted")
            self.algo_layout.addWidget(head, row, 0, 1, 2)
            row += 1
            for cls in members:
                cb = QCheckBox(cls.title)
                cb.setIcon(swatch(algo_color(cls.name)))
                cb.setToolTip(f"{cls.title} — {cls.paper}")
                cb.setObjectName(f"compare-{cls.name}")
                btn = QToolButton()
                btn.setText("⚙")
                btn.setCheckable(True)
                btn.setAutoRaise(True)
                btn.setToolTip(f"Hyperparameters of {cls.title}")
                btn.clicked.connect(lambda _=False, n=cls.name: self.edit_hparams(n))
                cb.toggled.connect(lambda _on: self._edit(algorithms=self._ticked()))  # first: the slots below read the setup
                cb.toggled.connect(lambda on, n=cls.name: on and self.editing is None and self.edit_hparams(n))
                cb.toggled.connect(lambda _on: self._show_data_note())  # its example figure is a ticked model's
                self.checks[cls.name] = cb
                self.edit_buttons[cls.name] = btn
                self.algo_layout.addWidget(cb, row, 0)
                self.algo_layout.addWidget(btn, row, 1)
                row += 1
        self.algo_layout.setColumnStretch(0, 1)
        offer_cuda(self.device_box, cuda)
        self.show_setup(self.value.replace(algorithms=[n for n in self.value.algorithms if n in self.checks]))
        self.edit_hparams(next(iter(core.ALGORITHMS)))

    def edit_hparams(self, name: str) -> None:
        """Show `name`'s hyperparameter form (its own values are kept per algorithm)."""
        import core

        cls = core.ALGORITHMS[name]
        self.editing = name
        for n, b in self.edit_buttons.items():
            b.setChecked(n == name)
        self.form.blockSignals(True)
        self.form.set_fields(core.hparam_fields(cls.HParams), self.value.hparams.get(name, {}))
        self.form.blockSignals(False)
        shape_fields = [field_label(f) for f in core.hparam_fields(cls.HParams) if f["name"] in ("train_way", "train_shot", "train_query")]
        note = (f"<br><i>With identical episodes, {', '.join(shape_fields)} "
                f"{'is' if len(shape_fields) == 1 else 'are'} not used: every algorithm trains on N-way K-shot Q-query.</i>"
                if shape_fields and self.value.protocol == "same" else "")
        self.form_title.setText(f"<b>{cls.title}</b> — {cls.paper}{note}")
        self.restore_btn.setEnabled(not self.value.starter)
        self.preset_btn.set_presets(cls.presets)
        if self.value.starter:
            self.preset_btn.setVisible(False)

    def set_starters(self, starters: dict[str, str], entry: Callable[[str], ModelEntry | None] | None = None) -> None:
        """The starter models the app ships ({algorithm: checkpoint}, from the model library);
        `entry` finds a checkpoint's library entry, whose figure the setup and the results quote."""
        self.starters = dict(starters)
        found = {name: entry(path) for name, path in self.starters.items()} if entry is not None else {}
        self.starter_entries = {name: e for name, e in found.items() if e is not None}
        self._mode_changed()

    def compared_starters(self, config) -> dict[str, ModelEntry]:
        """{algorithm: library entry} of the starter models a comparison (its `core.CompareConfig`) tested."""
        return {name: self.starter_entries[name] for name in config.algorithms
                if name in self.starter_entries and config.models.get(name) == self.starters.get(name)}

    def _mode_picked(self) -> None:
        self._edit(mode=self.mode_box.currentData())
        self._mode_changed()

    def _protocol_picked(self) -> None:
        self._edit(protocol=self.protocol_box.currentData())
        if self.editing:
            self.edit_hparams(self.editing)  # its note on the training shape follows the protocol

    def _mode_changed(self) -> None:
        """Starter models: only the algorithms that have one can be ticked, and nothing about
        training (budget, seed, episode protocol, hyperparameters) applies."""
        starter = self.value.starter
        self.hint.setText(("The starter models shipped with the app, tested as they are on the same test episodes: no training."
                           if self.starters else "No starter models are shipped with this copy of the app: meta-train them here instead.")
                          if starter else "Every algorithm meta-trains on the same seeded episodes, then all are tested on the same test episodes.")
        for name, cb in self.checks.items():
            usable = not starter or name in self.starters
            cb.setEnabled(usable)
            if not usable:
                cb.setChecked(False)
            self.edit_buttons[name].setEnabled(not starter)
            cb.setToolTip(cb.toolTip().split("\n")[0] + ("" if usable else "\nNo starter model of this algorithm is shipped"))
        for key in TRAINING_ONLY:
            self.spins[key].setEnabled(not starter)
        self.protocol_box.setEnabled(not starter)
        # A starter model keeps the settings it was built with: no form to show (the Models tab's
        # tooltip and `fewshot starter list` say what they are).
        for w in (self.hp_title, self.form_title, self.form, self.restore_btn):
            w.setVisible(not starter)
        self.preset_btn.setVisible(not starter and bool(self.preset_btn.menu().actions()))
        self.source_title.setText("Test on" if starter else "Meta-train on")
        self._show_data_note()
        self.run_btn.setToolTip("Test the ticked starter models on the shared test episodes" if starter else
                                "Meta-train the ticked algorithms one after another, then test each on the shared test episodes")

    def _form_edited(self) -> None:
        if self.editing and self.form.fields:
            self._edit(hparams={**self.value.hparams, self.editing: self.form.changed_from_defaults()})

    def _ticked(self) -> tuple[str, ...]:
        return tuple(n for n, cb in self.checks.items() if cb.isChecked())

    def _edit(self, **changes: Any) -> None:
        """A field was edited: the setup with that change replaces the one on screen (the widgets
        are bounded by the model's limits, so an edit is always a valid setup)."""
        self.value = self.value.replace(**changes)

    # -- source ----------------------------------------------------------------------------------
    def _source_picked(self, index: int) -> None:
        kind = self.source_box.itemData(index)
        if kind == "builtin":
            self.set_source({"kind": "builtin", "folder": ""})
            return
        self._ask_folder(kind)

    def _ask_folder(self, kind: str) -> None:
        """Ask for an Omniglot or image folder; a folder not in Omniglot's layout is refused at
        once, with what the layout is (the source stays as it was)."""
        folder = ask_source_folder(self.dialogs, self.settings, kind)
        if folder and kind == "omniglot" and self.checks:  # the engine is loaded (the algorithms are listed)
            from core.sources import find_omniglot_root

            try:
                find_omniglot_root(folder)
            except core.SourceError as exc:
                self.message.emit("Not an Omniglot folder", f"{exc}.\n\nThe comparison keeps its data: {source_words(self.value.source)}.")
                folder = None
        if folder and self.settings is not None:
            self.settings.setValue(f"folders/{kind}", str(Path(folder).parent))
        self.set_source({"kind": kind, "folder": folder} if folder else self.value.source)

    def set_source(self, source: Mapping[str, Any]) -> None:
        """The meta-training source (checked when the run starts: a bad folder is reported then)."""
        self._edit(source=source)
        self._show_source()

    def _show_source(self) -> None:
        source = self.value.source
        self.source_box.setCurrentIndex(max(0, self.source_box.findData(source.get("kind", "builtin"))))
        self.source_label.setText(source.get("folder") or BUILTIN_NOTE)
        self._show_data_note()

    def _show_data_note(self) -> None:
        """Starter mode: say plainly whether the test data is the kind the starter models learned
        from, quoting one's own figure, and offer Omniglot when it is not."""
        starter = self.value.starter and bool(self.starters)
        self.data_note.setVisible(starter)
        self.omniglot_btn.setVisible(starter and self.value.source.get("kind") != "omniglot")
        if not starter:
            return
        example = next((self.starter_entries[n] for n in [*self.value.algorithms, *self.checks, *self.starter_entries] if n in self.starter_entries), None)
        self.data_note.setText(starter_data_note(self.value.source, example))

    # -- setup <-> screen ----------------------------------------------------------------------------
    def show_setup(self, setup: CompareSetup) -> None:
        """Make `setup` the one on screen and show it; the widgets' signals are blocked meanwhile,
        so rendering is no edit. In starter mode an algorithm without a starter model is then
        unticked (an edit, as when the mode is picked)."""
        self.value = setup
        widgets = [self.mode_box, self.protocol_box, self.device_box, *self.spins.values(), *self.checks.values()]
        for w in widgets:
            w.blockSignals(True)
        try:
            self.mode_box.setCurrentIndex(max(0, self.mode_box.findData(setup.mode)))
            for name, cb in self.checks.items():
                cb.setChecked(name in setup.algorithms)
            for key, spin in self.spins.items():
                spin.setValue(getattr(setup, key))
            self.protocol_box.setCurrentIndex(max(0, self.protocol_box.findData(setup.protocol)))
            self.device_box.setCurrentIndex(max(0, self.device_box.findData(setup.device)))
        finally:
            for w in widgets:
                w.blockSignals(False)
        self._show_source()
        self._mode_changed()
        if self.editing:
            self.edit_hparams(self.editing)

    def apply_setup(self, config, source: Mapping[str, Any] | None) -> None:
        """Show a comparison's config (a `core.CompareConfig`) and the source it ran on."""
        self.show_setup(self.value.with_config(config, source))

    # -- running ------------------------------------------------------------------------------------
    def set_running(self, running: bool) -> None:
        self.run_btn.setEnabled(not running)
        self.stop_btn.setEnabled(running)
        self.inner.setEnabled(not running)

    def set_run_enabled(self, on: bool) -> None:
        """Allow or refuse Run while no comparison runs (a sweep uses the comparison's models)."""
        self.run_btn.setEnabled(on)

    def say_progress(self, text: str) -> None:
        self.progress_label.setText(text)

    def start_progress(self, n_algorithms: int) -> None:
        self.progress.setRange(0, max(1, 100 * n_algorithms))
        self.progress.setValue(0)

    def show_progress(self, index: int, n: int, title: str, ev: dict | None, seconds_each: float | None) -> None:
        """Algorithm `index` of `n` is running; `ev` is its latest progress or testing event."""
        value, text = progress_step(index, n, title, ev, seconds_each)
        self.progress.setValue(value)
        self.say_progress(text)

    def show_end(self, comp) -> None:
        """A run ended (finished or stopped): how many algorithms were tested."""
        done = [r for r in comp.results.values() if r.finished]
        if comp.status == "done":
            self.progress.setValue(self.progress.maximum())
        n = len(comp.results)
        self.progress_label.setText(("Finished" if comp.status == "done" else "Stopped") +
                                    f": {len(done)} of {n} algorithm{'s' if n != 1 else ''} tested on {comp.config.eval_episodes} shared episodes")
