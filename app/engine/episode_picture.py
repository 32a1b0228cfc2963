"""An episode as a picture: one row per class, its support images then its query images, each
query framed green (predicted right) or red (wrong, with the class it was taken for), and, for
several models at once (the Compare view), one mark per model under each query. The views show
the finished picture (`app.views.widgets.episode_grid`).

The data is plain (`episode_data`: uint8 numpy images exactly as the model saw them, labels, class
names), made on a worker or job thread; `draw_episode` paints it into a QImage, which is allowed
off the GUI thread, so the GUI thread only shows a finished picture.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPen

import core

RIGHT = QColor("#2e9d4f")
WRONG = QColor("#d64545")
NAME_WIDTH = 150  # the class-name column: "3: glyph 73 (id 295, rotated 270°)" in two lines
GAP = 14  # between the support and the query images
BIG_EPISODE = 240  # images: beyond this the thumbnails shrink, so a 60-way training episode stays a few MB
PALETTE: list[QColor] = [QColor("white"), QColor("black")]  # (background, text): the window's, set by `set_palette`


def set_palette(background: QColor, text: QColor) -> None:
    """The colours episodes are drawn in (the window's palette; set on the GUI thread at start)."""
    PALETTE[:] = [QColor(background), QColor(text)]


def episode_data(sampler: Any, index: int) -> dict[str, Any]:
    """(worker / job thread) Episode `index` of `sampler` (a core.EpisodeSampler) as plain data:
    `core.episode_images` (the uint8 images the episode's tensors are made of, exactly as the
    model sees them), labels, class names (a rotated class's with its rotation, as the episode
    names it) and how the grid labels each class: name, source id and rotation."""
    import core

    e = core.episode_images(sampler, index)
    return {"index": int(index), "seed": sampler.seed, "n_way": sampler.n_way, "k_shot": sampler.k_shot, "q_query": sampler.q_query,
            "support": e.support, "support_y": e.support_labels.tolist(), "query": e.query, "query_y": e.query_labels.tolist(),
            "class_names": list(e.class_names), "class_labels": [e.class_label(n) for n in range(e.n_way)]}


def predict_episode(learner: Any, sampler: Any, index: int) -> list[int]:
    """(worker / job thread) The learner's predicted label for each query of episode `index`,
    scored as `core.evaluate` scores it (adapt on the support set, the queries as one batch)."""
    return core.episode_predictions(learner, sampler.episode(index).to(learner.device)).tolist()


def _thumb(img: np.ndarray) -> QImage:
    """A uint8 [C, H, W] image (C = 1 or 3) as a QImage (copied: the array may go)."""
    if img.shape[0] == 1:
        a = np.ascontiguousarray(img[0])
        return QImage(a.data, a.shape[1], a.shape[0], a.strides[0], QImage.Format.Format_Grayscale8).copy()
    a = np.ascontiguousarray(np.transpose(img[:3], (1, 2, 0)))
    return QImage(a.data, a.shape[1], a.shape[0], a.strides[0], QImage.Format.Format_RGB888).copy()


def draw_episode(data: dict[str, Any], predictions: dict[str, Sequence[int] | str] | None = None,
                 colors: dict[str, QColor] | None = None) -> QImage:
    """The episode `data` (from `episode_data`) as a picture. `predictions`: per model, a predicted
    label per query (or a str: why it has none). One model frames each query right / wrong; several
    put one mark per model under each query (in `predictions` order, outlined in `colors`)."""
    preds = {k: v for k, v in (predictions or {}).items() if not isinstance(v, str)}
    bg, fg = PALETTE
    n, k, q = data["n_way"], data["k_shot"], data["q_query"]
    images = n * (k + q)
    cell = 44 if images > BIG_EPISODE else 64
    pad = 4
    marks = max(5, min(12, (cell - 2 * (len(preds) - 1)) // len(preds))) if len(preds) > 1 else 0  # one per model, side by side
    row_h = cell + 2 * pad + (marks + 3 if marks else 0)
    head = 22
    width = NAME_WIDTH + k * (cell + pad) + GAP + q * (cell + pad) + pad
    pic = QImage(width, head + n * row_h + pad, QImage.Format.Format_RGB32)
    pic.fill(bg)
    p = QPainter(pic)
    font = QFont()
    font.setPointSize(9)
    p.setFont(font)
    p.setPen(fg)
    p.drawText(QRect(4, 0, NAME_WIDTH - 8, head), Qt.AlignmentFlag.AlignVCenter, f"class ({n} ways)")
    x_query = NAME_WIDTH + k * (cell + pad) + GAP
    p.drawText(QRect(NAME_WIDTH, 0, k * (cell + pad), head), Qt.AlignmentFlag.AlignVCenter, f"support ({k})")
    p.drawText(QRect(x_query, 0, max(q, 1) * (cell + pad), head), Qt.AlignmentFlag.AlignVCenter, f"queries ({q})")
    names = data["class_labels"]
    for c in range(n):
        y = head + c * row_h + pad
        p.setPen(fg)
        p.drawText(QRect(4, y, NAME_WIDTH - 8, cell), Qt.AlignmentFlag.AlignVCenter | Qt.TextFlag.TextWordWrap, names[c])
        for j in range(k):
            p.drawImage(QRect(NAME_WIDTH + j * (cell + pad), y, cell, cell), _thumb(data["support"][c * k + j]))
        for j in range(q):
            qi = c * q + j
            box = QRect(x_query + j * (cell + pad), y, cell, cell)
            p.drawImage(box, _thumb(data["query"][qi]))
            truth = data["query_y"][qi]
            if len(preds) == 1:
                guess = next(iter(preds.values()))[qi]
                ok = guess == truth
                p.setPen(QPen(RIGHT if ok else WRONG, 3))
                p.drawRect(box.adjusted(1, 1, -1, -1))
                if not ok:  # which class it was taken for, on a dark tab so it reads on any image
                    tag = QRect(box.right() - 22, box.bottom() - 15, 22, 15)
                    p.fillRect(tag, WRONG)
                    p.setPen(QColor("white"))
                    p.drawText(tag, Qt.AlignmentFlag.AlignCenter, f"→{guess}")
            elif preds:
                for m, (name, guesses) in enumerate(preds.items()):
                    mark = QRect(box.left() + m * (marks + 2), box.bottom() + 3, marks, marks)
                    p.fillRect(mark, RIGHT if guesses[qi] == truth else WRONG)
                    if colors and name in colors:
                        p.setPen(QPen(colors[name], 1))
                        p.drawRect(mark)
    p.end()
    return pic
