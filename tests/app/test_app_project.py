"""Project files (.fsproj), autosave / restore, and the model library."""
from __future__ import annotations

import copy
import hashlib
import io
import json
import os
import struct
import threading
import tracemalloc
import zipfile
import zlib

import pytest
from PIL import Image
from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QMessageBox

from tests.app.apphelpers import FakeDialogs, drop_paths, fill_support, glyph_png


def open_and_wait(qtbot, window, path) -> bool:
    """Open a project file as the app does (read on the job thread) and wait until it has ended."""
    with qtbot.waitSignal(window.files.opened, timeout=60_000) as blocker:
        assert window.open_path(path)
    return blocker.args[0]


def _snapshot(project):
    return ([(c.name, [s.png for s in c.samples]) for c in project.classes], [s.png for s in project.queries],
            project.algorithm, dict(project.hparams), project.task, project.model_file, project.path)


def test_save_open_round_trip_restores_everything(window_with_model, make_window, tmp_path, qtbot):
    w = window_with_model
    fill_support(w.project, n_classes=3, shots=2)
    w.project.rename_class(2, "tée ✓")  # any Unicode name survives
    rgba = io.BytesIO()
    Image.new("RGBA", (40, 30), (200, 10, 10, 128)).save(rgba, "PNG")
    w.project.add_samples(0, [rgba.getvalue()])
    w.project.add_queries([glyph_png(1, 9), glyph_png(2, 9)])
    w.project.update_task(k_shot=2)
    w.hparam_tab.form.editors["hidden"].setValue(16)
    model_bytes = (w.library.root / f"{w.current_model().id}.pt").read_bytes()
    path = tmp_path / "shapes.fsproj"
    w.dialogs.paths = [str(tmp_path / "shapes")]  # Save on an untitled project asks for a name; the suffix is added
    assert w.save() and not w.project.dirty and w.dialogs.path_titles == ["Save project"]
    with zipfile.ZipFile(path) as zf:
        assert {"manifest.json", "model.pt"} <= set(zf.namelist())
    before = _snapshot(w.project)

    other = make_window("other-data")  # a fresh window with an empty library, like another machine
    assert open_and_wait(qtbot, other, path)
    after = _snapshot(other.project)
    assert after[0] == before[0]  # names and PNG bytes, byte for byte
    assert after[1] == before[1]
    assert after[2:5] == before[2:5] and other.project.hparams == {"hidden": 16}
    assert other.hparam_tab.form.values()["hidden"] == 16 and other.task_tab.spins["k_shot"].value() == 2
    assert other.project.path == str(path)
    [entry] = other.library.entries()
    assert (other.library.root / f"{entry.id}.pt").read_bytes() == model_bytes
    assert other.project.model_file == str(other.library.root / f"{entry.id}.pt")
    assert [col.name.text() for col in other.support.columns] == other.project.class_names()


def test_corrupt_project_file_leaves_the_current_project_untouched(window, tmp_path, qtbot):
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
        n = len(window.dialogs.messages)
        assert not open_and_wait(qtbot, window, p)
        assert len(window.dialogs.messages) == n + 1 and name in window.dialogs.messages[-1][1]
        assert _snapshot(window.project) == before, name


def test_model_library_lists_renames_deletes_and_persists(window_with_model, tmp_path):
    from app.model.library import ModelLibrary

    w = window_with_model
    [entry] = w.library.entries()
    assert w.models_tab.tree.topLevelItemCount() == 1
    item = w.models_tab.tree.topLevelItem(0)
    assert item.text(1) == "Prototypical Networks" and item.text(3) == "3/1" and item.text(4) == "val. 50.0%"
    item.setText(0, "my shapes model")  # an inline rename
    assert w.library.get(entry.id).name == "my shapes model"
    again = ModelLibrary(w.library.root, starter_folder=None)  # what the next launch sees (starter models aside)
    assert [e.name for e in again.entries()] == ["my shapes model"]
    w.dialogs.answer = lambda *a, **k: QMessageBox.StandardButton.Yes
    w.delete_model(entry.id)
    assert w.library.entries() == [] and w.models_tab.tree.topLevelItemCount() == 0
    assert not w.library.path(entry.id).exists() and w.project.model_file is None


