"""Screenshots of the Episodes tab and of the Compare view's Test episodes and Sweep tabs, from the
real app (offscreen, with real short runs; a few minutes).

    QT_QPA_PLATFORM=offscreen OMP_NUM_THREADS=1 python docs/tools/screenshot_episodes.py [--out resources]

writes <out>/screenshot-episodes.png (the Studio's Episodes tab after a short meta-training run,
following it), then runs a short comparison and writes <out>/screenshot-compare-episodes.png (the
most disputed test episode with every model's predictions) and <out>/screenshot-compare-sweep.png
(a shot/way sweep of the compared models).
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

from PySide6.QtCore import QSettings, QStandardPaths
from PySide6.QtWidgets import QApplication

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root: app, core and resources import from it


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=None, help="folder for the PNGs (default: resources/)")
    ap.add_argument("--steps", type=int, default=300, help="the Studio run's meta-training steps")
    ap.add_argument("--algorithms", default="protonet,matching,maml", help="what the comparison compares")
    ap.add_argument("--steps-each", type=int, default=150, help="the comparison's meta-training steps per algorithm")
    ap.add_argument("--sweep-episodes", type=int, default=60, help="test episodes per sweep point")
    args = ap.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    tmp = Path(tempfile.mkdtemp(prefix="fewshot-shot-"))
    os.environ.setdefault("FEWSHOT_CACHE_DIR", str(tmp / "cache"))
    QStandardPaths.setTestModeEnabled(True)
    app = QApplication(sys.argv[:1])
    from resources import resource_path

    from app.controllers.dialogs import Unattended
    from app.main_window import MainWindow
    from app.model import Source
    from app.views.widgets.style import apply_theme

    out = Path(args.out) if args.out else resource_path("screenshot.png").parent
    out.mkdir(parents=True, exist_ok=True)
    apply_theme(app, "light")
    win = MainWindow(QSettings(str(tmp / "settings.ini"), QSettings.Format.IniFormat), data_path=tmp / "data", dialogs=Unattended())
    win.resize(1440, 900)
    win.show()

    def wait(until: Callable[[], bool], what: str, limit_s: float = 900) -> None:
        start = time.monotonic()
        while not until():
            app.processEvents()
            time.sleep(0.01)
            if time.monotonic() - start > limit_s:
                raise SystemExit(f"screenshot: timed out waiting for {what}")

    def save(path: Path) -> None:
        for _ in range(20):  # let the last redraws land
            app.processEvents()
            time.sleep(0.01)
        pm = win.grab()
        pm.save(str(path))
        print(f"wrote {path} ({pm.width()}×{pm.height()})")

    wait(lambda: win.engine.ready, "the engine")
    # The Studio: a short 5-way run (ProtoNet meta-trained on 10-way episodes), the Episodes tab following it.
    win.hparam_tab.form.set_values({"hidden": 32, "train_way": 10, "train_query": 5})
    win.project.update_task(steps=args.steps, max_seconds=0, n_way=5, seed=1, source=Source(classes=200))
    win.tabs.setCurrentWidget(win.episodes)
    win.right_split.setSizes([330, 570])  # room for the episode
    win.main_split.setSizes([560, 880])
    win.train()
    wait(lambda: win.session is None and win.episodes.data is not None, "the Studio's run")
    save(out / "screenshot-episodes.png")
    # Compare: a short comparison, its most disputed test episode, then a sweep.
    win.compare_view_act.trigger()
    v = win.compare
    v.setup.set_source({"kind": "builtin", "folder": "", "classes": 200})
    for key, value in {"n_way": 5, "k_shot": 1, "q_query": 5, "steps_each": args.steps_each, "seconds_each": 0,
                       "eval_episodes": 100, "seed": 1}.items():
        v.setup.spins[key].setValue(value)
    for name in args.algorithms.split(","):
        v.setup.checks[name.strip()].setChecked(True)
        v.setup.edit_hparams(name.strip())
        v.setup.form.editors["hidden"].setValue(32)
    v.run()
    wait(lambda: v.session is None and v.comparison is not None, "the comparison")
    page = v.test_episodes
    v.right_tabs.setCurrentWidget(page)
    page.table.selectRow(0)
    wait(lambda: page.data is not None, "the test episode")
    save(out / "screenshot-compare-episodes.png")
    sweep = v.sweep
    v.right_tabs.setCurrentWidget(sweep)
    sweep.ways_edit.setText("2, 5, 10, 20")
    sweep.episodes_box.setValue(args.sweep_episodes)
    sweep.queries_box.setValue(5)
    sweep.run()
    wait(lambda: sweep.session is None and sweep.result is not None, "the sweep")
    save(out / "screenshot-compare-sweep.png")
    win.project.dirty = False
    win.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
