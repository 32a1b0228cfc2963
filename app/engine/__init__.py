"""The app's engine side: everything that runs `core` off the GUI thread.

- `workers`: meta-training runs, comparisons and sweeps, each on a QThread of its own;
- `jobs`: the one job thread for short work (classification, explanations, checks, model loading);
- `sources`: source settings opened as the engine's ClassSources, and the words that name them;
- `episode_jobs` and `episode_picture`: episodes as plain data, predicted and drawn into a QImage.

No widgets here: the views and controllers above start this work and show its plain results.
`core` (and so torch) is imported inside functions, so the window shows before torch has loaded.
"""