# -- models read from a project file are verified (issue 12, bug 1) ------------------------------------

def _rewrite(src, dst, members: dict[str, bytes] | None = None, manifest=None):
    """Copy the project zip `src` to `dst`, replacing some members' bytes and/or editing the manifest."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for name in zin.namelist():
            data = (members or {}).get(name, zin.read(name))
            if name == "manifest.json" and manifest is not None:
                m = json.loads(data)
                manifest(m)
                data = json.dumps(m).encode()
            zout.writestr(name, data)
    return dst


def _comparison_record(models):
    import core

    from app.model.compare import ComparisonRecord

    results = [{"algorithm": n, "title": core.ALGORITHMS[n].title, "family": core.ALGORITHMS[n].family, "status": "done",
                "per_episode": [0.4, 0.6, 0.5], "steps": 15} for n in ("protonet", "matching")]
    data = core.Comparison.from_dict({"format": core.studies.compare.FORMAT, "config": {"algorithms": ["protonet", "matching"]},
                                      "results": results}).to_dict()
    return ComparisonRecord(data, {"kind": "builtin", "folder": ""}, models)


@pytest.fixture
def saved_project(window_with_model, tiny_checkpoint, tmp_path):
    """A real project file saved by the app: classes, queries, settings, a model and a comparison."""
    w = window_with_model
    fill_support(w.project, n_classes=3, shots=2)
    w.project.add_queries([glyph_png(1, 9), glyph_png(2, 9)])
    w.project.update_task(k_shot=2)
    w.project.set_comparison(_comparison_record({"protonet": tiny_checkpoint, "matching": tiny_checkpoint}))
    path = tmp_path / "shapes.fsproj"
    assert w.save_to(path)
    return path, _snapshot(w.project)[:5], w.project.comparison.to_dict()


def test_a_project_whose_model_is_damaged_opens_without_it_and_adds_nothing(saved_project, make_window, qtbot, tmp_path):
    path, before, comparison = saved_project
    with zipfile.ZipFile(path) as zf:
        good_model = zf.read("model.pt")
    junk = os.urandom(len(good_model))
    damaged = {
        # the reported case: random bytes, the manifest still records the good model's sha256
        "random-model.fsproj": ({"model.pt": junk}, None, "checksum"),
        # the model is intact but the recorded checksum is not its own
        "wrong-sha.fsproj": ({}, lambda m: m["model_meta"].update(sha256="0" * 64), "checksum"),
        # a checksum that matches the junk (or none, as older files have): the engine's check refuses it
        "junk-with-its-sha.fsproj": ({"model.pt": junk}, lambda m: m["model_meta"].update(sha256=hashlib.sha256(junk).hexdigest()),
                                     "not a Few-Shot Studio checkpoint"),
        "truncated-no-sha.fsproj": ({"model.pt": good_model[: len(good_model) // 2]}, lambda m: m["model_meta"].pop("sha256"),
                                    "truncated or damaged checkpoint"),
    }
    for name, (members, manifest, reason) in damaged.items():
        bad = _rewrite(path, tmp_path / name, members, manifest)
        other = make_window(f"data-{name}")  # a fresh library, like another person's machine
        n = len(other.dialogs.messages)
        assert open_and_wait(qtbot, other, bad), name
        # Everything else opened: classes, images, queries, settings and the comparison.
        assert _snapshot(other.project)[:5] == before[:2] + (before[2], before[3], before[4]), name
        assert other.project.comparison.to_dict() == comparison and set(other.project.comparison.models) == {"protonet", "matching"}
        # One short message naming the file, the model and the reason; nothing in the library.
        assert len(other.dialogs.messages) == n + 1, (name, other.dialogs.messages[n:])
        title, text = other.dialogs.messages[-1]
        assert title == "Model not loaded" and name in text and "model.pt" in text and reason in text, text
        assert "Weights only" not in text and len(text) < 300
        assert other.library.entries() == [] and list(other.library.root.glob("*.pt")) == []
        assert other.project.model_file is None and other.current_model() is None
        assert other.model_label.text().startswith("No model yet")
        assert other.windowTitle().startswith(name)


def test_opening_a_damaged_copy_in_the_same_window_keeps_the_library_as_it_was(saved_project, window_with_model, qtbot, tmp_path):
    path, before, _ = saved_project
    w = window_with_model
    [good] = w.library.entries()
    bad = _rewrite(path, tmp_path / "random.fsproj", {"model.pt": os.urandom(4000)})
    assert open_and_wait(qtbot, w, bad)
    assert [e.id for e in w.library.entries()] == [good.id]  # no second entry that looks like the good one
    assert w.dialogs.messages[-1][0] == "Model not loaded" and w.project.model_file is None


def test_a_damaged_comparison_model_is_left_out_and_named(saved_project, make_window, qtbot, tmp_path):
    path, before, comparison = saved_project
    with zipfile.ZipFile(path) as zf:
        member = json.loads(zf.read("manifest.json"))["comparison"]["models"]["matching"]
    bad = _rewrite(path, tmp_path / "cmp.fsproj", {member: b"PK\x03\x04" + os.urandom(3000)})
    other = make_window("data-cmp")
    assert open_and_wait(qtbot, other, bad)
    title, text = other.dialogs.messages[-1]
    assert title == "Model not loaded" and member in text and "cmp.fsproj" in text
    assert set(other.project.comparison.models) == {"protonet"} and other.project.comparison.to_dict() == comparison
    assert other.compare.trained_names() == ["protonet"]  # the comparison shows; only its good model classifies
    assert len(other.library.entries()) == 1  # the project's own model was fine and is in


def test_the_library_refuses_damaged_model_bytes(window, tiny_checkpoint):
    from app.model.library import ModelFileError

    for data, words in ((tiny_checkpoint[: len(tiny_checkpoint) // 2], "truncated or damaged checkpoint"),
                        (os.urandom(2000), "not a Few-Shot Studio checkpoint"), (b"", "empty")):
        with pytest.raises(ModelFileError, match=words):
            window.library.import_bytes(data, algorithm="protonet", title="Prototypical Networks")
    with pytest.raises(ModelFileError, match="checksum"):
        window.library.import_bytes(tiny_checkpoint, algorithm="protonet", sha256="0" * 64)
    assert window.library.entries() == [] and list(window.library.root.glob("*.pt")) == []
    # a model file written into the library folder by hand is checked by add() too
    window.library.path("by-hand").write_bytes(b"not a model")
    with pytest.raises(ModelFileError, match="by-hand.pt"):
        window.library.add("by-hand", algorithm="protonet")
    assert window.library.entries() == []


# -- a crafted project file cannot exhaust memory (issue 12, bug 7) -------------------------------------

def _deflated_zeros(size: int) -> tuple[bytes, int]:
    """(raw deflate stream, CRC-32) of `size` zero bytes, made a MB at a time: 200 MB -> ~200 KB."""
    comp, crc, block = zlib.compressobj(9, zlib.DEFLATED, -15), 0, bytes(1 << 20)
    out = []
    for _ in range(size >> 20):
        out.append(comp.compress(block))
        crc = zlib.crc32(block, crc)
    out.append(comp.flush())
    return b"".join(out), crc


def _bomb(path, size: int, recorded: int | None = None, name: str = "query/0000.png", manifest: dict | None = None):
    """A small project zip whose member `name` unpacks to `size` zero bytes, written by hand so that
    its headers can record another size (`recorded`: a lying header)."""
    manifest = manifest or {"format": "fewshot-studio-project", "version": 1, "classes": [], "queries": [name],
                            "algorithm": "protonet", "hparams": {}, "settings": {}, "model": None, "model_meta": {}, "comparison": None}
    text = json.dumps(manifest).encode()
    deflated, crc = _deflated_zeros(size)
    members = [("manifest.json", text, 0, zlib.crc32(text), len(text)), (name, deflated, 8, crc, size if recorded is None else recorded)]
    local, central = bytearray(), bytearray()
    for mname, data, method, mcrc, usize in members:
        offset, n = len(local), mname.encode()
        local += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, method, 0, 0x21, mcrc, len(data), usize, len(n), 0) + n + data
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, method, 0, 0x21, mcrc, len(data), usize, len(n),
                               0, 0, 0, 0, 0, offset) + n
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members), len(central), len(local), 0)
    path.write_bytes(bytes(local + central + end))
    return path


class _CountReads:
    """Counts the bytes every zip member read hands back (what the loader actually took in)."""

    def __init__(self, monkeypatch):
        self.by_member: dict[str, int] = {}
        real = zipfile.ZipExtFile.read

        def read(ext, n=-1):
            data = real(ext, n)
            self.by_member[ext.name] = self.by_member.get(ext.name, 0) + len(data)
            return data

        monkeypatch.setattr(zipfile.ZipExtFile, "read", read)


def test_a_member_larger_than_a_project_image_can_be_is_refused_unread(tmp_path, monkeypatch):
    from app.model import projectfile

    size = 200 * 2**20
    cases = {
        # the header tells the truth: refused from the header, before a byte of it is read
        "truthful.fsproj": (None, "200 MB unpacked, more than a project's image can be (16 MB at most)", 0),
        # the header claims a small image: reading stops where the header says, and the checksum fails
        "lying-small.fsproj": (1000, "damaged project file", 1000),
        "lying-under-the-bound.fsproj": (10 * 2**20, "damaged project file", 10 * 2**20),
    }
    for name, (recorded, words, most) in cases.items():
        bomb = _bomb(tmp_path / name, size, recorded)
        assert bomb.stat().st_size < 2**20  # a small file
        reads = _CountReads(monkeypatch)
        tracemalloc.start()
        with pytest.raises(projectfile.ProjectFileError) as e:
            projectfile.load_project(bomb)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        monkeypatch.undo()
        print(f"\n{name}: read {reads.by_member.get('query/0000.png', 0):,} bytes of the member, peak {peak / 2**20:.1f} MB")
        assert str(bomb) in str(e.value) and words in str(e.value), str(e.value)
        assert reads.by_member.get("query/0000.png", 0) <= most
        assert peak < most + 8 * 2**20  # never the 200 MB


def test_an_image_declaring_a_huge_canvas_is_refused_before_it_is_decoded(tmp_path):
    from app.model import projectfile
    from app.model import Project

    wide = io.BytesIO()
    Image.new("L", (40_000, 1), 255).save(wide, "PNG")  # a few hundred bytes that decode to a 40000-pixel row
    project = Project(n_classes=2)
    project.add_samples(0, [glyph_png(0)])
    project.add_samples(1, [wide.getvalue()])
    path = projectfile.save_project(project, tmp_path / "wide.fsproj")
    with pytest.raises(projectfile.ProjectFileError, match="support/001/0000.png inside the project is 40000×1 pixels; a project image is at most 4096"):
        projectfile.load_project(path)


def test_the_bounded_reader_stops_at_its_bound_even_when_the_zip_hands_back_more(tmp_path):
    """Defence in depth: if a zip reader ever returned more than its header recorded, reading still
    stops just past the bound."""
    from app.model import projectfile

    bomb = _bomb(tmp_path / "b.fsproj", 4 * 2**20, recorded=1000)
    with zipfile.ZipFile(bomb) as zf:
        real_open = zf.open

        def open_handing_back_more(info, *a, **k):  # the header still says 1000 bytes
            wide = copy.copy(info)
            wide.file_size = 3 * 2**20
            return real_open(wide, *a, **k)

        zf.open = open_handing_back_more
        reader = projectfile._BoundedReader(zf, bomb)
        with pytest.raises(projectfile.MemberTooLarge, match="more than 2 MB unpacked, although its header records 1 KB"):
            reader.read("query/0000.png", 2 * 2**20, "image")
        assert reader.total == 0


def test_an_oversized_model_is_refused_and_the_rest_opens(saved_project, make_window, qtbot, tmp_path, monkeypatch):
    from app.model import projectfile

    path, before, _ = saved_project
    monkeypatch.setattr(projectfile, "MAX_MODEL_BYTES", 2**20)  # (the real bound, 512 MB, is too slow to build here)
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(tmp_path / "big-model.fsproj", "w", zipfile.ZIP_DEFLATED) as dst:
        for name in src.namelist():
            dst.writestr(name, bytes(5 * 2**20) if name == "model.pt" else src.read(name))
    other = make_window("data-big")
    assert open_and_wait(qtbot, other, tmp_path / "big-model.fsproj")
    title, text = other.dialogs.messages[-1]
    assert title == "Model not loaded" and "model.pt" in text and "5 MB unpacked, more than a project's model can be (1 MB at most)" in text
    assert _snapshot(other.project)[:2] == before[:2] and other.library.entries() == []


def _key(qtbot, w, key, modifier=Qt.KeyboardModifier.ControlModifier) -> None:
    """A real key press on the window, made the active one first (window shortcuts need that)."""
    w.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is w, timeout=60_000)
    QTest.keyClick(w, key, modifier)


def test_the_window_keeps_running_and_cannot_be_edited_while_a_project_loads(window, qtbot, tmp_path, monkeypatch):
    from app.model import projectfile

    fill_support(window.project, n_classes=2, shots=1)
    path = tmp_path / "p.fsproj"
    assert window.save_to(path)
    window.project.rename_class(0, "before the open")
    window.project.dirty = False
    real_load, gate, seen = projectfile.load_project, threading.Event(), {}

    def slow_load(p, *a, **k):  # a large project on a slow disk: the read takes as long as the test wants
        seen["released"] = gate.wait(20)
        return real_load(p, *a, **k)

    monkeypatch.setattr(projectfile, "load_project", slow_load)
    ticks = []
    heartbeat = QTimer()
    heartbeat.timeout.connect(lambda: ticks.append(1))
    heartbeat.start(10)
    n_classes = len(window.project.classes)
    assert window.open_path(path)  # returns at once: the file is read on the job thread
    qtbot.waitUntil(lambda: len(ticks) >= 5, timeout=60_000)  # the event loop runs meanwhile
    assert "released" not in seen  # (still reading)
    assert window.open_progress.isVisible() and window.statusBar().currentMessage() == "Opening p.fsproj…"
    assert not window.open_path(path) and not window.open_act.isEnabled() and not window.save_act.isEnabled()
    # The project about to be replaced cannot be edited: real clicks, keys and drops do nothing.
    qtbot.mouseClick(window.support.add_btn, Qt.MouseButton.LeftButton)
    _key(qtbot, window, Qt.Key.Key_N)  # File > New (Ctrl+N)
    _key(qtbot, window, Qt.Key.Key_O)  # File > Open (Ctrl+O): would show a file dialog
    png = tmp_path / "q.png"
    png.write_bytes(glyph_png(0, 1))
    assert not drop_paths(window.query, [png])
    assert len(window.project.classes) == n_classes and window.project.class_names()[0] == "before the open" and not window.project.queries
    with qtbot.waitSignal(window.files.opened, timeout=60_000) as blocker:
        gate.set()
    heartbeat.stop()
    assert seen["released"] and blocker.args == [True]
    assert window.project.class_names()[0] == "A" and window.stack.isEnabled() and not window.open_progress.isVisible()
    assert window.open_act.isEnabled() and window.save_act.isEnabled()


# -- the restore prompt only after a crash (issue 12, bug 2) --------------------------------------------

def _launch(qtbot, tmp_path, argv, ask):
    """What `fewshot-studio [file]` does at start-up, with this test's settings and data folders."""
    from app.main import start

    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    w = start(["fewshot-studio", *map(str, argv)], settings, data_path=tmp_path / "data", dialogs=FakeDialogs(answer=ask))
    qtbot.addWidget(w)
    w.resize(1280, 800)
    return w


