"""The Help menu: keyboard shortcuts (read from the window's actions, so the list cannot go
stale), a short "how to", and About (versions and the device in use); and View › Theme."""
from __future__ import annotations

import platform
import sys
from typing import Callable

from PySide6.QtCore import QSettings, Qt, qVersion
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (QAbstractItemView, QDialog, QDialogButtonBox, QHeaderView, QLabel, QMainWindow, QMenu, QMenuBar,
                               QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

# Keys that widgets handle themselves (no QAction carries them).
WIDGET_KEYS = [("Delete / Backspace", "Remove the selected samples or queries (support or query list)"),
               ("Return", "Add sample (Draw dialog)"),
               ("Double-click a model", "Use it to classify (Models tab); double-click its name to rename it")]

HOW_TO = """
<h3>Few-Shot Studio in five steps</h3>
<ol>
<li><b>Support set</b> (top left): one column per class. <i>Draw</i> samples, drop image files on a column,
or paste from the clipboard (the column's paste button). Drop a folder on the support area: one class per
sub-folder. Rename a class by clicking its name. The badge says when the set is ready.</li>
<li><b>Queries</b> (bottom left): drop, add or paste the images to classify, or draw one on the small
canvas: it is classified live while you draw; <i>Add to queries</i> keeps it. Each row names its file.</li>
<li><b>Train</b>: pick an algorithm in the toolbar, check the <i>Task &amp; source</i> and
<i>Hyperparameters</i> tabs, then Train (Ctrl+Enter). The curves show loss and accuracy; Stop ends the run
early. Trained models are listed in the <i>Models</i> tab.</li>
<li><b>Classify</b>: the model adapts to your support set and predicts every query, with one
confidence bar per class. Without a model, Classify offers a quick training first.</li>
<li><b>Compare</b> (Ctrl+2): tick several algorithms, run them on identical episodes, and read the
results table, the pairwise matrix and the bar chart; <i>My queries</i> shows every model's answer
for your queries. Export CSV, PNG or JSON.</li>
</ol>
<p>The mouse wheel scrolls the panels; click a setting first to change it with the wheel.</p>
"""


def _plain(text: str) -> str:
    return text.replace("&&", "\0").replace("&", "").replace("\0", "&").rstrip("…").strip()


def shortcut_rows(window: QWidget) -> list[tuple[str, str]]:
    """(keys, what they do) for every action of `window` that has a shortcut, in menu order
    where an action is in a menu, then the widget-handled keys."""
    rows: list[tuple[str, str]] = []
    seen: set[tuple[str, str]] = set()
    for act in window.findChildren(QAction):
        keys = " or ".join(k.toString(QKeySequence.SequenceFormat.NativeText) for k in act.shortcuts() if not k.isEmpty())
        row = (keys, _plain(act.text()))
        if keys and row[1] and row not in seen:
            seen.add(row)
            rows.append(row)
    return rows + WIDGET_KEYS


def _dialog(parent: QWidget, title: str, body: QWidget) -> QDialog:
    dlg = QDialog(parent)
    dlg.setWindowTitle(title)
    buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
    buttons.rejected.connect(dlg.close)
    lay = QVBoxLayout(dlg)
    lay.addWidget(body, 1)
    lay.addWidget(buttons)
    dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    return dlg


def shortcuts_dialog(window: QWidget) -> QDialog:
    rows = shortcut_rows(window)
    table = QTableWidget(len(rows), 2)
    table.setObjectName("shortcuts")
    table.setHorizontalHeaderLabels(["Keys", "Action"])
    table.verticalHeader().setVisible(False)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
    table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
    for r, (keys, what) in enumerate(rows):
        table.setItem(r, 0, QTableWidgetItem(keys))
        table.setItem(r, 1, QTableWidgetItem(what))
    table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
    table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
    dlg = _dialog(window, "Keyboard shortcuts", table)
    dlg.resize(560, min(640, 90 + 30 * len(rows)))
    return dlg


def how_to_dialog(window: QWidget) -> QDialog:
    text = QLabel(HOW_TO)
    text.setWordWrap(True)
    text.setTextFormat(Qt.TextFormat.RichText)
    text.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
    dlg = _dialog(window, "How to use Few-Shot Studio", text)
    dlg.resize(620, 460)
    return dlg


def version_lines(device_type: str, device_setting: str) -> list[tuple[str, str]]:
    """(what, version) for About. torch is named only once the engine has loaded it (importing it
    here would block the window for seconds)."""
    from importlib import metadata

    import PySide6

    try:
        app_version = metadata.version("fewshot-studio")
    except metadata.PackageNotFoundError:
        app_version = "unknown (not installed)"
    torch = sys.modules.get("torch")
    device = {"cpu": "CPU", "cuda": "CUDA GPU", "mps": "Apple GPU (MPS)"}.get(device_type, device_type)
    if torch is not None and device_type == "cuda" and torch.cuda.is_available():
        device += f": {torch.cuda.get_device_name(0)}"
    lines = [("Few-Shot Studio", app_version),
             ("Python", f"{platform.python_version()} ({platform.system()} {platform.machine()})"),
             ("PyTorch", torch.__version__ if torch is not None else "not loaded yet"),
             ("Qt", f"{qVersion()} (PySide6 {PySide6.__version__})")]
    try:
        lines.append(("pyqtgraph", metadata.version("pyqtgraph")))
    except metadata.PackageNotFoundError:
        pass
    lines.append(("Device in use", f"{device} (Task setting: {device_setting})"))
    return lines


def about_dialog(window: QMainWindow, device_type: str, device_setting: str) -> QDialog:
    rows = "".join(f"<tr><td><b>{k}</b>&nbsp;&nbsp;</td><td>{v}</td></tr>" for k, v in version_lines(device_type, device_setting))
    text = QLabel("<h3>Few-Shot Studio</h3><p>See few-shot learning work: meta-train an algorithm, then classify "
                  f"your own images from a handful of examples.</p><table>{rows}</table>")
    text.setTextFormat(Qt.TextFormat.RichText)
    text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    dlg = _dialog(window, "About Few-Shot Studio", text)
    return dlg


def add_theme_menu(view_menu: QMenu, settings: QSettings) -> None:
    """View › Theme: the choice is stored in the settings and applies at the next start."""
    theme_menu = view_menu.addMenu("Theme (applies at next start)")
    current = settings.value("theme", "system")
    for key, label in (("system", "System"), ("light", "Light"), ("dark", "Dark")):
        act = theme_menu.addAction(label, lambda k=key: settings.setValue("theme", k))
        act.setCheckable(True)
        act.setChecked(key == current)


def add_help_menu(menu_bar: QMenuBar, window: QMainWindow, devices: Callable[[], tuple[str, str]]) -> tuple[QAction, QAction, QAction]:
    """The Help menu: (keyboard shortcuts, how to…, about) actions; `devices()` gives the About
    box's (device found, device chosen) when it opens."""
    hm = menu_bar.addMenu("&Help")
    shortcuts = hm.addAction("Keyboard shortcuts", lambda: shortcuts_dialog(window).show())
    shortcuts.setShortcut(QKeySequence("Ctrl+/"))
    how_to = hm.addAction("How to…", lambda: how_to_dialog(window).show())
    how_to.setShortcut(QKeySequence.StandardKey.HelpContents)
    hm.addSeparator()
    about = hm.addAction("About Few-Shot Studio", lambda: about_dialog(window, *devices()).show())
    return shortcuts, how_to, about
