"""Few-Shot Studio's desktop front end (PySide6 + pyqtgraph): a view of `core`.

Widgets never do tensor math: they hand PNG bytes and frozen settings (`app.model`) to workers,
which call the `core` public API off the GUI thread and send back plain Python values.
"""
