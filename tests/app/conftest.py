"""App test fixtures: a main window with private settings and data folders, tiny models and images."""
from __future__ import annotations

import pytest
from PySide6.QtCore import QSettings, QStandardPaths

from tests.app.apphelpers import TINY_HPARAMS, FakeDialogs, meta_trained_bytes


@pytest.fixture(autouse=True, scope="session")
def _qt_test_mode():
    QStandardPaths.setTestModeEnabled(True)  # nothing touches the user's real folders


@pytest.fixture
def make_window(qtbot, tmp_path):
    from app.main_window import MainWindow

    windows = []

    def make(data_name: str = "data", ask=None, starters=None):
        """`starters`: a starter-model folder (default none, so a test starts with an empty library,
        as before starter models shipped; the starter tests pass one)."""
        settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
        # Nobody at the screen: messages are recorded, questions answered by `ask` (No unless given).
        win = MainWindow(settings, data_path=tmp_path / data_name, dialogs=FakeDialogs(answer=ask), starter_folder=starters)
        qtbot.addWidget(win)
        win.resize(1280, 800)
        win.show()
        # torch import + warm-up step on the niced job thread: measured over 60 s with both cores busy
        qtbot.waitUntil(lambda: win.engine.ready, timeout=300_000)
        windows.append(win)
        return win

    yield make
    for win in windows:
        if win.session is not None:
            win.session.shutdown(5000)
        win.project.dirty = False
        win.close()


@pytest.fixture
def window(make_window):
    return make_window()


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> bytes:
    """Bytes of a ProtoNet checkpoint meta-trained for a few steps (about a second)."""
    return meta_trained_bytes(tmp_path_factory.mktemp("ckpt"), "protonet", TINY_HPARAMS, 15)


@pytest.fixture
def window_with_model(window, tiny_checkpoint):
    entry = window.library.import_bytes(tiny_checkpoint, algorithm="protonet", title="Prototypical Networks",
                                        source="Built-in characters", n_way=3, k_shot=1, val_accuracy=0.5, steps=15)
    window.use_model(entry.id)
    return window


