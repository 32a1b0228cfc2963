"""A comparison's results for people and spreadsheets: the Markdown table for a README, the CSV
exports (results table, pairwise matrix) and their readers, and the engine's one duration format.

Plain data in, text or files out: `Comparison.markdown()`, `write_table_csv()` and
`write_matrix_csv()` delegate here, so this module knows nothing of training or testing.
"""
from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

from ..errors import CompareError
from ..stats import TEST_DESCRIPTION, Pairwise

if TYPE_CHECKING:  # type hints only: .compare imports this module
    from .compare import AlgoResult, CompareConfig

TABLE_COLUMNS = ("algorithm", "title", "status", "accuracy", "ci95", "test_episodes", "train_seconds", "steps", "episodes",
                 "episodes_per_s", "parameters", "peak_memory_mb", "memory_kind", "device")
MATRIX_BLOCKS = (("win", "win rate: row beats column (share of shared test episodes, ties count 1/2)"),
                 ("p_holm", "p-value, Holm-adjusted (two-sided Wilcoxon signed-rank on paired per-episode accuracies)"),
                 ("p_value", "p-value, unadjusted (two-sided Wilcoxon signed-rank on paired per-episode accuracies)"))


def fmt_duration(seconds: float | None, tenths_under_minute: bool = False) -> str:
    """Seconds → "m:ss", or "h:mm:ss" from an hour; "–" when unknown. `tenths_under_minute`:
    a duration under a minute reads "12.3 s" (a short training time in a results table)."""
    if seconds is None or not math.isfinite(seconds):
        return "–"
    if tenths_under_minute and seconds < 60:
        return f"{seconds:.1f} s"
    s = int(round(seconds))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


def fmt_accuracy(mean: float, ci95: float) -> str:
    """An accuracy in [0, 1] and its 95% CI half-width as "84.27 ± 0.61" (percent)."""
    return f"{100 * mean:.2f} ± {100 * ci95:.2f}"


# -- CSV -----------------------------------------------------------------------------------------

def table_rows(results: Iterable[AlgoResult]) -> list[dict[str, Any]]:
    """One row per algorithm with the TABLE_COLUMNS (accuracy and CI None until tested)."""
    rows = []
    for r in results:
        rows.append({"algorithm": r.algorithm, "title": r.title, "status": r.status,
                     "accuracy": r.mean if r.per_episode else None, "ci95": r.ci95 if r.per_episode else None,
                     "test_episodes": len(r.per_episode), "train_seconds": r.train_seconds, "steps": r.steps, "episodes": r.episodes,
                     "episodes_per_s": r.episodes_per_s, "parameters": r.parameters, "peak_memory_mb": r.peak_memory_mb,
                     "memory_kind": r.memory_kind, "device": r.device})
    return rows


def write_table_csv(rows: list[dict[str, Any]], path: str | Path) -> Path:
    """`table_rows` as CSV; floats written with repr, so they read back exactly."""
    return write_rows_csv(rows, TABLE_COLUMNS, path)


def write_rows_csv(rows: Iterable[dict[str, Any]], columns: Iterable[str], path: str | Path) -> Path:
    """Rows of plain values as CSV with these columns: None as an empty cell, floats with repr
    (they read back exactly). The comparison's table and the shot/way sweep write with it."""
    path = Path(path)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(columns))
        w.writeheader()
        for row in rows:
            w.writerow({k: ("" if v is None else repr(v) if isinstance(v, float) else v) for k, v in row.items()})
    return path


