"""The app's controllers: QObjects with rules of their own and no widgets of their own.

- `training_controller`: meta-training from the Studio, and which model is in use and why;
- `classifier`: classifying the queries (and the live drawing) off the GUI thread;
- `project_files` and `autosave`: New / Open / Save, and the autosave a crash leaves behind;
- `closing`: what closing the window does to runs still going and unsaved work;
- `undo`: the undo `Editor`, the one way views change the project;
- `dialogs`: the messages, questions and file dialogs they all speak to the user through.

A controller drives a panel through the Protocol in `panels` that names what it needs, never the
view's class: the main window (app.main_window) passes the real panels in.
"""
