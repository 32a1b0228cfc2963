"""Entry point: `fewshot-studio [project.fsproj]` (console script) or `python -m app`.

Only Qt is imported here; the engine (torch) loads on a worker thread after the window shows,
so the window appears in well under the three seconds a person will wait.
"""
from __future__ import annotations

import sys
from pathlib import Path


def start(argv: list[str], settings=None, data_path: Path | None = None, dialogs=None):
    """Show the main window and open the project named on the command line, if any; returns the
    window. Everything `main` does but the QApplication and its event loop (tests launch this, with
    their own `dialogs`: see app/controllers/dialogs.py)."""
    from PySide6.QtCore import QTimer

    from .main_window import MainWindow

    window = MainWindow(settings, data_path=data_path, load_core=False, dialogs=dialogs)
    window.show()
    files = [a for a in argv[1:] if a.endswith(".fsproj")]

    def begin() -> None:
        # Once the window is up (the event loop runs this), in this order on the one job thread:
        # the engine's import first, then the project, whose models the engine checks.
        window.load_core()
        if files:
            window.open_path(files[0])

    QTimer.singleShot(0, begin)
    return window


def main(argv: list[str] | None = None) -> int:
    from PySide6.QtCore import QCoreApplication, Qt
    from PySide6.QtGui import QGuiApplication
    from PySide6.QtWidgets import QApplication

    argv = list(sys.argv if argv is None else argv)
    QCoreApplication.setOrganizationName("FewShotStudio")
    QCoreApplication.setApplicationName("Few-Shot Studio")
    QGuiApplication.setHighDpiScaleFactorRoundingPolicy(Qt.HighDpiScaleFactorRoundingPolicy.PassThrough)
    app = QApplication.instance() or QApplication(argv)

    from PySide6.QtCore import QSettings

    from app.views.widgets.style import apply_theme

    settings = QSettings()
    apply_theme(app, str(settings.value("theme", "system")))
    window = start(argv, settings)  # noqa: F841 - kept alive while the event loop runs
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
