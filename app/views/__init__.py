"""The app's widgets, in three packages, each building on the ones after it:

- `compare`: the Compare view (several algorithms on identical episodes, side by side) and its sweep;
- `studio`: the Studio's panels, tabs and dialogs (support and query sets, training, Inside, Episodes);
- `widgets`: small helpers every view shares (thumbnails, drops, style and icons, window geometry,
  the episode grid).

The Compare view reuses Studio pieces (the hyperparameter form, the source fields, the Inside
explanation), never the other way round (a layers contract in pyproject.toml). Views edit the
project through the undo `Editor` and talk to the user through `Dialogs` (app.controllers); the
engine's work they start runs in app.engine.
"""
