"""A hyperparameter form generated from an algorithm's HParams dataclass.

`fields` is `core.hparam_fields(cls.HParams)`: name, type, default, doc, min, max, choices, log.
bool -> check box, choices -> combo box, int -> spin box, float -> a spin box that shows
scientific values (1e-3) and steps ×/÷ 2 on log-scaled fields, str -> line edit. Tooltips carry
the field's doc and range. A new algorithm therefore needs no app code.
"""
from __future__ import annotations

import math
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtGui import QValidator
from PySide6.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox, QFormLayout, QLabel, QLineEdit, QMenu, QPushButton, QSpinBox, QWidget

INT_LIMIT = 2_000_000_000

# Readable labels. A field's name is humanised word by word (WORDS: "train_way" -> "Training
# ways", "_test" -> "(test)"); LABELS names the fields whose words alone say too little. The
# field's doc stays in the tooltip. A new algorithm's fields get humanised names with no app code.
WORDS = {"lr": "learning rate", "bn": "BatchNorm", "fc": "FC", "fce": "FCE", "sgd": "SGD", "grad": "gradient",
         "rep": "representation", "dim": "size", "adam": "Adam", "beta1": "β1", "way": "ways", "query": "queries per class",
         "shot": "shots per class", "train": "training"}
LABELS = {"lr_halve_every": "Halve learning rate every", "first_order": "First-order", "meta_step": "Meta step size ε",
          "meta_step_final": "Final meta step size ε", "gamma": "Usage decay γ", "grad_p": "Gradient preprocessing p",
          "fc_hidden": "FC hidden units", "meta_hidden": "Meta hidden units", "controller": "Controller units",
          "input_gate_init": "Initial input gate", "fce": "Full context embeddings", "test_update": "Test-time update",
          "rep_pairs": "Representation pairs T", "task_generator": "Task-level generator", "instances": "Instances per class",
          "classes": "Classes per sequence", "update_steps": "Learner updates T", "bn_mode": "BatchNorm statistics",
          "score": "Class score", "filters": "Filters per block", "inner_batch": "Inner batch size",
          "write_content": "Memory write", "read_heads": "Read heads", "image_size": "Image size (pixels)"}


def field_label(f: dict) -> str:
    """A readable label for a form field: "train_way" -> "Training ways", "lr" -> "Learning rate"."""
    name = f["name"]
    if name == "hidden":  # filters of a conv net in most algorithms, LSTM units in others: the doc says which
        return "Filters per block" if (f.get("doc") or "").startswith("Filters") else "Hidden units"
    if name in LABELS:
        return LABELS[name]
    test = name.endswith("_test")
    text = " ".join(WORDS.get(w, w) for w in (name[: -len("_test")] if test else name).split("_")) + (" (test)" if test else "")
    return text[:1].upper() + text[1:]


class SciSpinBox(QDoubleSpinBox):
    """A float spin box that prints 0.001 as 1e-3-style shortest text and keeps full precision."""

    def __init__(self, log: bool = False, parent: QWidget | None = None):
        super().__init__(parent)
        self.log = log
        self.setDecimals(15)  # QDoubleSpinBox rounds values to this many decimals

    def textFromValue(self, v: float) -> str:
        return f"{v:.6g}"

    def valueFromText(self, text: str) -> float:
        try:
            return float(text)
        except ValueError:
            return self.value()

    def validate(self, text: str, pos: int):
        try:
            v = float(text)
        except ValueError:
            return QValidator.State.Intermediate, text, pos
        ok = self.minimum() <= v <= self.maximum()
        return (QValidator.State.Acceptable if ok else QValidator.State.Intermediate), text, pos

    def stepBy(self, steps: int) -> None:
        v = self.value()
        if self.log and v > 0:
            self.setValue(v * (2.0 ** steps))  # log-scaled: halve / double
        else:
            mag = 10 ** math.floor(math.log10(abs(v))) if v else 0.1
            self.setValue(v + steps * mag / 10)


def _range_text(f: dict) -> str:
    lo, hi = f.get("min"), f.get("max")
    if f.get("choices"):
        return "one of: " + ", ".join(map(str, f["choices"]))
    if lo is None and hi is None:
        return ""
    return f"range {lo if lo is not None else '−∞'} … {hi if hi is not None else '∞'}"


