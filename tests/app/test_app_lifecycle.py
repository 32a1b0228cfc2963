"""What happens to a run when it is stopped, when it is the quick one, and when the window closes
under it: a stopped run is kept and validated but never displaces a better model unasked; the
quick training honours the Task tab's time limit; closing mid-run asks keep / discard / cancel."""
from __future__ import annotations

from PySide6.QtWidgets import QMessageBox

from apphelpers import TINY_HPARAMS, fill_support

B = QMessageBox.StandardButton


# -- bug 5: the quick training -----------------------------------------------------------------
def test_the_quick_training_honours_the_task_tabs_time_limit(window, qtbot):
    fill_support(window.project, n_classes=3, shots=1)
    window.form.set_values(TINY_HPARAMS)
    asked = []
    window.ask = lambda title, text, *a, **k: asked.append(text) or B.Yes
    for limit, expected, words in ((45, 45, "45 s, the Task tab's time limit"), (0, 60, "about 60 s"), (600, 60, "about 60 s")):
        window.spins["max_seconds"].setValue(limit)
        window.classify()
        assert window.session is not None, "the quick training did not start"
        settings = window.session.worker.request["settings"]
        window.stop_training()
        print(f"\ntime limit {limit} s -> quick training budget {settings['max_seconds']} s; asked: {asked[-1]!r}")
        assert settings["max_seconds"] == expected and settings["source"]["kind"] == "builtin"
        assert words in asked[-1]
        qtbot.waitUntil(lambda: window.session is None, timeout=30_000)
