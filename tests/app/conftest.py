"""App test fixtures: a main window with private settings and data folders, tiny models and images."""
from __future__ import annotations

import pytest
from PySide6.QtCore import QSettings, QStandardPaths

from apphelpers import TINY_HPARAMS, FakeDialogs


@pytest.fixture(autouse=True, scope="session")
def _qt_test_mode():
    QStandardPaths.setTestModeEnabled(True)  # nothing touches the user's real folders


@pytest.fixture
def make_window(qtbot, tmp_path):
    from app.main_window import MainWindow

    windows = []

    def make(data_name: str = "data", ask=None):
        settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
        # Nobody at the screen: messages are recorded, questions answered by `ask` (No unless given).
        win = MainWindow(settings, data_path=tmp_path / data_name, dialogs=FakeDialogs(answer=ask))
        qtbot.addWidget(win)
        win.resize(1280, 800)
        win.show()
        # torch import + warm-up step on the niced job thread: measured over 60 s with both cores busy
        qtbot.waitUntil(lambda: win.core_ready, timeout=300_000)
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
    import core

    cfg = core.TrainConfig(algorithm="protonet", hparams=TINY_HPARAMS, n_way=3, k_shot=1, q_query=3, steps=15,
                           val_every=1000, val_episodes=0, device="cpu", seed=0)
    trainer = core.Trainer(cfg, core.builtin(n_classes=30, first_class=0))
    for _ in trainer.run():
        pass
    path = tmp_path_factory.mktemp("ckpt") / "tiny.pt"
    core.save_checkpoint(path, trainer.learner, trainer.trainer_state(0.0), extra={})
    return path.read_bytes()


@pytest.fixture
def window_with_model(window, tiny_checkpoint):
    entry = window.library.import_bytes(tiny_checkpoint, algorithm="protonet", title="Prototypical Networks",
                                        source="Built-in characters", n_way=3, k_shot=1, val_accuracy=0.5, steps=15)
    window.use_model(entry.id)
    return window


