"""Episodes as pictures: which images an episode holds, as plain data to draw, and a PNG grid.

An episode is a pure function of its stream (seed and shape) and its index (`EpisodeSampler`), so
showing "episode i" only needs the stream and i: `EpisodeStream` names the three streams every
run shares — the Trainer's training stream (seed `TrainConfig.seed`, its training-episode shape,
`meta_batch` episodes per step), the fixed validation episodes (`VAL_SEED`) and the fixed test
episodes (`TEST_SEED`) — and `episode_images(sampler, i)` gives the images of `sampler.episode(i)`
as uint8 arrays (after `InputSpec`, before its float scaling: `spec.to_model` of them is exactly
the episode's tensors), their labels and where each class comes from (source class id, name,
rotation). `write_episode_grid` draws one or several of them to a PNG (PIL: no new dependency).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np
import torch

from ..episodes import TEST_SEED, VAL_SEED, Episode, EpisodeSampler
from ..errors import ConfigError
from ..files import atomic_write
from ..inputspec import InputSpec
from ..sources.base import ClassSource
from ..tasks import DEFAULT_TASK

if TYPE_CHECKING:  # type hints only
    from ..trainer import TrainConfig, Trainer

STREAM_KINDS = ("train", "val", "test")


@dataclass(frozen=True)
class EpisodeStream:
    """A deterministic stream of episodes: episode i is always the same for the same source."""

    kind: str  # train | val | test (or any label of one's own)
    seed: int
    n_way: int
    k_shot: int
    q_query: int
    meta_batch: int = 1  # episodes per training step (1 for validation and test)

    @classmethod
    def training(cls, config: TrainConfig, shape: Mapping[str, int]) -> "EpisodeStream":
        """The stream a Trainer meta-trains on: its seed and training-episode shape
        (`Trainer.episode_shape()`, saved in a checkpoint's trainer state as `episode_shape`)."""
        return cls("train", int(config.seed), int(shape["train_way"]), int(shape["train_shot"]), int(shape["train_query"]),
                   int(shape.get("meta_batch", 1)))

    @classmethod
    def of_trainer(cls, trainer: Trainer) -> "EpisodeStream":
        return cls.training(trainer.config, trainer.episode_shape())

    @classmethod
    def validation(cls, config: TrainConfig) -> "EpisodeStream":
        """The fixed episodes a Trainer validates on (as `Trainer.validate` draws them)."""
        return cls("val", VAL_SEED, config.n_way, config.k_shot, config.q_query)

    @classmethod
    def test(cls, n_way: int = DEFAULT_TASK.n_way, k_shot: int = DEFAULT_TASK.k_shot, q_query: int = DEFAULT_TASK.q_query, seed: int = TEST_SEED) -> "EpisodeStream":
        """The fixed test episodes of `evaluate`, a comparison and a sweep point."""
        return cls("test", seed, n_way, k_shot, q_query)

    def sampler(self, source: ClassSource, device: torch.device | str | None = None) -> EpisodeSampler:
        return EpisodeSampler(source, self.n_way, self.k_shot, self.q_query, seed=self.seed, device=device)

    def step_indices(self, step: int) -> range:
        """The episode indices the Trainer meta-trained on at `step` (1-based, as `Progress.step`):
        each step takes the next `meta_batch` episodes of the stream, from index 0 on, and a resumed
        run continues the stream where it stopped."""
        if step < 1:
            raise ConfigError(f"training steps count from 1, got {step}")
        return range((step - 1) * self.meta_batch, step * self.meta_batch)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "EpisodeStream":
        return cls(str(d["kind"]), int(d["seed"]), int(d["n_way"]), int(d["k_shot"]), int(d["q_query"]), int(d.get("meta_batch", 1)))


@dataclass
class EpisodeImages:
    """Episode `index` of stream `seed` as plain data for drawing. Support and query rows are in
    the episode's own order (support_x / query_x): class by class, label n = class row n."""

    seed: int
    index: int
    support: np.ndarray  # uint8 [N*K, C, H, W], as the model sees them (after InputSpec, before to_model's scaling)
    support_labels: np.ndarray  # int64 [N*K] in 0..N-1
    query: np.ndarray  # uint8 [N*Q, C, H, W]
    query_labels: np.ndarray  # int64 [N*Q]
    class_ids: list[int]  # the source's class id of label n (base class × rotations + rotation)
    class_names: list[str]  # as Episode.class_names (with the rotation, where the source has rotations)
    base_names: list[str]  # the class's name without the rotation
    rotations: list[int] | None  # degrees each class is turned by; None: the source has no rotations
    spec: InputSpec

    @property
    def n_way(self) -> int:
        return len(self.class_ids)

    @property
    def k_shot(self) -> int:
        return len(self.support) // max(1, self.n_way)

    @property
    def q_query(self) -> int:
        return len(self.query) // max(1, self.n_way)

    def class_label(self, n: int) -> str:
        """How a grid names label n: name, source id and rotation."""
        rot = f", rotated {self.rotations[n]}°" if self.rotations is not None else ""
        return f"{n}: {self.base_names[n]} (id {self.class_ids[n]}{rot})"

    def episode(self, device: torch.device | str | None = None) -> Episode:
        """The same episode as model input (`spec.to_model`): what the sampler returns for this index."""
        sx = self.spec.to_model(torch.from_numpy(self.support), device)
        qx = self.spec.to_model(torch.from_numpy(self.query), device)
        return Episode(sx, torch.from_numpy(self.support_labels).to(sx.device), qx, torch.from_numpy(self.query_labels).to(sx.device),
                       tuple(self.class_names))


def episode_images(sampler: EpisodeSampler, index: int) -> EpisodeImages:
    """Episode `index` of `sampler` as pictures: the very images `sampler.episode(index)` is made of."""
    if index < 0:
        raise ConfigError(f"episode indices count from 0, got {index}")
    src = sampler.source
    classes, picks = sampler.draw(index)
    imgs = src.gather(classes, picks).cpu()  # uint8 [N, K+Q, C, H, W]
    k = sampler.k_shot
    labels = torch.arange(sampler.n_way)
    ids = [int(c) for c in classes]
    return EpisodeImages(
        seed=sampler.seed, index=index,
        support=imgs[:, :k].flatten(0, 1).numpy().copy(), support_labels=labels.repeat_interleave(k).numpy(),
        query=imgs[:, k:].flatten(0, 1).numpy().copy(), query_labels=labels.repeat_interleave(sampler.q_query).numpy(),
        class_ids=ids, class_names=[src.class_name(c) for c in ids], base_names=[src.base_names[c // src.rotations] for c in ids],
        rotations=[(c % src.rotations) * 90 for c in ids] if src.rotations > 1 else None, spec=src.spec,
    )


# -- the PNG grid ---------------------------------------------------------------------------------

def _tile(image: np.ndarray, spec: InputSpec, scale: int, paper: bool):
    """One uint8 [C, H, W] image as a PIL image, `scale` times larger; `paper`: ink dark on light
    again where the spec inverted it (how a person drew it), else exactly as the model sees it."""
    from PIL import Image

    a = image.transpose(1, 2, 0)
    if paper and spec.invert:
        a = 255 - a
    img = Image.fromarray(a[..., 0] if a.shape[-1] == 1 else a).convert("RGB")
    return img.resize((img.width * scale, img.height * scale), Image.Resampling.NEAREST)


def _font(size: int = 12):
    """DejaVu Sans where the system has it (it draws ×, ↻ and most scripts' class names); else
    Pillow's own font, which draws Latin text only."""
    from PIL import ImageFont

    try:
        return ImageFont.truetype("DejaVuSans.ttf", size)
    except OSError:
        return ImageFont.load_default(size=size)


def write_episode_grid(episodes: Sequence[EpisodeImages], path: str | Path, scale: int = 2, columns: int = 1,
                       paper: bool = True, title: str = "") -> Path:
    """A PNG of `episodes`: each one a heading and one row per class — its name, source id and
    rotation, then its K support images, a gap, its Q query images — tiled `columns` across.
    `paper`: ink drawn dark on white (undoing the spec's inversion); False: the model's view."""
    from PIL import Image, ImageDraw

    if not episodes:
        raise ConfigError("no episodes to draw")
    if scale < 1 or columns < 1:
        raise ConfigError(f"scale and columns must be ≥ 1, got {scale} and {columns}")
    font = _font()
    pad, line = 6, 17
    h, w = (s * scale for s in episodes[0].spec.size)
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    label_w = max(int(probe.textlength(e.class_label(n), font=font)) for e in episodes for n in range(e.n_way)) + 2 * pad
    heading_w = int(max(probe.textlength(t, font=font) for t in ("support", "queries"))) + pad

    def heading(e: EpisodeImages) -> str:
        return f"episode {e.index} (seed {e.seed}): {e.n_way}-way {e.k_shot}-shot, {e.q_query} queries per class"

    def columns_of(e: EpisodeImages) -> tuple[int, int]:
        """(x of the first support image, x of the first query image) inside an episode's block:
        each group at least as wide as its heading, and a gap between them."""
        return label_w, label_w + max(e.k_shot * (w + 2), heading_w) + w // 2

    def block_size(e: EpisodeImages) -> tuple[int, int]:
        xs, xq = columns_of(e)
        right = xq + max(e.q_query * (w + 2), heading_w) if e.q_query else xs + max(e.k_shot * (w + 2), heading_w)
        return max(right, int(probe.textlength(heading(e), font=font)) + pad) + pad, 2 * line + e.n_way * (h + 4) + pad

    sizes = [block_size(e) for e in episodes]
    rows = [sizes[i:i + columns] for i in range(0, len(sizes), columns)]
    head = line + pad if title else 0
    width = max(max(sum(s[0] for s in r) for r in rows), int(probe.textlength(title, font=font)) + pad) + pad
    height = head + sum(max(s[1] for s in r) for r in rows) + pad
    sheet = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(sheet)
    if title:
        draw.text((pad, pad), title, fill="black", font=font)
    y0 = head
    for r in range(len(rows)):
        x0 = 0
        for e, (bw, _) in zip(episodes[r * columns:(r + 1) * columns], rows[r]):
            xs, xq = (x0 + c for c in columns_of(e))
            draw.text((x0 + pad, y0 + pad), heading(e), fill="black", font=font)
            draw.text((xs, y0 + line + 2), "support", fill="gray", font=font)
            if e.q_query:
                draw.text((xq, y0 + line + 2), "queries", fill="gray", font=font)
            for n in range(e.n_way):
                y = y0 + 2 * line + n * (h + 4) + 2
                draw.text((x0 + pad, y + (h - line) // 2), e.class_label(n), fill="black", font=font)
                for start, images in ((xs, e.support[n * e.k_shot:(n + 1) * e.k_shot]), (xq, e.query[n * e.q_query:(n + 1) * e.q_query])):
                    for i, img in enumerate(images):
                        x = start + i * (w + 2)
                        # a faint frame: white paper tiles would otherwise run into each other
                        draw.rectangle([x - 1, y - 1, x + w, y + h], outline=(205, 205, 205))
                        sheet.paste(_tile(img, e.spec, scale, paper), (x, y))
            x0 += bw
        y0 += max(s[1] for s in rows[r])
    return atomic_write(path, lambda fh: sheet.save(fh, format="PNG"))
