"""Make resources/screenshot.png from the real app, mid-training (offscreen, about half a minute).

    QT_QPA_PLATFORM=offscreen OMP_NUM_THREADS=1 python docs/tools/screenshot.py [out.png] [--theme dark] [--scale 2]
    QT_QPA_PLATFORM=offscreen OMP_NUM_THREADS=1 python docs/tools/screenshot.py out.png --compare [--algorithms a,b,c] [--seconds-each 12]

It starts the real window with a throwaway data folder, draws a small support set and a few
queries with synthetic mouse strokes, meta-trains ProtoNet briefly, classifies, then starts a
second run and grabs the window while that one is training.
With --compare it runs a real short comparison in the Compare view instead (built-in source,
5-way 1-shot, each algorithm for --seconds-each seconds, 200 shared test episodes), grabs the
view, then classifies the drawn queries with every compared model and grabs the "My queries"
tab too (as <out>-queries.png).
With --inside ALGO it meta-trains a short ALGO model (--seconds, built-in source), classifies the
drawn queries, opens the Inside view on the first query and grabs the window once its explanation
is on screen (default out: resources/screenshot-inside-ALGO.png); with --inside ALGO --starter, ALGO's
shipped starter model classifies them instead, without training.

    QT_QPA_PLATFORM=offscreen OMP_NUM_THREADS=1 python docs/tools/screenshot.py --inside maml [--seconds 60]

With --starter it is a first launch with the shipped starter models: the drawn queries are
classified at once, without training, and the Models tab is grabbed (resources/screenshot-starter.png).
"""
from __future__ import annotations

import argparse
import math
import os
import random
import sys
import tempfile
from pathlib import Path

from PySide6.QtCore import QEvent, QPointF, QSettings, QStandardPaths, Qt, QTimer
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root: app, core and resources import from it


def send_stroke(canvas, points: list[tuple[float, float]]) -> None:
    """Press, move and release a real mouse on `canvas` (app.views.studio.canvas.Canvas) through
    `points` (0..1 coordinates of the square it draws into, so the glyph lands where intended)."""
    r = canvas.drawing_rect()
    pts = [QPointF(r.x() + x * r.width(), r.y() + y * r.height()) for x, y in points]

    def ev(kind, pos, buttons):
        return QMouseEvent(kind, pos, canvas.mapToGlobal(pos), Qt.MouseButton.LeftButton, buttons, Qt.KeyboardModifier.NoModifier)

    QApplication.sendEvent(canvas, ev(QEvent.Type.MouseButtonPress, pts[0], Qt.MouseButton.LeftButton))
    for p in pts[1:]:
        QApplication.sendEvent(canvas, ev(QEvent.Type.MouseMove, p, Qt.MouseButton.LeftButton))
    QApplication.sendEvent(canvas, ev(QEvent.Type.MouseButtonRelease, pts[-1], Qt.MouseButton.NoButton))


def glyph(kind: int, rng: random.Random) -> list[list[tuple[float, float]]]:
    """A few hand-wobbly strokes of one of several simple glyphs."""
    j = lambda v: v + rng.uniform(-0.04, 0.04)  # noqa: E731
    if kind == 0:  # circle
        return [[(j(0.5 + 0.3 * math.cos(t / 20 * 2 * math.pi)), j(0.5 + 0.3 * math.sin(t / 20 * 2 * math.pi))) for t in range(21)]]
    if kind == 1:  # cross
        return [[(j(0.2), j(0.2)), (0.5, 0.5), (j(0.8), j(0.8))], [(j(0.8), j(0.2)), (0.5, 0.5), (j(0.2), j(0.8))]]
    if kind == 2:  # zigzag
        return [[(j(0.15 + 0.14 * i), j(0.3 if i % 2 else 0.7)) for i in range(6)]]
    if kind == 3:  # T
        return [[(j(0.2), j(0.25)), (j(0.8), j(0.25))], [(j(0.5), j(0.25)), (j(0.5), j(0.85))]]
    return [[(j(0.3), j(0.2)), (j(0.3), j(0.8)), (j(0.75), j(0.8))]]  # L