def read_table_csv(path: str | Path) -> list[dict[str, Any]]:
    """The rows `write_table_csv` wrote, with numbers as numbers again."""
    ints = {"test_episodes", "steps", "episodes", "parameters"}
    floats = {"accuracy", "ci95", "train_seconds", "episodes_per_s", "peak_memory_mb"}
    rows = []
    with open(path, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            out: dict[str, Any] = {}
            for k, v in row.items():
                if k in ints:
                    out[k] = int(v)
                elif k in floats:
                    out[k] = float(v) if v != "" else None
                else:
                    out[k] = v
            rows.append(out)
    return rows


def write_matrix_csv(pw: Pairwise, path: str | Path) -> Path:
    """The pairwise matrix as square blocks (win rates, Holm-adjusted p-values, raw p-values),
    each headed by what it holds and the algorithm names, separated by an empty row."""
    path = Path(path)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        for b, (key, heading) in enumerate(MATRIX_BLOCKS):
            if b:
                w.writerow([])
            w.writerow([heading, *pw.names])
            values = getattr(pw, key)
            for i, a in enumerate(pw.names):
                w.writerow([a, *("" if values[i][j] is None else repr(values[i][j]) for j in range(len(pw.names)))])
    return path


def read_matrix_csv(path: str | Path) -> dict[str, Any]:
    """{"names": [...], "win": square, "p_holm": square, "p_value": square} from `write_matrix_csv`'s
    file (None on the diagonal)."""
    headings = {heading: key for key, heading in MATRIX_BLOCKS}
    out: dict[str, Any] = {"names": []}
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    block: str | None = None
    for row in rows:
        if not row:
            block = None
        elif block is None:
            if row[0] not in headings:
                raise CompareError(f"{path}: unexpected matrix block {row[0]!r}")
            block = headings[row[0]]
            out["names"] = row[1:]
            out[block] = []
        else:
            out[block].append([None if v == "" else float(v) for v in row[1:]])
    return out


# -- Markdown ------------------------------------------------------------------------------------

def markdown(c: CompareConfig, results: Iterable[AlgoResult], pw: Pairwise, protocol_note: str) -> str:
    """A README table of the results (best first, in bold) and the pairwise win-rate matrix `pw`
    (significant cells starred); `protocol_note` says what the config's protocol means."""
    rows = sorted(results, key=lambda r: (not r.finished, -(r.mean if r.per_episode else 0.0)))
    best = max((r.mean for r in rows if r.finished), default=None)
    budget = " and ".join(b for b in (f"{c.steps_each:,} steps" if c.steps_each < 10**8 else "",
                                       f"{fmt_duration(c.seconds_each, True)}" if c.seconds_each else "") if b) or "–"
    out = [f"Comparison: {c.n_way}-way {c.k_shot}-shot, {c.q_query} queries per class, {c.eval_episodes} shared test episodes "
           f"(seed {c.test_seed}); source: {c.source or '?'}; protocol `{c.protocol}` ({protocol_note}); "
           f"budget per algorithm: {budget}; training seed {c.seed}.", "",
           f"| algorithm | {c.n_way}-way {c.k_shot}-shot accuracy (%) | train time | steps | episodes | episodes/s | parameters | peak memory (MB) | device |",
           "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if r.finished:
            acc = fmt_accuracy(r.mean, r.ci95)
            if best is not None and r.mean == best:
                acc = f"**{acc}**"
        else:
            acc = f"— ({r.status}{': ' + r.message if r.message and r.status == 'failed' else ''})"
        mem = f"{r.peak_memory_mb:,.0f}" if r.peak_memory_mb is not None else "–"
        out.append(f"| {r.title} (`{r.algorithm}`) | {acc} | {fmt_duration(r.train_seconds, True)} | {r.steps:,} | {r.episodes:,} | "
                   f"{r.episodes_per_s:,.1f} | {r.parameters:,} | {mem} | {r.device or '–'} |")
    mem_kinds = sorted({r.memory_kind for r in rows if r.memory_kind})
    if mem_kinds:
        out.append("")
        out.append(f"Accuracy: mean ± 95% CI (1.96·sd/√M). Peak memory: {', '.join(mem_kinds)} during the algorithm's training and test.")
    if len(pw.names) >= 2:
        out += ["", f"Pairwise: the share of the {pw.episodes} shared test episodes on which the row algorithm's accuracy beats "
                    f"the column's (ties count ½); * = significant: {TEST_DESCRIPTION}.", "",
                "| | " + " | ".join(f"`{n}`" for n in pw.names) + " |", "|---|" + "---|" * len(pw.names)]
        for i, a in enumerate(pw.names):
            cells = []
            for j in range(len(pw.names)):
                if i == j:
                    cells.append("–")
                else:
                    cells.append(f"{100 * pw.win[i][j]:.1f}%{'*' if pw.significant(i, j) else ''}")
            out.append(f"| `{a}` | " + " | ".join(cells) + " |")
    return "\n".join(out) + "\n"
