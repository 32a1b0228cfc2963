"""Building support and query sets: drawing, drops, renaming and removing (pytest-qt, offscreen)."""
from __future__ import annotations

import io

import numpy as np
from PIL import Image
from PySide6.QtCore import Qt

from tests.app.apphelpers import drop_paths, glyph_png, mouse_stroke


def _ink(png: bytes) -> int:
    return int((np.asarray(Image.open(io.BytesIO(png)).convert("L")) < 128).sum())


def test_mouse_drawing_makes_a_sample_and_ctrl_z_undoes(window, qtbot):
    from app.views.studio.draw_dialog import DrawDialog

    dlg = DrawDialog(window, window.project, window.editor, 1)
    qtbot.addWidget(dlg)
    dlg.show()
    qtbot.waitExposed(dlg)
    canvas = dlg.panel.canvas
    assert canvas.is_blank()
    mouse_stroke(canvas, [(30, 30), (60, 50), (90, 90), (120, 60)])
    assert not canvas.is_blank()
    # Ctrl+Z on the canvas takes the stroke back; a second stroke is what we keep.
    canvas.setFocus()
    qtbot.keyClick(canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert canvas.is_blank()
    mouse_stroke(canvas, [(40, 100), (100, 40), (140, 120)])
    qtbot.mouseClick(dlg.add_btn, Qt.MouseButton.LeftButton)
    samples = window.project.classes[1].samples
    assert len(samples) == 1 and canvas.is_blank()
    img = Image.open(io.BytesIO(samples[0].png))
    assert img.size == (256, 256) and _ink(samples[0].png) > 100  # dark strokes on white paper
    assert window.support.columns[1].count.text() == "1 sample"
    dlg.close()


def test_eraser_and_brush_size(qtbot):
    from app.views.studio.canvas import CanvasPanel

    panel = CanvasPanel()
    qtbot.addWidget(panel)
    panel.resize(300, 330)
    panel.show()
    c = panel.canvas
    mouse_stroke(c, [(50, 150), (250, 150)])
    thin = _ink(c.to_png())
    panel.size.setValue(40)
    mouse_stroke(c, [(50, 100), (250, 100)])
    assert _ink(c.to_png()) > thin * 2
    panel.eraser_btn.click()
    mouse_stroke(c, [(50, 100), (250, 100)])
    mouse_stroke(c, [(50, 150), (250, 150)])
    assert c.is_blank()
    panel.clear_btn.click()
    assert c.is_blank()


def test_drop_adds_exactly_the_good_files_and_reports_the_rest(window, qtbot, tmp_path):
    good = []
    for i, (mode, suffix) in enumerate([("L", "png"), ("RGB", "jpg"), ("RGBA", "png"), ("P", "gif"), ("I;16", "tif")]):
        p = tmp_path / f"good{i}.{suffix}"
        Image.open(io.BytesIO(glyph_png(i))).convert(mode if mode != "I;16" else "I").save(p)
        good.append(p)
    big = tmp_path / "huge.png"
    Image.new("RGB", (3000, 2000), "white").save(big)  # huge images are downscaled, not refused
    good.append(big)
    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    text = tmp_path / "notes.txt"
    text.write_text("not an image")
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    col = window.support.columns[0]
    assert drop_paths(col, good + [corrupt, text, empty])
    assert len(window.project.classes[0].samples) == len(good)
    assert all(max(Image.open(io.BytesIO(s.png)).size) <= 512 for s in window.project.classes[0].samples)
    title, message = window.dialogs.messages[-1]
    assert "skipped" in title.lower()
    for name in ("corrupt.png", "notes.txt", "empty.png"):
        assert name in message
    assert "good0" not in message
    assert f"Added {len(good)} images" in message


def test_drop_folder_creates_one_class_per_subfolder(window, tmp_path):
    root = tmp_path / "shapes"
    for name, kinds in (("ring", [0, 0]), ("cross", [1, 1, 1]), ("broken", [])):
        (root / name).mkdir(parents=True)
        for j, k in enumerate(kinds):
            (root / name / f"{j}.png").write_bytes(glyph_png(k, j))
    (root / "broken" / "bad.jpg").write_bytes(b"garbage")
    n_before = len(window.project.classes)
    assert drop_paths(window.support, [root])
    names = window.project.class_names()
    assert "ring" in names and "cross" in names and "broken" not in names
    assert len(window.project.classes[names.index("cross")].samples) == 3
    assert len(window.project.classes) == n_before  # the empty default columns were reused
    assert "bad.jpg" in window.dialogs.messages[-1][1]
    # A folder of images (no sub-folders) becomes one class named after it.
    flat = tmp_path / "tees"
    flat.mkdir()
    for j in range(2):
        (flat / f"{j}.png").write_bytes(glyph_png(2, j))
    drop_paths(window.support, [flat])
    assert len(window.project.classes[window.project.class_names().index("tees")].samples) == 2


def test_query_drop_and_delete_key(window, qtbot, tmp_path):
    files = []
    for i in range(3):
        files.append(tmp_path / f"q{i}.png")
        files[-1].write_bytes(glyph_png(i))
    assert drop_paths(window.query, files)
    assert len(window.project.queries) == 3
    lst = window.query.list
    lst.setFocus()
    lst.setCurrentRow(1)
    qtbot.keyClick(lst, Qt.Key.Key_Delete)
    assert len(window.project.queries) == 2
    # the context menu on an unselected row removes that row alone; on a selection, all of it
    from PySide6.QtWidgets import QMenu

    def remove_by_menu(row: int, expected_text: str) -> None:
        pos = lst.visualItemRect(lst.item(row)).center()
        lst.customContextMenuRequested.emit(pos)
        menu = lst.findChildren(QMenu)[-1]
        action = menu.actions()[0]
        assert action.text() == expected_text
        action.trigger()
        menu.close()

    lst.clearSelection()
    remove_by_menu(0, "Remove sample")
    assert len(window.project.queries) == 1
    drop_paths(window.query, files[:2])
    lst.selectAll()
    remove_by_menu(1, "Remove 3 samples")
    assert window.project.queries == []


def test_rename_remove_classes_and_badge(window, qtbot):
    p = window.project
    col = window.support.columns[0]
    col.name.setFocus()
    col.name.selectAll()
    qtbot.keyClicks(col.name, "cat")
    qtbot.keyClick(col.name, Qt.Key.Key_Return)
    assert p.classes[0].name == "cat"
    # A duplicate name is refused with a message and the old name comes back.
    col1 = window.support.columns[1]
    col1.name.setText("cat")
    col1.name.editingFinished.emit()
    assert p.classes[1].name == "B" and col1.name.text() == "B" and "already" in window.dialogs.messages[-1][1]
    assert not p.validity()[0] and "without samples" in window.support.badge.text()
    for _ in range(3):
        qtbot.mouseClick(window.support.columns[-1].remove_btn, Qt.MouseButton.LeftButton)
    assert p.class_names() == ["cat", "B"]
    p.add_samples(0, [glyph_png(0)])
    p.add_samples(1, [glyph_png(1), glyph_png(1, 2)])
    assert window.support.badge.text() == "✓ Ready: 2-way task, 1–2 examples per class (all are used)"
    qtbot.mouseClick(window.support.columns[1].remove_btn, Qt.MouseButton.LeftButton)
    assert "at least 2 classes" in window.support.badge.text()
    qtbot.mouseClick(window.support.add_btn, Qt.MouseButton.LeftButton)
    assert len(p.classes) == 2 and len(window.support.columns) == 2
    # Delete removes the selected thumbnail.
    lst = window.support.columns[0].samples
    lst.setFocus()
    lst.setCurrentRow(0)
    qtbot.keyClick(lst, Qt.Key.Key_Delete)
    assert p.classes[0].samples == []
