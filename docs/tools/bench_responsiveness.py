"""Benchmark (not a test): how long the event loop stalls while the window meta-trains.

    python docs/tools/bench_responsiveness.py [--seconds 10] [--runs 1]

Opens the main window offscreen with private settings and data folders (nothing of the user's is
touched), meta-trains Prototypical Networks (the paper's settings) on the built-in characters for
`--seconds` of training, and from pressing Train until the run has ended (building the source
included) measures the event loop with a precise 5 ms QTimer heartbeat: the longest gap between two beats is
the longest time a click or a repaint would have waited. Wall-clock figures depend on the machine
and its load (the OS scheduler decides when the GUI thread gets a core), so they are printed here,
not asserted in the tests; the test suite checks the cause instead (no engine work on the GUI thread).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root: app, core and resources import from it


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python docs/tools/bench_responsiveness.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=10, help="meta-training time per run, whole seconds as the app's time limit (default 10)")
    parser.add_argument("--runs", type=int, default=1, help="how many runs, one after the other (default 1)")
    args = parser.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

    from PySide6.QtCore import QSettings, QStandardPaths, Qt, QTimer
    from PySide6.QtWidgets import QApplication

    QStandardPaths.setTestModeEnabled(True)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    from app.controllers.dialogs import Unattended
    from app.main_window import MainWindow

    folder = Path(tempfile.mkdtemp(prefix="fewshot-bench-"))
    win = MainWindow(QSettings(str(folder / "settings.ini"), QSettings.Format.IniFormat), data_path=folder / "data",
                     dialogs=Unattended())  # never block on a question
    win.resize(1280, 800)
    win.show()

    gaps: list[float] = []
    last = [0.0]

    def beat() -> None:
        now = time.perf_counter()
        gaps.append(now - last[0])
        last[0] = now

    heartbeat = QTimer(interval=5, timerType=Qt.TimerType.PreciseTimer)
    heartbeat.timeout.connect(beat)
    results: list[tuple[float, float, int, int]] = []  # (longest gap, 99th percentile, beats, steps)

    def start_run() -> None:
        win.project.update_task(steps=1_000_000)
        win.project.update_task(max_seconds=args.seconds)
        if not win.train(overrides={"source": {"kind": "builtin", "folder": "", "classes": 200}}):
            print("could not start training", file=sys.stderr)
            app.exit(1)
            return
        gaps.clear()
        last[0] = time.perf_counter()
        heartbeat.start()

    def run_ended() -> None:
        heartbeat.stop()
        steps = win.training.last["step"] if win.training.last else 0
        ordered = sorted(gaps) or [0.0]
        p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
        results.append((ordered[-1], p99, len(gaps), steps))
        print(f"run {len(results)}: longest stall {ordered[-1] * 1000:.1f} ms, 99th percentile gap {p99 * 1000:.1f} ms, "
              f"{len(gaps)} heartbeats, {steps} training steps (time limit {args.seconds} s)", flush=True)
        if len(results) < args.runs:
            QTimer.singleShot(500, start_run)
        else:
            app.exit(0)

    def poll_session() -> None:  # the run has ended once the window let go of its session
        if heartbeat.isActive() and win.session is None:
            run_ended()

    watcher = QTimer(interval=50)
    watcher.timeout.connect(poll_session)
    watcher.start()
    win.engine.readyChanged.connect(lambda: QTimer.singleShot(200, start_run))  # 200 ms on: the window has shown what the engine lists
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    print(f"{os.cpu_count()} CPUs" + (f", load average {load[0]:.2f} before the runs" if load else ""), flush=True)
    code = app.exec()
    if results:
        worst = max(r[0] for r in results)
        print(f"longest stall over {len(results)} run(s): {worst * 1000:.1f} ms "
              f"(median of runs {statistics.median(r[0] for r in results) * 1000:.1f} ms)")
    win.project.dirty = False
    win.close()
    return code


if __name__ == "__main__":
    sys.exit(main())