def _quit(qtbot, w) -> None:
    """File > Quit with real mouse clicks (Ctrl+Q has no binding under the offscreen platform)."""
    w.project.dirty = False
    bar = w.menuBar()
    file_menu = next(a.menu() for a in bar.actions() if a.text() == "&File")
    qtbot.mouseClick(bar, Qt.MouseButton.LeftButton, pos=bar.actionGeometry(file_menu.menuAction()).center())
    qtbot.waitUntil(file_menu.isVisible, timeout=60_000)
    quit_action = next(a for a in file_menu.actions() if a.text() == "Quit")
    qtbot.mouseClick(file_menu, Qt.MouseButton.LeftButton, pos=file_menu.actionGeometry(quit_action).center())
    assert not w.isVisible()


def _answering(answer):
    """(the questions asked, an `ask` that records each and gives `answer`)."""
    asked = []

    def ask(title, text, *a, **k):
        asked.append(title)
        return answer

    return asked, ask


def _session_with_unsaved_work(qtbot, tmp_path, argv, ask):
    """A launch in which the person changed the project and the change was autosaved."""
    w = _launch(qtbot, tmp_path, argv, ask)
    qtbot.waitUntil(lambda: w.engine.ready and (not argv or w.project.path == str(argv[0])), timeout=60_000)
    w.project.rename_class(0, "unsaved work")
    qtbot.waitUntil(lambda: w.autosaver.autosave_path().is_file(), timeout=60_000)
    return w


