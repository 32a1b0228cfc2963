"""Look and feel: icons from `resources/` (wheel-safe), light/dark palettes, one small style sheet.

Colours come from the palette everywhere (the style sheet uses palette(...) roles), so the same
widgets read well in light and dark themes; icons are single-colour SVGs tinted with the
palette's text colour when they are loaded.
"""
from __future__ import annotations

from functools import lru_cache

from PySide6.QtCore import QByteArray, QRectF, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPalette, QPixmap
from PySide6.QtSvg import QSvgRenderer
from PySide6.QtWidgets import QApplication, QStyleFactory

from resources import resource_path

ACCENT = QColor("#3559c7")
GOOD = QColor("#2e9d5b")
BAD = QColor("#c8553d")


@lru_cache(maxsize=None)
def _icon(name: str, color: str) -> QIcon:
    svg = resource_path(f"icons/{name}.svg").read_text("utf-8").replace("currentColor", color)
    renderer = QSvgRenderer(QByteArray(svg.encode()))
    ico = QIcon()
    for px in (16, 24, 32, 48, 64):  # sharp at 100% and 200% scaling
        pm = QPixmap(px, px)
        pm.fill(Qt.GlobalColor.transparent)
        p = QPainter(pm)
        renderer.render(p, QRectF(0, 0, px, px))
        p.end()
        ico.addPixmap(pm)
    return ico


def icon(name: str, color: QColor | str | None = None) -> QIcon:
    if color is None:
        app = QApplication.instance()
        color = app.palette().color(QPalette.ColorRole.WindowText) if app else QColor("#333")
    return _icon(name, QColor(color).name())


def app_icon() -> QIcon:
    return QIcon(str(resource_path("icons/app.svg")))


def dark_palette() -> QPalette:
    p = QPalette()
    roles = {
        QPalette.ColorRole.Window: "#24262b", QPalette.ColorRole.WindowText: "#e6e6e6",
        QPalette.ColorRole.Base: "#1b1d21", QPalette.ColorRole.AlternateBase: "#2a2d33",
        QPalette.ColorRole.Text: "#e6e6e6", QPalette.ColorRole.Button: "#2f3238",
        QPalette.ColorRole.ButtonText: "#e6e6e6", QPalette.ColorRole.Highlight: "#4f74e3",
        QPalette.ColorRole.HighlightedText: "#ffffff", QPalette.ColorRole.ToolTipBase: "#2f3238",
        QPalette.ColorRole.ToolTipText: "#e6e6e6", QPalette.ColorRole.PlaceholderText: "#8a8f98",
        QPalette.ColorRole.Mid: "#4a4e56", QPalette.ColorRole.Dark: "#16181b", QPalette.ColorRole.Light: "#3a3e45",
        QPalette.ColorRole.Link: "#7fa2ff",
    }
    for role, c in roles.items():
        p.setColor(role, QColor(c))
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText, QPalette.ColorRole.WindowText):
        p.setColor(QPalette.ColorGroup.Disabled, role, QColor("#767b84"))
    return p


def light_palette() -> QPalette:
    p = QStyleFactory.create("Fusion").standardPalette()
    p.setColor(QPalette.ColorRole.Highlight, ACCENT)
    p.setColor(QPalette.ColorRole.Window, QColor("#f3f4f6"))
    return p


STYLE_SHEET = """
QFrame#classColumn, QFrame#queryRow, QFrame#card {
    background: palette(base); border: 1px solid palette(mid); border-radius: 8px;
}
QLabel#badge { border-radius: 9px; padding: 2px 10px; font-weight: 600; color: white; }
QLabel#badge[ok="true"] { background: #2e9d5b; }
QLabel#badge[ok="false"] { background: #c8553d; }
QLabel#heading { font-weight: 600; font-size: 11pt; }
QLabel#muted { color: palette(placeholder-text); }
QLabel#prediction { font-weight: 600; font-size: 11pt; }
QLineEdit#className { font-weight: 600; border: 1px solid transparent; background: transparent; padding: 2px; }
QLineEdit#className:hover, QLineEdit#className:focus { border: 1px solid palette(mid); background: palette(base); }
QPushButton#primary { background: palette(highlight); color: palette(highlighted-text); font-weight: 600; padding: 4px 14px; border-radius: 4px; }
QPushButton#primary:disabled { background: palette(mid); }
QListWidget { border: none; background: palette(base); }
"""


def apply_theme(app: QApplication, theme: str = "system") -> None:
    """'system' keeps the platform palette (light or dark); 'light' / 'dark' force one."""
    app.setStyle("Fusion")  # the same metrics everywhere; it honours the palette fully
    if theme == "dark":
        app.setPalette(dark_palette())
    elif theme == "light":
        app.setPalette(light_palette())
    else:
        app.setPalette(dark_palette() if app.styleHints().colorScheme() == Qt.ColorScheme.Dark else light_palette())
    app.setStyleSheet(STYLE_SHEET)
    _icon.cache_clear()


def is_dark(palette: QPalette) -> bool:
    return palette.color(QPalette.ColorRole.Window).lightness() < 128
