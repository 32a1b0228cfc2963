"""The Compare view's files: export the comparison on screen as CSV (results table and pairwise
matrix) or as a PNG image (legend, curves and results), save it as JSON and open a saved one.

A JSON holds the setup, the curves and the results, not the models (the project file keeps those).
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QFontMetricsF, QImage, QPainter, QPalette
from PySide6.QtWidgets import QToolButton

from app.model.compare_measure import test_measure
from app.views.widgets.common import write_png
from app.views.widgets.style import icon

from .host import CompareHost


def tool_button(icon_name: str, text: str, tip: str, slot) -> QToolButton:
    b = QToolButton()
    b.setIcon(icon(icon_name))
    b.setText(text)
    b.setToolTip(tip)
    b.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
    b.clicked.connect(slot)
    return b


def write_table_with_measure(comp, path: Path) -> None:
    """The results table as `core.Comparison.write_table_csv` writes it, best first, with a last
    column "measure" ("5-way 1-shot · built-in characters · 600 episodes")."""
    from core.studies import report

    measure = test_measure(comp.config)
    rows = sorted(comp.table_rows(), key=lambda r: -1.0 if r["accuracy"] is None else -r["accuracy"])
    report.write_rows_csv([{**r, "measure": measure} for r in rows], (*report.TABLE_COLUMNS, "measure"), path)


class CompareFiles:
    """Export / save / open the comparison of `view` (its dialogs ask for the files, its settings
    remember the folder, its `message` / `status` signals report). Called with a path, nothing is asked."""

    def __init__(self, view: CompareHost):
        self.view = view
        # (a button's click passes `checked`: the lambdas keep it from being taken for a path)
        self.csv_btn = tool_button("save", "CSV…", "Export the results table and the pairwise matrix as CSV", lambda: self.export_csv())
        self.png_btn = tool_button("image", "PNG…", "Export the curves, table, chart and matrix as a PNG image", lambda: self.export_png())
        self.json_btn = tool_button("save", "JSON…", "Save the whole comparison (setup, curves, results) as JSON", lambda: self.save_json())
        self.open_btn = tool_button("open", "Open…", "Open a comparison saved as JSON", lambda: self.open_json())
        self.buttons = [self.csv_btn, self.png_btn, self.json_btn, self.open_btn]

    def _ask_path(self, title: str, suffix: str, filters: str, save: bool = True) -> str | None:
        settings = self.view.settings
        start = settings.value("folders/compare", str(Path.home())) if settings is not None else str(Path.home())
        start = str(Path(start) / f"comparison{suffix}")
        dialogs = self.view.dialogs
        path = (dialogs.save_path if save else dialogs.open_path)(title, start, filters)
        if not path:
            return None
        if save and not path.endswith(suffix):
            path += suffix
        if settings is not None:
            settings.setValue("folders/compare", str(Path(path).parent))
        return path

    def _need_comparison(self) -> bool:
        if self.view.comparison is None:
            self.view.message.emit("Nothing to export", "Run a comparison (or open one) first.")
            return False
        return True

    def export_csv(self, path: str | None = None) -> list[Path]:
        if not self._need_comparison():
            return []
        path = path or self._ask_path("Export the results table as CSV", ".csv", "CSV (*.csv)")
        if not path:
            return []
        table = Path(path)
        matrix = table.with_name(table.stem + "-pairwise.csv")
        comp = self.view.comparison
        try:
            # Best first, as the table and the matrix show them (until a column header is clicked);
            # each row says what its accuracy measured, as the screen does above the table.
            write_table_with_measure(comp, table)
            comp.write_matrix_csv(matrix, by_accuracy=True)
        except OSError as exc:
            self.view.message.emit("Cannot export", f"{path}: {exc.strerror or exc}")
            return []
        self.view.status.emit(f"Wrote {table.name} and {matrix.name}")
        return [table, matrix]

    def export_png(self, path: str | None = None) -> Path | None:
        path = path or self._ask_path("Export the plots as PNG", ".png", "PNG images (*.png)")
        if not path:
            return None
        if not write_png(self.image(), path):
            self.view.message.emit("Cannot export", f"{path}: could not write the image")
            return None
        self.view.status.emit(f"Wrote {Path(path).name}")
        return Path(path)

    def image(self) -> QImage:
        """What PNG… writes: a legend line (colour and name of every algorithm shown), the three
        plots (when the view shows them: not when no model has a training record) and the results
        (the measure, table, matrix, chart); not the buttons and chips around them."""
        view = self.view
        shown = view.picture_parts()
        pal, font, parts, measures = view.palette(), view.font(), shown.pictures, shown.measures
        width = max(pm.deviceIndependentSize().width() for pm in parts)
        fm = QFontMetricsF(font)
        line_h = fm.height() + 8
        entries, x, y = [], 8.0, 0.0  # (x, y, title, colour) of each legend entry, wrapped to the width
        for title, color in shown.legend:
            w = 16 + fm.horizontalAdvance(title) + 18
            if x + w > width and x > 8:
                x, y = 8.0, y + line_h
            entries.append((x, y, title, color))
            x += w
        legend_h = y + line_h + 4 if entries else 0
        # Where the plots' titles can only say "each model's own", the picture says which is whose.
        flags = Qt.AlignmentFlag.AlignLeft | Qt.TextFlag.TextWordWrap
        measures_h = fm.boundingRect(QRectF(0, 0, round(width) - 16, 10_000), flags, measures).height() + 6 if measures else 0
        dpr = parts[0].devicePixelRatio()
        height = legend_h + measures_h + sum(pm.deviceIndependentSize().height() for pm in parts)
        img = QImage(round(width * dpr), round(height * dpr), QImage.Format.Format_ARGB32)
        img.setDevicePixelRatio(dpr)
        img.fill(pal.color(QPalette.ColorRole.Base))
        p = QPainter(img)
        p.setFont(font)
        for x, y, title, color in entries:
            p.fillRect(QRectF(x, y + 4 + (fm.height() - 10) / 2, 10, 10), color)
            p.setPen(pal.color(QPalette.ColorRole.Text))
            p.drawText(QRectF(x + 16, y + 4, width, fm.height()), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, title)
        if measures:
            p.setPen(pal.color(QPalette.ColorRole.Text))
            p.drawText(QRectF(8, legend_h, width - 16, measures_h), flags, measures)
        y = legend_h + measures_h
        for pm in parts:
            p.drawPixmap(0, round(y), pm)
            y += pm.deviceIndependentSize().height()
        p.end()
        return img

    def save_json(self, path: str | None = None) -> Path | None:
        if not self._need_comparison():
            return None
        path = path or self._ask_path("Save the comparison as JSON", ".json", "Comparison JSON (*.json)")
        if not path:
            return None
        try:
            out = self.view.comparison.save_json(path)
        except OSError as exc:
            self.view.message.emit("Cannot save", f"{path}: {exc.strerror or exc}")
            return None
        self.view.status.emit(f"Wrote {out.name}")
        return out

    def open_json(self, path: str | None = None) -> bool:
        view = self.view
        if view.is_running() or not view.engine.ready:
            return False
        path = path or self._ask_path("Open a comparison", ".json", "Comparison JSON (*.json);;All files (*)", save=False)
        if not path:
            return False
        import core

        try:
            comp = core.Comparison.load_json(path)
        except core.CompareError as exc:
            view.message.emit("Cannot open the comparison", str(exc))
            return False
        view.say_progress(f"Opened {Path(path).name} (no models: re-run to classify your queries)")
        view.show_comparison(comp, {}, store=True, source=view.current_setup().source)
        return True