@pytest.fixture
def p1(tmp_path):
    from app.model import projectfile
    from app.model import Project

    project = Project(n_classes=2)
    fill_support(project, n_classes=2, shots=1)
    return projectfile.save_project(project, tmp_path / "p1.fsproj")


@pytest.mark.parametrize("with_file", [True, False], ids=["fewshot-studio p1.fsproj", "fewshot-studio"])
def test_no_restore_prompt_after_a_clean_quit(with_file, p1, qtbot, tmp_path, monkeypatch):
    from app.controllers.autosave import AUTOSAVE_DEBOUNCE_MS, Autosave
    from app.engine import workers

    asked, ask = _answering(QMessageBox.StandardButton.No)
    argv = [p1] if with_file else []
    first = _session_with_unsaved_work(qtbot, tmp_path, argv, ask)
    _quit(qtbot, first)
    assert not first.autosaver.autosave_path().exists()  # a clean exit leaves nothing to restore

    # The next launch, as on a fresh start: the engine (torch) takes longer to import than the
    # autosave delay (AUTOSAVE_DEBOUNCE_MS), so this session autosaves before the restore check.
    gate, real_import = threading.Event(), workers.import_engine
    monkeypatch.setattr(workers, "import_engine", lambda: (gate.wait(60), real_import())[1])
    checks = []
    real_offer = Autosave.offer_restore
    monkeypatch.setattr(Autosave, "offer_restore", lambda self: (checks.append(self.files.opening is None), real_offer(self))[1])
    second = _launch(qtbot, tmp_path, argv, ask)
    qtbot.waitUntil(second.isVisible, timeout=60_000)
    if not with_file:
        second.project.rename_class(1, "a change while the engine loads")
    qtbot.waitUntil(lambda: not second.autosaver.timer.isActive(), timeout=AUTOSAVE_DEBOUNCE_MS + 20_000)
    gate.set()
    qtbot.waitUntil(lambda: second.engine.ready and any(checks) and (not with_file or second.project.path == str(p1)), timeout=60_000)
    qtbot.waitUntil(lambda: not second.autosaver.timer.isActive(), timeout=60_000)
    qtbot.wait(50)  # (a prompt would be asked from a zero-delay timer)
    assert asked == []
    _quit(qtbot, second)