class HParamForm(QWidget):
    edited = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.layout_ = QFormLayout(self)
        self.layout_.setContentsMargins(0, 0, 0, 0)
        self.layout_.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.fields: list[dict] = []
        self.editors: dict[str, QWidget] = {}

    def set_fields(self, fields: list[dict[str, Any]], values: dict[str, Any] | None = None) -> None:
        while self.layout_.rowCount():
            self.layout_.removeRow(0)
        self.fields, self.editors = list(fields), {}
        for f in self.fields:
            editor = self._editor(f)
            tip = "\n".join(t for t in (f.get("doc") or "", _range_text(f), f"paper default: {f['default']}") if t)
            editor.setToolTip(tip)
            label = QLabel(field_label(f))
            label.setToolTip(f"{f['name']}: {tip}")  # the field's own name too: the CLI's --hp takes it
            self.editors[f["name"]] = editor
            self.layout_.addRow(label, editor)
        self.set_values({f["name"]: f["default"] for f in self.fields})
        if values:
            self.set_values(values)

    def _editor(self, f: dict) -> QWidget:
        typ, lo, hi = f["type"], f.get("min"), f.get("max")
        if f.get("choices"):
            w = QComboBox()
            for c in f["choices"]:
                w.addItem(str(c), c)
            w.currentIndexChanged.connect(self.edited)
        elif typ is bool:
            w = QCheckBox()
            w.toggled.connect(self.edited)
        elif typ is int:
            w = QSpinBox()
            w.setRange(int(lo) if lo is not None else -INT_LIMIT, int(min(hi, INT_LIMIT)) if hi is not None else INT_LIMIT)
            w.setGroupSeparatorShown(False)
            w.valueChanged.connect(self.edited)
        elif typ is float:
            w = SciSpinBox(bool(f.get("log")))
            w.setRange(float(lo) if lo is not None else -1e12, float(hi) if hi is not None else 1e12)
            w.valueChanged.connect(self.edited)
        else:
            w = QLineEdit()
            w.textEdited.connect(self.edited)
        return w

    def values(self) -> dict[str, Any]:
        out = {}
        for f in self.fields:
            w = self.editors[f["name"]]
            if isinstance(w, QComboBox):
                out[f["name"]] = w.currentData()
            elif isinstance(w, QCheckBox):
                out[f["name"]] = w.isChecked()
            elif isinstance(w, QSpinBox):
                out[f["name"]] = int(w.value())
            elif isinstance(w, QDoubleSpinBox):
                out[f["name"]] = float(w.value())
            else:
                out[f["name"]] = f["type"](w.text()) if f["type"] is not str else w.text()
        return out

    def set_values(self, values: dict[str, Any]) -> None:
        for name, v in values.items():
            w = self.editors.get(name)
            if w is None:
                continue  # a value for a field this algorithm no longer has: ignore it
            w.blockSignals(True)
            if isinstance(w, QComboBox):
                i = w.findData(v)
                w.setCurrentIndex(i if i >= 0 else w.currentIndex())
            elif isinstance(w, QCheckBox):
                w.setChecked(bool(v))
            elif isinstance(w, QSpinBox):
                w.setValue(int(v))
            elif isinstance(w, QDoubleSpinBox):
                w.setValue(float(v))
            else:
                w.setText(str(v))
            w.blockSignals(False)
        self.edited.emit()

    def restore_defaults(self) -> None:
        self.apply_preset({})

    def apply_preset(self, values: dict[str, Any]) -> None:
        """The paper defaults with `values` on top, in one edit."""
        self.set_values({**{f["name"]: f["default"] for f in self.fields}, **values})

    def changed_from_defaults(self) -> dict[str, Any]:
        """Only the values that differ from the paper: what the project stores."""
        defaults = {f["name"]: f["default"] for f in self.fields}
        return {k: v for k, v in self.values().items() if v != defaults.get(k)}


class PresetButton(QPushButton):
    """"Use measured settings ▾": the algorithm's `presets` (settings a run in docs/results.md measured to work
    better than the paper's on a CPU budget), each applied to `form` on top of the paper defaults.
    Hidden for an algorithm that has none."""

    def __init__(self, form: HParamForm, parent: QWidget | None = None):
        super().__init__("Use measured settings", parent)
        self.form = form
        self.setMenu(QMenu(self))
        self.setToolTip("The paper's defaults with the settings of the run of this algorithm in docs/results.md that measured them")
        self.hide()

    def set_presets(self, presets: dict[str, dict[str, Any]]) -> None:
        menu = self.menu()
        menu.clear()
        labels = {f["name"]: field_label(f).lower() for f in self.form.fields}
        for label, values in presets.items():
            settings = ", ".join(f"{labels.get(k, k)} {v}" for k, v in values.items())
            menu.addAction(f"{label}: {settings}").triggered.connect(lambda _=False, v=dict(values): self.form.apply_preset(v))
        self.setVisible(bool(presets))
