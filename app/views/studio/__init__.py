"""The Studio view: the support and query sets, meta-training, the Inside view and the settings
tabs. The main window (app.main_window) lays these panels out and wires them to the controllers."""
