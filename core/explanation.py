"""What an explanation is made of: a few generic, plain-data parts any front end can draw.

An algorithm explains one classification (`MetaLearner.explain_parts`) by choosing parts from this
short list — a 2-D map of points, a heat map, curves over steps, grouped bars, small images, weights
on the support images, a short text — filled with its own numbers. The app draws every kind without
knowing the algorithm; the CLI prints them and writes them as JSON. Pure Python: no torch here, so
the data can be read (and the app can hold it) without the engine.

Every part has a `title` and a `caption`: the caption says in plain words what the picture means
(the app shows it under the picture, so the app teaches).
"""
from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

EXPLANATION_VERSION = 1


def _floats(values: Any) -> list:
    """Nested lists of plain floats (tensors and numpy arrays become lists first: `.tolist()`)."""
    if hasattr(values, "tolist"):
        values = values.tolist()
    if isinstance(values, (list, tuple)):
        return [_floats(v) for v in values]
    return float(values)


@dataclass
class Part:
    title: str
    caption: str = ""
    kind: ClassVar[str] = ""

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, **dataclasses.asdict(self)}

    def numbers(self) -> list[str]:
        """Lines of text giving this part's numbers (what `fewshot explain` prints)."""
        return []


@dataclass
class Points(Part):
    """A 2-D map: one point per item (support example, prototype, query, memory row...).
    `group` colours a point (a class index; -1 = no class), `kind_of` says what it is and picks
    its marker; `links` join points (i, j, value) — e.g. the query to each prototype, labelled
    with the distance. `axes` name the two coordinates (e.g. "PC 1 (41% of variance)")."""
    x: list[float] = field(default_factory=list)
    y: list[float] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    kind_of: list[str] = field(default_factory=list)
    group: list[int] = field(default_factory=list)
    links: list[tuple[int, int, float]] = field(default_factory=list)
    link_label: str = ""
    axes: tuple[str, str] = ("", "")
    kind: ClassVar[str] = "points"

    def __post_init__(self) -> None:
        self.x, self.y = _floats(self.x), _floats(self.y)
        n = len(self.x)
        self.labels = list(self.labels) or [""] * n
        self.kind_of = list(self.kind_of) or ["point"] * n
        self.group = [int(g) for g in self.group] or [-1] * n
        self.links = [(int(i), int(j), float(v)) for i, j, v in self.links]
        self.axes = tuple(self.axes)
        if not (len(self.y) == len(self.labels) == len(self.kind_of) == len(self.group) == n):
            raise ValueError(f"{self.title}: x, y, labels, kind_of and group must have one entry per point")
        if any(not (0 <= i < n and 0 <= j < n) for i, j, _ in self.links):
            raise ValueError(f"{self.title}: a link joins a point that does not exist")

    def numbers(self) -> list[str]:
        return [f"{self.labels[i] or i} → {self.labels[j] or j}: {self.link_label or 'value'} {v:.4g}" for i, j, v in self.links]


@dataclass
class Matrix(Part):
    """A heat map: `values[r][c]` for named rows and columns; `value_label` says what the colour
    means; `vmin`/`vmax` fix the colour range (None = the data's range)."""
    values: list[list[float]] = field(default_factory=list)
    rows: list[str] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    value_label: str = ""
    vmin: float | None = None
    vmax: float | None = None
    kind: ClassVar[str] = "matrix"

    def __post_init__(self) -> None:
        self.values = _floats(self.values)
        if len(self.values) != len(self.rows) or any(len(r) != len(self.columns) for r in self.values):
            raise ValueError(f"{self.title}: values must be a {len(self.rows)}×{len(self.columns)} matrix (rows × columns)")

    def numbers(self) -> list[str]:
        width = max([len(r) for r in self.rows] + [1])
        lines = [" " * width + "  " + "  ".join(f"{c:>9}" for c in self.columns)]
        lines += [f"{r:<{width}}  " + "  ".join(f"{v:9.4g}" for v in vals) for r, vals in zip(self.rows, self.values)]
        return lines


@dataclass
class Curves(Part):
    """Lines over a shared x axis (e.g. inner steps 0..k): `series` maps a name to its y values."""
    x: list[float] = field(default_factory=list)
    series: dict[str, list[float]] = field(default_factory=dict)
    x_label: str = ""
    y_label: str = ""
    kind: ClassVar[str] = "curves"

    def __post_init__(self) -> None:
        self.x = _floats(self.x)
        self.series = {str(k): _floats(v) for k, v in self.series.items()}
        bad = [k for k, v in self.series.items() if len(v) != len(self.x)]
        if bad:
            raise ValueError(f"{self.title}: series {', '.join(bad)} must have one value per x ({len(self.x)})")

    def numbers(self) -> list[str]:
        lines = [f"{self.x_label or 'x':>12}  " + "  ".join(f"{v:9.4g}" for v in self.x)]
        lines += [f"{name[:12]:>12}  " + "  ".join(f"{v:9.4g}" for v in vals) for name, vals in self.series.items()]
        return lines