@pytest.mark.parametrize("with_file", [True, False], ids=["fewshot-studio p1.fsproj", "fewshot-studio"])
def test_the_restore_prompt_after_a_crash(with_file, p1, qtbot, tmp_path):
    asked, yes = _answering(QMessageBox.StandardButton.Yes)
    argv = [p1] if with_file else []
    first = _session_with_unsaved_work(qtbot, tmp_path, argv, yes)
    # A crash (the manual check does a real kill -9): the autosave stays behind. Here the window
    # closes and its clean-exit step's deletion is undone.
    first.autosaver.timer.stop()
    left_behind = first.autosaver.autosave_path().read_bytes()
    _quit(qtbot, first)
    first.autosaver.autosave_path().write_bytes(left_behind)
    assert asked == []

    second = _launch(qtbot, tmp_path, argv, yes)
    qtbot.waitUntil(lambda: asked == ["Restore unsaved work?"], timeout=60_000)
    qtbot.waitUntil(lambda: second.project.class_names()[0] == "unsaved work", timeout=60_000)
    assert second.project.dirty and second.project.path == (str(p1) if with_file else None)
    assert not second.autosaver.recovered_path().exists()  # offered once
    qtbot.wait(50)
    assert asked == ["Restore unsaved work?"]
    _quit(qtbot, second)