def draw_glyph(canvas, kind: int, rng: random.Random) -> None:
    for stroke in glyph(kind, rng):
        send_stroke(canvas, stroke)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", nargs="?", default=None)
    ap.add_argument("--theme", default="light", choices=["light", "dark", "system"])
    ap.add_argument("--scale", default="1")
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--compare", action="store_true", help="capture the Compare view after a real short comparison")
    ap.add_argument("--algorithms", default="protonet,matching,relation,maml", help="what --compare compares")
    ap.add_argument("--seconds-each", type=int, default=12, help="--compare: meta-training budget per algorithm")
    ap.add_argument("--eval-episodes", type=int, default=200, help="--compare: shared test episodes")
    ap.add_argument("--inside", default=None, metavar="ALGO", help="capture the Inside view of a short ALGO model instead")
    ap.add_argument("--seconds", type=int, default=60, help="--inside: meta-training budget")
    ap.add_argument("--starter", action="store_true",
                    help="first launch with the shipped starter models: classify the drawn queries without training and capture "
                         "the Models tab (default out: resources/screenshot-starter.png); with --inside, Inside of ALGO's starter model")
    ap.add_argument("--open-json", default=None, help="--compare: instead of running, re-open a comparison saved as JSON (e.g. by `fewshot compare --json`) and capture it")
    args = ap.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ["QT_SCALE_FACTOR"] = args.scale
    tmp = Path(tempfile.mkdtemp(prefix="fewshot-shot-"))
    os.environ.setdefault("FEWSHOT_CACHE_DIR", str(tmp / "cache"))
    QStandardPaths.setTestModeEnabled(True)
    app = QApplication(sys.argv[:1])
    from resources import resource_path

    from app.controllers.dialogs import Unattended
    from app.main_window import MainWindow
    from app.views.widgets.style import apply_theme

    default_name = (f"screenshot-inside-{args.inside}.png" if args.inside else "screenshot-compare.png" if args.compare
                    else "screenshot-starter.png" if args.starter else "screenshot.png")
    out = Path(args.out) if args.out else resource_path(default_name)
    apply_theme(app, args.theme)
    settings = QSettings(str(tmp / "settings.ini"), QSettings.Format.IniFormat)
    win = MainWindow(settings, data_path=tmp / "data", dialogs=Unattended())  # messages to stderr, never a blocking question
    win.resize(1440, 900)
    win.show()
    rng = random.Random(3)
    names = ["circle", "cross", "zigzag", "tee", "ell"]
    state = {"phase": 1}

    def fill_sets() -> None:
        canvas = win.query.draw.canvas
        for ci, name in enumerate(names):
            win.project.rename_class(ci, name)
            for _ in range(3 if ci < 3 else 2):
                canvas.reset()
                draw_glyph(canvas, ci, rng)
                win.project.add_samples(ci, [canvas.to_png()])
        for kind in (1, 0, 3, 2):
            canvas.reset()
            draw_glyph(canvas, kind, rng)
            win.query.keep_drawing()
        canvas.reset()
        draw_glyph(canvas, 4, rng)  # leave one live drawing on the canvas

    def fill() -> None:
        fill_sets()
        win.hparam_tab.form.set_values({"hidden": 32, "train_way": 20})
        win.project.update_task(steps=args.steps)
        win.project.update_task(seed=1)
        win.train(overrides={"source": {"kind": "builtin", "classes": 200}})

    def inside() -> None:
        if args.starter:  # no training: ALGO's starter model classifies the drawings, then Inside shows why
            win.algo_box.setCurrentIndex(win.algo_box.row_of(args.inside))
            state["phase"] = 4
            return fill_sets()
        fill_sets()
        win.algo_box.setCurrentIndex(win.algo_box.row_of(args.inside))  # as a person picks it: the toolbar's box
        win.project.update_task(steps=1_000_000, max_seconds=args.seconds, seed=1)
        state["phase"] = 4
        win.train(overrides={"source": {"kind": "builtin", "classes": 200}})

    def starter() -> None:
        state["phase"] = 7  # no training: the starter model in use classifies what is drawn
        fill_sets()

    def starter_classified() -> None:
        state["phase"] = 8
        win.tabs.setCurrentWidget(win.models_tab)
        QTimer.singleShot(300, lambda: (save(win.grab(), out), finish()))

    def inside_classified() -> None:
        state["phase"] = 5
        win.resize(1440, 1240)  # taller: the explanation's parts are the picture
        win.main_split.setSizes([600, 840])
        win.right_split.setSizes([1240, 0])  # the explanation gets the room (the settings tabs fold away)
        win.top_tabs.setCurrentWidget(win.inside)
        win.query.list.setCurrentRow(0)
        win.inside.explained.connect(inside_explained)
        win.inside.schedule()

    def inside_explained() -> None:
        if win.inside.render.explanation is not None and state["phase"] == 5:
            state["phase"] = 6
            QTimer.singleShot(300, lambda: (save(win.grab(), out), finish()))
        elif win.inside.render.explanation is None and not win.inside.computing():
            print(f"screenshot: no explanation: {win.inside.render.message.text()}", file=sys.stderr)

    def progress(p: dict) -> None:
        if state["phase"] == 2 and p["step"] >= int(args.steps * 0.6):
            state["phase"] = 3
            QTimer.singleShot(300, grab)  # let the 25 Hz redraw catch up first

    def classified() -> None:
        """The queries' predictions changed: go on once every query has its answer (not when they
        were forgotten, for another model or support set, nor while some are still to come)."""
        if args.compare:  # the Studio's starter model classifies the drawn queries: not this run's cue
            return None
        queries, predictions = win.project.queries, win.project.predictions
        if not queries or not all(q.id in predictions for q in queries):
            return None
        if state["phase"] == 7:
            return QTimer.singleShot(200, starter_classified)
        if state["phase"] == 8 or win.session is not None:  # (a starter model answering during a run: not the run's model)
            return None
        if state["phase"] == 4:
            return QTimer.singleShot(200, inside_classified)
        if state["phase"] == 1:
            state["phase"] = 2
            win.project.update_task(seed=2)
            QTimer.singleShot(200, lambda: win.train(overrides={"source": {"kind": "builtin", "classes": 200}}))

    def grab() -> None:
        pm = win.grab()
        out.parent.mkdir(parents=True, exist_ok=True)
        pm.save(str(out))
        print(f"wrote {out} ({pm.width()}×{pm.height()})")
        win.project.dirty = False
        win.close()
        app.quit()

    def compare() -> None:
        fill_sets()
        win.compare_view_act.trigger()
        v = win.compare
        if args.open_json:
            if not v.open_json(args.open_json):
                print(f"screenshot: could not open {args.open_json}", file=sys.stderr)
                return finish()
            QTimer.singleShot(500, lambda: (save(win.grab(), out), finish()))
            return
        v.setup.set_source({"kind": "builtin", "folder": "", "classes": 200})
        for key, value in {"n_way": 5, "k_shot": 1, "q_query": 15, "steps_each": 1_000_000, "seconds_each": args.seconds_each,
                           "eval_episodes": args.eval_episodes, "seed": 1}.items():
            v.setup.spins[key].setValue(value)
        for name in args.algorithms.split(","):
            v.setup.checks[name.strip()].setChecked(True)
        v.setup.edit_hparams(args.algorithms.split(",")[0].strip())
        v.comparisonReady.connect(compared)
        v.queries.ready.connect(grid_ready)
        v.run()

    def compared() -> None:
        if state["phase"] != 1:
            return
        state["phase"] = 2
        QTimer.singleShot(300, lambda: (save(win.grab(), out), win.compare.right_tabs.setCurrentIndex(1), win.compare.queries.classify()))

    def grid_ready() -> None:
        # The first query's row selected: every compared model's explanation of it, side by side.
        page = win.compare.queries
        page.inside.explained.connect(lambda: QTimer.singleShot(300, lambda: (save(win.grab(), out.with_name(out.stem + "-queries.png")), finish())))
        page.grid.setCurrentCell(0, 1)

    def save(pm, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        pm.save(str(path))
        print(f"wrote {path} ({pm.width()}×{pm.height()})")

    def finish() -> None:
        win.project.dirty = False
        win.close()
        app.quit()

    # The engine is ready: start once the window has listed the algorithms and the models (right after saying so).
    win.engine.readyChanged.connect(lambda: QTimer.singleShot(100, inside if args.inside else compare if args.compare else starter if args.starter else fill))
    win.project.predictions.changed.connect(classified)
    win.training.timer.timeout.connect(lambda: win.training.last and progress(win.training.last))
    def give_up() -> None:  # never hang: stop any run (closing the window does) and quit
        print("screenshot: timed out", file=sys.stderr)
        win.project.dirty = False
        win.close()
        app.quit()

    QTimer.singleShot(240_000 + 1000 * args.seconds if args.inside else 240_000 if not args.compare else 240_000 + 60_000 * len(args.algorithms.split(",")), give_up)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
