"""Issue 12's smaller defects and the mouse wheel over forms: each through real Qt events."""
from __future__ import annotations

from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QFontMetrics, QWheelEvent
from PySide6.QtWidgets import QAbstractScrollArea, QApplication, QComboBox, QLabel, QScrollArea, QSpinBox, QTableWidget


def wheel(widget, steps: int = -1) -> None:
    """A real wheel event (notches of 120; negative = towards the user) at the widget's centre."""
    pos = QPointF(widget.width() / 2, widget.height() / 2)
    ev = QWheelEvent(pos, widget.mapToGlobal(pos), QPoint(0, 0), QPoint(0, 120 * steps), Qt.MouseButton.NoButton,
                     Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(widget, ev)


def scroll_area_of(w) -> QAbstractScrollArea:
    while not isinstance(w, QScrollArea):
        w = w.parentWidget()
    return w


def value_of(w):
    return w.currentIndex() if isinstance(w, QComboBox) else w.value()


def check_wheel_scrolls_until_focused(qtbot, editor, area) -> None:
    bar = area.verticalScrollBar()
    assert bar.maximum() > 0, "the form must be taller than its panel for this test"
    bar.setValue(0)
    before = value_of(editor)
    wheel(editor, -1)
    assert value_of(editor) == before, "an unfocused editor changed under the wheel"
    assert bar.value() > 0, "the wheel did not scroll the panel"
    assert editor.focusPolicy() == Qt.FocusPolicy.StrongFocus  # Qt's WheelFocus: a real wheel would focus it
    # Focused (a click), the wheel changes the value as usual.
    area.ensureWidgetVisible(editor)
    qtbot.mouseClick(editor, Qt.MouseButton.LeftButton, pos=QPoint(8, editor.height() // 2))
    if isinstance(editor, QComboBox):
        editor.hidePopup()
    qtbot.waitUntil(editor.hasFocus, timeout=60_000)
    if isinstance(editor, QComboBox):  # wheel down: the next item, unless it shows the last
        wheel(editor, 1 if editor.currentIndex() == editor.count() - 1 else -1)
    else:  # wheel up: a larger value, unless at the maximum
        wheel(editor, -1 if editor.value() == editor.maximum() else 1)
    assert value_of(editor) != before


def _first_editor(form, kinds):
    return next(w for w in form.editors.values() if isinstance(w, kinds))


def test_wheel_over_the_hyperparameter_form_scrolls_it_and_changes_nothing_until_focused(window, qtbot):
    window.resize(1280, 620)  # a short window: the form needs its scroll bar
    window.tabs.setCurrentIndex(1)
    row = window.algo_box.row_of("lstm_meta")  # a long form, with spin boxes and combo boxes
    window.algo_box.setCurrentIndex(row)
    qtbot.waitUntil(lambda: "test_update" in window.hparam_tab.form.editors, timeout=60_000)
    area = scroll_area_of(window.hparam_tab.form)
    qtbot.waitUntil(lambda: area.verticalScrollBar().maximum() > 0, timeout=60_000)
    check_wheel_scrolls_until_focused(qtbot, _first_editor(window.hparam_tab.form, QSpinBox), area)
    window.setFocus()
    check_wheel_scrolls_until_focused(qtbot, _first_editor(window.hparam_tab.form, QComboBox), area)


def test_wheel_over_the_compare_setup_scrolls_it_and_changes_nothing_until_focused(window, qtbot):
    window.resize(1280, 620)
    window.compare_view_act.trigger()
    cv = window.compare
    area = cv.setup.scroll
    qtbot.waitUntil(lambda: area.verticalScrollBar().maximum() > 0, timeout=60_000)
    check_wheel_scrolls_until_focused(qtbot, cv.setup.spins["seed"], area)
    window.setFocus()
    check_wheel_scrolls_until_focused(qtbot, cv.setup.device_box, area)


def test_first_launch_window_fits_the_screen():
    from PySide6.QtCore import QRect

    from app.views.widgets.window_geometry import FRAME_ALLOWANCE, PREFERRED_WINDOW, first_window_rect, fit_inside

    laptop = QRect(0, 0, 1366, 768 - 28)  # a 1366×768 screen less a 28-pixel panel
    rect = first_window_rect(laptop)
    assert laptop.contains(rect), rect
    assert rect.width() == 1366 and rect.height() == 740  # all the room there is (the layout works at 1360×740)
    big = QRect(0, 0, 1920, 1080 - 40)
    rect = first_window_rect(big)
    assert big.contains(rect) and rect.size() == PREFERRED_WINDOW + FRAME_ALLOWANCE
    assert rect.center() == big.center()
    # A window saved on a larger screen, restored on the laptop: shrunk and moved inside.
    fitted = fit_inside(QRect(900, 300, 1600, 1000), laptop)
    assert laptop.contains(fitted) and fitted.size().width() == 1366
    assert fit_inside(QRect(10, 20, 800, 600), laptop) == QRect(10, 20, 800, 600)  # one that fits stays


def _fresh_window(tmp_path, geometry=None):
    from PySide6.QtCore import QSettings

    from app.main_window import MainWindow

    settings = QSettings(str(tmp_path / "fresh.ini"), QSettings.Format.IniFormat)
    if geometry is not None:
        settings.setValue("window/geometry", geometry)
    return MainWindow(settings, data_path=tmp_path / "fresh", load_core=False)


def test_first_launch_and_restored_windows_are_no_larger_than_the_screen(qtbot, tmp_path):
    win = _fresh_window(tmp_path)
    qtbot.addWidget(win)
    available = win.screen().availableGeometry()
    # The offscreen screen is smaller than the window's minimum: the window is as small as its layout allows.
    limit = available.size().expandedTo(win.minimumSizeHint())
    assert win.width() <= limit.width() and win.height() <= limit.height(), (win.size(), available)
    win.resize(3000, 2000)  # saved on a big screen…
    win.move(500, 400)
    saved = win.saveGeometry()
    win.close()
    win = _fresh_window(tmp_path, saved)  # …and restored on this one
    qtbot.addWidget(win)
    assert win.width() <= limit.width() and win.height() <= limit.height(), win.size()
    win.close()


def test_progress_bar_claims_no_step_count_before_a_run(qtbot):
    from app.views.studio.training_panel import TrainingPanel

    panel = TrainingPanel()
    qtbot.addWidget(panel)
    assert panel.progress_bar.text() == "no run"  # was "0 / 1 steps" with Steps at 1000
    panel.start("Starting ProtoNet…", 1000)
    assert panel.progress_bar.text() == "0 / 1000 steps"
    panel.stop()
    panel.reset()
    assert panel.progress_bar.text() == "no run"


def test_the_badge_says_plainly_what_the_support_set_is(qtbot):
    from tests.app.apphelpers import glyph_png

    from app.model import Project
    from app.views.studio.support_panel import SupportPanel

    p = Project(n_classes=3)
    panel = SupportPanel(p)
    qtbot.addWidget(panel)
    for ci in range(3):
        p.add_samples(ci, [glyph_png(ci)])
    assert panel.badge.text() == "✓ Ready: 3-way 1-shot task"
    p.add_samples(1, [glyph_png(1, 1), glyph_png(1, 2)])
    # Every support image is used when classifying: an uneven set is not called 1-shot.
    assert panel.badge.text() == "✓ Ready: 3-way task, 1–3 examples per class (all are used)"
    assert "N-way K-shot" in panel.badge.toolTip()


def _drag_enter(widget, path):
    from PySide6.QtCore import QMimeData, QUrl
    from PySide6.QtGui import QDragEnterEvent

    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    ev = QDragEnterEvent(widget.rect().center(), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                         Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, ev)
    return ev.isAccepted()


def test_dragging_files_over_a_panel_highlights_it_until_the_drag_leaves(window, qtbot, tmp_path):
    from PySide6.QtGui import QDragLeaveEvent
    from tests.app.apphelpers import glyph_png

    png = tmp_path / "x.png"
    png.write_bytes(glyph_png(0))
    for panel in (window.query, window.support, window.support.columns[1]):
        before = panel.grab().toImage()
        assert _drag_enter(panel, png)
        qtbot.waitUntil(lambda: panel.grab().toImage() != before, timeout=60_000)  # something is drawn over it
        QApplication.sendEvent(panel, QDragLeaveEvent())
        qtbot.waitUntil(lambda: panel.grab().toImage() == before, timeout=60_000)


def test_query_rows_name_their_file_drawing_or_paste_and_the_project_file_keeps_the_names(window, qtbot, tmp_path):
    import json
    import zipfile

    from tests.app.apphelpers import drop_paths, glyph_png, mouse_stroke
    from PySide6.QtGui import QImage

    from app.model import projectfile

    files = []
    for i in range(3):
        f = tmp_path / f"a-rather-long-file-name-for-query-number-{i}.png"
        f.write_bytes(glyph_png(i))
        files.append(f)
    assert drop_paths(window.query, files)
    # A drawn query, and a pasted one.
    canvas = window.query.draw.canvas
    mouse_stroke(canvas, [(20, 20), (60, 60), (100, 40)])
    qtbot.mouseClick(window.query.keep_btn, Qt.MouseButton.LeftButton)
    QApplication.clipboard().setImage(QImage.fromData(glyph_png(2)))
    qtbot.mouseClick(window.query.paste_btn, Qt.MouseButton.LeftButton)
    rows = window.query.rows()
    assert [r.source.full_text for r in rows] == [f.name for f in files] + ["drawing 1", "pasted"]
    assert rows[0].toolTip() == str(files[0]) and "drawn" in rows[3].toolTip() and "clipboard" in rows[4].toolTip()
    assert rows[0].source.isVisibleTo(rows[0])
    # Elided to the row, never widening it.
    assert rows[0].source.fontMetrics().horizontalAdvance(rows[0].source.text()) <= rows[0].source.width()
    # Saved and reopened: the names come back; a project saved before samples had names still opens.
    path = tmp_path / "named.fsproj"
    projectfile.save_project(window.project, path)
    reopened = projectfile.load_project(path).project
    assert [q.name for q in reopened.queries] == [str(f) for f in files] + ["drawing 1", "pasted"]
    old = tmp_path / "old.fsproj"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(old, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "manifest.json":
                manifest = json.loads(data)
                manifest.pop("query_sources")
                for c in manifest["classes"]:
                    c.pop("sources")
                data = json.dumps(manifest).encode()
            dst.writestr(info, data)
    legacy = projectfile.load_project(old).project
    assert len(legacy.queries) == 5 and all(q.name == "" for q in legacy.queries)


def _shown_dialog(window, kind=None):
    """The dialog the window has on screen, found as a person sees it: a visible top-level window."""
    from PySide6.QtWidgets import QDialog

    return next(w for w in QApplication.topLevelWidgets()
                if isinstance(w, kind or QDialog) and w.isVisible() and w.parentWidget() is window)


def test_help_menu_lists_every_shortcut_from_the_actions_and_about_names_versions_and_device(window, qtbot):
    from PySide6.QtGui import QAction, QKeySequence

    menus = {a.text(): a.menu() for a in window.menuBar().actions()}
    help_menu = menus["&Help"]
    titles = [a.text() for a in help_menu.actions() if not a.isSeparator()]
    assert titles == ["Keyboard shortcuts", "How to…", "About Few-Shot Studio"]
    # The list is read from the actions: a new action with a shortcut appears without editing the list.
    QAction("Frobnicate", window, shortcut=QKeySequence("Ctrl+Alt+F"))
    window.shortcuts_act.trigger()
    table = _shown_dialog(window).findChild(QTableWidget, "shortcuts")
    rows = {(table.item(r, 0).text(), table.item(r, 1).text()) for r in range(table.rowCount())}
    for act in window.findChildren(QAction):
        for key in act.shortcuts():
            assert any(key.toString(QKeySequence.SequenceFormat.NativeText) in k and w == act.text().replace("&", "").rstrip("…")
                       for k, w in rows), act.text()
    assert ("Ctrl+Alt+F", "Frobnicate") in rows and any(w == "Train" for _, w in rows)
    _shown_dialog(window).close()
    window.how_to_act.trigger()
    assert "Support set" in _shown_dialog(window).findChild(QLabel).text()
    _shown_dialog(window).close()
    window.about_act.trigger()
    text = _shown_dialog(window).findChild(QLabel).text()
    import platform

    import torch
    from PySide6.QtCore import qVersion
    for needle in (platform.python_version(), torch.__version__, qVersion(), "Device in use", "CPU"):
        assert needle in text, needle
    _shown_dialog(window).close()


def test_hyperparameter_labels_are_readable_and_the_meaning_stays_in_the_tooltip(qtbot):
    import core

    from app.views.studio.hparam_form import HParamForm

    form = HParamForm()
    qtbot.addWidget(form)
    labels = {}
    for name, cls in core.ALGORITHMS.items():
        fields = core.hparam_fields(cls.HParams)
        form.set_fields(fields)
        for f in fields:
            label = form.layout_.labelForField(form.editors[f["name"]])
            labels[(name, f["name"])] = label.text()
            assert "_" not in label.text() and label.text()[0].isupper(), label.text()
            assert f["doc"] in label.toolTip() and f["name"] in label.toolTip()
    assert labels[("protonet", "train_way")] == "Training ways"
    assert labels[("protonet", "lr")] == "Learning rate"
    assert labels[("protonet", "hidden")] == "Filters per block" and labels[("lstm_meta", "hidden")] == "Hidden units"
    assert labels[("maml", "inner_steps_test")] == "Inner steps (test)"


def test_models_tab_shows_names_and_dates_in_full_on_a_laptop_screen(window, qtbot, tiny_checkpoint):
    window.resize(1366 - 16, 768 - 28 - 40)
    ids = []
    for i, (algo, title) in enumerate((("protonet", "Prototypical Networks"), ("lstm_meta", "Meta-Learner LSTM"))):
        ids.append(window.library.new_id(algo))
        window.library.path(ids[-1]).write_bytes(tiny_checkpoint)  # the library takes in only real checkpoints
        window.library.add(ids[-1], algorithm=algo, title=title, source="built-in characters (2,000 classes)",
                           n_way=5, k_shot=1, val_accuracy=0.873, steps=1000)
    window.project.set_model_file(str(window.library.path(ids[0])))  # the model in use: its row is bold, the widest
    window.show_models()
    window.tabs.setCurrentIndex(2)
    tree = window.models_tab.tree
    qtbot.waitUntil(lambda: tree.viewport().width() > 100, timeout=60_000)
    hdr = tree.header()
    for r in range(tree.topLevelItemCount()):
        item = tree.topLevelItem(r)
        fm = QFontMetrics(item.font(0))
        for col in (0, 3, 4, 5):  # name, N/K, validation accuracy, date: never cut, never off to the right
            assert not tree.isColumnHidden(col)
            x = hdr.sectionViewportPosition(col)
            assert 0 <= x and x + hdr.sectionSize(col) <= tree.viewport().width(), (col, x, hdr.sectionSize(col))
            if col:
                assert hdr.sectionSize(col) >= fm.horizontalAdvance(item.text(col)), item.text(col)
        # The name fits on its line, or its row is tall enough for the wrapped second line.
        lines = 1 if hdr.sectionSize(0) >= fm.horizontalAdvance(item.text(0)) + 8 else 2
        qtbot.waitUntil(lambda: tree.visualItemRect(item).height() >= lines * fm.lineSpacing(), timeout=60_000)
    # A wide pane has room for every column.
    window.resize(2400, 800)
    window.main_split.setSizes([1000, 1400])
    qtbot.waitUntil(lambda: not tree.isColumnHidden(1) and not tree.isColumnHidden(2), timeout=60_000)


def _record(steps: int) -> dict:
    import math

    xs = list(range(1, steps + 1))
    return {"step": steps, "episodes_seen": 4 * steps, "elapsed_s": 12.0, "source": "built-in characters",
            "history": {"step": xs, "loss": [2.0 * math.exp(-s / 300) + 0.1 for s in xs], "accuracy": [min(0.97, 0.3 + s / 900) for s in xs],
                        "val_step": [steps // 2, steps], "val_accuracy": [0.7, 0.9]}}


def test_studio_plots_legend_is_off_the_curves_and_empty_plots_drop_the_last_runs_ranges(qtbot):
    from app.views.studio.training_panel import TrainingPanel

    panel = TrainingPanel()
    qtbot.addWidget(panel)
    panel.resize(500, 400)
    panel.show()
    panel.show_record(_record(1000), "ProtoNet")
    vb = panel.acc_plot.getViewBox()
    qtbot.waitUntil(lambda: panel.loss_plot.viewRange()[0][1] > 3000, timeout=60_000)
    # The legend lies outside both plots' areas: it cannot cover a curve.
    legend = panel.acc_legend.sceneBoundingRect()
    for plot in (panel.loss_plot, panel.acc_plot):
        assert not legend.intersects(plot.getViewBox().sceneBoundingRect()), (legend, plot.getViewBox().sceneBoundingRect())
    assert [label.text for _, label in panel.acc_legend.items] == ["loss", "training accuracy", "validation accuracy"]
    # Another algorithm, no model yet: the empty plots show the default ranges.
    panel.reset()
    qtbot.waitUntil(lambda: panel.loss_plot.viewRange()[0][1] <= 1.01, timeout=60_000)
    assert vb.viewRange()[0][1] <= 1.01 and panel.loss_plot.viewRange()[1][1] <= 1.01
    # New data rescales them again.
    panel.show_record(_record(200), "MAML")
    qtbot.waitUntil(lambda: 700 < panel.loss_plot.viewRange()[0][1] < 900, timeout=60_000)


def test_place_beside_keeps_clear_of_the_rectangle():
    from PySide6.QtCore import QRect, QSize

    from app.views.widgets.window_geometry import place_beside

    screen = QRect(0, 0, 1366, 740)
    support = QRect(10, 80, 850, 250)
    pos = place_beside(QSize(340, 420), support, screen)
    assert pos.x() > support.right() and screen.contains(QRect(pos, QSize(340, 420)))
    wide = QRect(10, 80, 1300, 200)  # no room to the right: below it
    pos = place_beside(QSize(340, 420), wide, screen)
    assert pos.y() > wide.bottom() and screen.contains(QRect(pos, QSize(340, 420)))


def test_draw_dialog_opens_beside_the_support_columns_not_over_them(window, qtbot):
    from PySide6.QtCore import QRect

    window.move(0, 0)
    window.resize(1100, 760)
    qtbot.waitUntil(lambda: window.support.scroll.width() > 300, timeout=60_000)
    qtbot.mouseClick(window.support.columns[3].draw_btn, Qt.MouseButton.LeftButton)
    from app.views.studio.draw_dialog import DrawDialog

    qtbot.waitUntil(lambda: any(isinstance(w, DrawDialog) and w.isVisible() for w in QApplication.topLevelWidgets()), timeout=60_000)
    dlg = _shown_dialog(window, DrawDialog)
    qtbot.waitUntil(dlg.isVisible, timeout=60_000)
    columns = QRect(window.support.scroll.mapToGlobal(QPoint(0, 0)), window.support.scroll.size())
    assert not dlg.frameGeometry().intersects(columns), (dlg.frameGeometry(), columns)
    assert dlg.class_box.currentIndex() == 3
    dlg.close()


def test_wheel_over_the_task_form_changes_nothing_until_focused(window, qtbot):
    window.tabs.setCurrentIndex(0)
    for editor in (window.task_tab.spins["steps"], window.task_tab.device_box, window.task_tab.source_box):
        before = value_of(editor)
        wheel(editor, -1)
        wheel(editor, 1)
        wheel(editor, 1)
        assert value_of(editor) == before, editor


def test_an_ensembles_record_says_its_curves_are_its_networks_one_after_the_other(qtbot):
    from app.views.studio.training_panel import TrainingPanel

    panel = TrainingPanel()
    qtbot.addWidget(panel)
    panel.show_record(_record(300), "ProtoNet")
    assert "ensemble" not in panel.stats.text()
    panel.show_record({**_record(300), "members": [{"file": "a.pt"}, {"file": "b.pt"}]}, "Handwriting")
    assert "an ensemble of 2 networks, their curves one after the other" in panel.stats.text()


def test_png_exports_are_written_whole_or_not_at_all(qtbot, tmp_path):
    from PySide6.QtGui import QImage, QPixmap

    from app.views.widgets.common import write_png

    image = QImage(40, 30, QImage.Format.Format_RGB32)
    image.fill(0x336699)
    assert write_png(image, tmp_path / "a.png") and (tmp_path / "a.png").read_bytes().startswith(b"\x89PNG")
    assert write_png(QPixmap.fromImage(image), tmp_path / "b.png") and QImage(str(tmp_path / "b.png")).size() == image.size()
    before = (tmp_path / "a.png").read_bytes()
    assert not write_png(image, tmp_path / "a.png" / "c.png")  # a place that cannot be written: False, nothing half-written
    assert (tmp_path / "a.png").read_bytes() == before and not list(tmp_path.glob("*.tmp"))