@dataclass
class Bars(Part):
    """Grouped bars: one group per category (e.g. a class), one bar per series in each group
    (e.g. "learned relation" and "cosine")."""
    categories: list[str] = field(default_factory=list)
    series: dict[str, list[float]] = field(default_factory=dict)
    value_label: str = ""
    kind: ClassVar[str] = "bars"

    def __post_init__(self) -> None:
        self.series = {str(k): _floats(v) for k, v in self.series.items()}
        bad = [k for k, v in self.series.items() if len(v) != len(self.categories)]
        if bad:
            raise ValueError(f"{self.title}: series {', '.join(bad)} must have one value per category ({len(self.categories)})")

    def numbers(self) -> list[str]:
        width = max([len(c) for c in self.categories] + [8])
        lines = [" " * width + "  " + "  ".join(f"{s[:12]:>12}" for s in self.series)]
        for i, c in enumerate(self.categories):
            lines.append(f"{c:<{width}}  " + "  ".join(f"{v[i]:12.4g}" for v in self.series.values()))
        return lines


@dataclass
class Images(Part):
    """Small grey-level pictures (2-D lists, any range; drawn scaled to their own min..max unless
    `vmin`/`vmax` are given), each with a label — e.g. feature difference maps."""
    images: list[list[list[float]]] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    vmin: float | None = None
    vmax: float | None = None
    kind: ClassVar[str] = "images"

    def __post_init__(self) -> None:
        self.images = [_floats(im) for im in self.images]
        self.labels = list(self.labels) or [""] * len(self.images)
        if len(self.labels) != len(self.images):
            raise ValueError(f"{self.title}: one label per image")
        if any(not im or not isinstance(im[0], list) for im in self.images):
            raise ValueError(f"{self.title}: every image must be a 2-D list (rows of values)")

    def numbers(self) -> list[str]:
        return [f"{lab or i}: {len(im)}×{len(im[0])}, min {min(map(min, im)):.4g}, max {max(map(max, im)):.4g}"
                for i, (lab, im) in enumerate(zip(self.labels, self.images))]


@dataclass
class SupportWeights(Part):
    """One value per support example (in the support set's order), drawn on its thumbnail — e.g.
    Matching Networks' attention a(x̂, xᵢ) or a Siamese pair probability."""
    values: list[float] = field(default_factory=list)
    value_label: str = ""
    vmin: float | None = 0.0
    vmax: float | None = 1.0
    kind: ClassVar[str] = "support_weights"

    def __post_init__(self) -> None:
        self.values = _floats(self.values)

    def numbers(self) -> list[str]:
        return [f"support {i}: {self.value_label or 'value'} {v:.4g}" for i, v in enumerate(self.values)]


@dataclass
class Text(Part):
    """A short paragraph: what the numbers mean, or a number with no picture."""
    body: str = ""
    kind: ClassVar[str] = "text"

    def numbers(self) -> list[str]:
        return [self.body]


PART_KINDS: dict[str, type[Part]] = {cls.kind: cls for cls in (Points, Matrix, Curves, Bars, Images, SupportWeights, Text)}


@dataclass
class Explanation:
    """How one learner classified one query: the prediction (class probabilities, in the order of
    `classes`) and the parts that show how it was reached. `support_labels` gives each support
    example's class index (the order `SupportWeights` and point labels refer to)."""
    algorithm: str
    title: str
    summary: str
    classes: list[str]
    probabilities: list[float]
    support_labels: list[int] = field(default_factory=list)
    query: str = ""
    parts: list[Part] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.probabilities = _floats(self.probabilities)
        self.support_labels = [int(v) for v in self.support_labels]
        if len(self.probabilities) != len(self.classes):
            raise ValueError("one probability per class")
        if not all(math.isfinite(p) for p in self.probabilities):
            raise ValueError("the probabilities of an explained prediction must be finite")

    @property
    def predicted(self) -> int:
        return max(range(len(self.probabilities)), key=self.probabilities.__getitem__)

    def to_dict(self) -> dict[str, Any]:
        return {"version": EXPLANATION_VERSION, "algorithm": self.algorithm, "title": self.title,
                "summary": self.summary, "query": self.query, "classes": self.classes,
                "probabilities": self.probabilities, "predicted": self.classes[self.predicted],
                "support_labels": self.support_labels, "parts": [p.to_dict() for p in self.parts]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Explanation":
        parts = []
        for p in data.get("parts", []):
            p = dict(p)
            kind = p.pop("kind", "")
            if kind not in PART_KINDS:
                raise ValueError(f"unknown explanation part {kind!r}; known: {', '.join(PART_KINDS)}")
            parts.append(PART_KINDS[kind](**p))
        return cls(data["algorithm"], data["title"], data.get("summary", ""), list(data["classes"]),
                   list(data["probabilities"]), list(data.get("support_labels", [])), data.get("query", ""), parts)

    def text(self) -> str:
        """A plain-text report: the prediction, then every part's title, caption and numbers."""
        probs = ", ".join(f"{c} {p:.3f}" for c, p in zip(self.classes, self.probabilities))
        lines = [f"{self.title}{f' — {self.query}' if self.query else ''}",
                 f"predicted {self.classes[self.predicted]} ({probs})"]
        if self.summary:
            lines.append(self.summary)
        for part in self.parts:
            lines += ["", f"## {part.title}"]
            if part.caption:
                lines.append(part.caption)
            lines += part.numbers()
        return "\n".join(lines) + "\n"


def write_json(explanations: list[Explanation], path: str | Path) -> Path:
    path = Path(path)
    path.write_text(json.dumps({"version": EXPLANATION_VERSION, "explanations": [e.to_dict() for e in explanations]}, indent=1),
                    encoding="utf-8")
    return path


def read_json(path: str | Path) -> list[Explanation]:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    return [Explanation.from_dict(e) for e in data.get("explanations", [])]
