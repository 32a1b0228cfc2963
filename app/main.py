"""Entry point: `fewshot-studio` (console script) or `python -m app`.

Only Qt is imported here; the engine (torch) loads on a worker thread after the window shows,
so the window appears in well under the three seconds a person will wait.
"""
from __future__ import annotations

import sys


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

    from .main_window import MainWindow
    from .style import apply_theme

    settings = QSettings()
    apply_theme(app, str(settings.value("theme", "system")))
    window = MainWindow(settings)
    window.show()
    files = [a for a in argv[1:] if a.endswith(".fsproj")]
    if files:
        window.open_path(files[0])
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
