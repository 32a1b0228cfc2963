"""Project files (.fsproj), autosave / restore, and the model library."""
from __future__ import annotations

import io
import zipfile

from PIL import Image
from PySide6.QtWidgets import QMessageBox

from apphelpers import fill_support, glyph_png


def _snapshot(project):
    return ([(c.name, [s.png for s in c.samples]) for c in project.classes], [s.png for s in project.queries],
            project.algorithm, dict(project.hparams), dict(project.settings), project.model_file, project.path)


def test_save_open_round_trip_restores_everything(window_with_model, make_window, tmp_path):
    w = window_with_model
    fill_support(w.project, n_classes=3, shots=2)
    w.project.rename_class(2, "tée ✓")  # any Unicode name survives
    rgba = io.BytesIO()
    Image.new("RGBA", (40, 30), (200, 10, 10, 128)).save(rgba, "PNG")
    w.project.add_samples(0, [rgba.getvalue()])
    w.project.add_queries([glyph_png(1, 9), glyph_png(2, 9)])
    w.project.set_setting("k_shot", 2)
    w.form.editors["hidden"].setValue(16)
    model_bytes = (w.library.root / f"{w.current_model().id}.pt").read_bytes()
    path = tmp_path / "shapes.fsproj"
    assert w.save_to(path) and not w.project.dirty
    with zipfile.ZipFile(path) as zf:
        assert {"manifest.json", "model.pt"} <= set(zf.namelist())
    before = _snapshot(w.project)

    other = make_window("other-data")  # a fresh window with an empty library, like another machine
    assert other.open_path(path)
    after = _snapshot(other.project)
    assert after[0] == before[0]  # names and PNG bytes, byte for byte
    assert after[1] == before[1]
    assert after[2:5] == before[2:5] and other.project.hparams == {"hidden": 16}
    assert other.form.values()["hidden"] == 16 and other.spins["k_shot"].value() == 2
    assert other.project.path == str(path)
    [entry] = other.library.entries()
    assert (other.library.root / f"{entry.id}.pt").read_bytes() == model_bytes
    assert other.project.model_file == str(other.library.root / f"{entry.id}.pt")
    assert [col.name.text() for col in other.support.columns] == other.project.class_names()


def test_corrupt_project_file_leaves_the_current_project_untouched(window, tmp_path):
    fill_support(window.project, n_classes=2, shots=1)
    window.project.add_queries([glyph_png(0, 3)])
    good = tmp_path / "good.fsproj"
    window.save_to(good)
    before = _snapshot(window.project)
    data = good.read_bytes()
    bad = {
        "random.fsproj": bytes(range(256)) * 10,
        "empty.fsproj": b"",
        "truncated.fsproj": data[: len(data) // 2],
    }
    foreign = io.BytesIO()
    with zipfile.ZipFile(foreign, "w") as zf:
        zf.writestr("hello.txt", "a zip, but not ours")
    bad["foreign.fsproj"] = foreign.getvalue()
    broken_png = io.BytesIO()
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(broken_png, "w") as dst:
        for name in src.namelist():
            dst.writestr(name, b"not a png" if name.endswith(".png") else src.read(name))
    bad["damaged-image.fsproj"] = broken_png.getvalue()
    for name, content in bad.items():
        p = tmp_path / name
        p.write_bytes(content)
        n = len(window.messages)
        assert not window.open_path(p)
        assert len(window.messages) == n + 1 and name in window.messages[-1][1]
        assert _snapshot(window.project) == before, name


def test_autosave_is_offered_after_a_crash(make_window, qtbot):
    w = make_window()
    fill_support(w.project, n_classes=2, shots=1)
    w.project.rename_class(0, "kept")
    qtbot.waitUntil(lambda: w.autosave_path().is_file(), timeout=5000)  # debounced autosave after changes
    # Simulate a crash: the window goes away without its clean-exit step.
    w.autosave_timer.stop()
    w.project.dirty = False
    saved = w.autosave_path().read_bytes()
    w.close()
    w.autosave_path().write_bytes(saved)  # (a clean close deletes it; a crash would not)
    asked = []

    def yes(title, text, *a, **k):
        asked.append(title)
        return QMessageBox.StandardButton.Yes

    w2 = make_window(ask=yes)  # the next launch offers the autosave as soon as the engine is up
    qtbot.waitUntil(lambda: bool(asked), timeout=5000)
    assert asked and w2.project.class_names()[0] == "kept" and w2.project.dirty


def test_model_library_lists_renames_deletes_and_persists(window_with_model, tmp_path):
    from app.library import ModelLibrary

    w = window_with_model
    [entry] = w.library.entries()
    assert w.models.topLevelItemCount() == 1
    item = w.models.topLevelItem(0)
    assert item.text(1) == "Prototypical Networks" and item.text(3) == "3/1" and item.text(4) == "50.0%"
    item.setText(0, "my shapes model")  # an inline rename
    assert w.library.get(entry.id).name == "my shapes model"
    again = ModelLibrary(w.library.root)  # what the next launch sees
    assert [e.name for e in again.entries()] == ["my shapes model"]
    w.ask = lambda *a, **k: QMessageBox.StandardButton.Yes
    w.delete_model(entry.id)
    assert w.library.entries() == [] and w.models.topLevelItemCount() == 0
    assert not w.library.path(entry.id).exists() and w.project.model_file is None
