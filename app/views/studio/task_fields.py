"""The task settings' widgets, built one way for both forms that show them: the Studio's Task tab
and the Compare view's setup (meta-training source, device, the N / K / Q and budget numbers)."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QComboBox, QSpinBox

from core.tasks import SOURCE_KINDS

from app.controllers.dialogs import Dialogs

SOURCE_LABELS = {"builtin": "Built-in characters", "omniglot": "Omniglot folder…", "folder": "Image folder…"}  # one per kind
BUILTIN_NOTE = "procedurally drawn characters, no download"
DEVICES = [("auto", "Auto (CUDA when present)"), ("cpu", "CPU"), ("cuda", "CUDA")]


def combo(items: list[tuple[str, str]], tip: str = "") -> QComboBox:
    """A combo box of (data, label) items."""
    box = QComboBox()
    for key, label in items:
        box.addItem(label, key)
    if tip:
        box.setToolTip(tip)
    return box


def source_combo(tip: str = "") -> QComboBox:
    return combo([(kind, SOURCE_LABELS[kind]) for kind in SOURCE_KINDS], tip)


def device_combo() -> QComboBox:
    return combo(DEVICES)


def offer_cuda(box: QComboBox, available: bool) -> None:
    """Grey out the CUDA choice of a device combo on a machine without CUDA."""
    box.model().item(box.findData("cuda")).setEnabled(available)


def spin_box(lo: int, hi: int, tip: str, value: int | None = None) -> QSpinBox:
    s = QSpinBox()
    s.setRange(lo, hi)
    s.setToolTip(tip)
    if value is not None:
        s.setValue(value)
    return s


def ask_source_folder(dialogs: Dialogs, settings: QSettings | None, kind: str) -> str | None:
    """Ask for an Omniglot or image folder, starting where the last one of that kind was."""
    start = settings.value(f"folders/{kind}", str(Path.home())) if settings is not None else str(Path.home())
    return dialogs.open_folder("Choose the Omniglot folder" if kind == "omniglot" else "Choose an image folder (one sub-folder per class)", start)