def test_crash_work_survives_a_save_and_a_quit_before_the_prompt(p1, qtbot, tmp_path, monkeypatch):
    from app.engine import workers

    asked, yes = _answering(QMessageBox.StandardButton.Yes)
    first = _session_with_unsaved_work(qtbot, tmp_path, [], yes)
    first.autosaver.timer.stop()
    left_behind = first.autosaver.autosave_path().read_bytes()
    _quit(qtbot, first)
    first.autosaver.autosave_path().write_bytes(left_behind)  # (a crash)

    # The next session saves and quits while the engine is still loading: no prompt was shown yet.
    gate, real_import = threading.Event(), workers.import_engine
    monkeypatch.setattr(workers, "import_engine", lambda: (gate.wait(60), real_import())[1])
    second = _launch(qtbot, tmp_path, [], yes)
    qtbot.waitUntil(second.isVisible, timeout=60_000)
    assert second.save_to(tmp_path / "other.fsproj")
    _quit(qtbot, second)
    gate.set()
    monkeypatch.undo()
    assert asked == []

    third = _launch(qtbot, tmp_path, [], yes)  # the work is still there to restore
    qtbot.waitUntil(lambda: asked == ["Restore unsaved work?"], timeout=60_000)
    qtbot.waitUntil(lambda: third.project.class_names()[0] == "unsaved work", timeout=60_000)
    _quit(qtbot, third)


def _with_settings(path, out, settings):
    """A copy of a saved project whose manifest holds `settings` (as an older or hand-edited file would)."""
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for name in src.namelist():
            data = src.read(name)
            if name == "manifest.json":
                manifest = json.loads(data)
                manifest["settings"] = settings
                data = json.dumps(manifest).encode()
            dst.writestr(name, data)
    return out


def test_an_older_projects_settings_dict_opens_as_typed_task_settings(tmp_path):
    from app.model import projectfile
    from app.model import Source, TaskSettings
    from app.model import Project

    project = Project(n_classes=2)
    project.add_samples(0, [glyph_png(0)])
    project.add_samples(1, [glyph_png(1)])
    project.update_task(n_way=7, source=Source("omniglot", "/data/omniglot"))
    path = projectfile.save_project(project, tmp_path / "p.fsproj")
    assert projectfile.load_project(path).project.task == project.task  # the typed settings round-trip
    old = _with_settings(path, tmp_path / "old.fsproj", {"source": {"kind": "folder", "folder": "/imgs"}, "n_way": 3, "steps": 400})
    assert projectfile.load_project(old).project.task == TaskSettings(source=Source("folder", "/imgs"), n_way=3, steps=400)
    bad = _with_settings(path, tmp_path / "bad.fsproj", {"n_way": 0})
    with pytest.raises(projectfile.ProjectFileError, match=r"task settings in manifest.json are damaged \(n_way=0 is out of range"):
        projectfile.load_project(bad)
