"""Episodes (N-way K-shot tasks) and the seeded sampler that draws them.

Episode i of a sampler is a pure function of (seed, i): every algorithm given the same seed sees
exactly the same tasks in the same order (what makes a comparison fair), and resuming from a
checkpoint only needs the position, after which the sequence continues as if never interrupted.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import torch

from .augment import Augmentation
from .errors import SourceError
from .sources.base import ClassSource

# The fixed episode streams every run shares, so that numbers compare across runs and algorithms.
TEST_SEED = 1_000_003  # the default test stream: every algorithm is evaluated on the same episodes
VAL_SEED = 777  # the validation episodes: fixed, so validation curves of different runs compare
AUGMENT_SALT = 0x5EED_A06  # keeps an episode's distortions apart from its draw of classes and images


@dataclass
class Episode:
    support_x: torch.Tensor  # [N*K, C, H, W] float, model input
    support_y: torch.Tensor  # [N*K] long in 0..N-1
    query_x: torch.Tensor  # [N*Q, C, H, W]
    query_y: torch.Tensor  # [N*Q]
    class_names: tuple[str, ...]
    # Its position in the sampler's stream (None for an episode made by hand): an algorithm that
    # draws random numbers while training on it seeds them from this (`task_generator`), so the
    # draws belong to the episode, not to the process — a data-parallel run, whose ranks each
    # train on a share of the meta-batch, then draws exactly what one process would.
    index: int | None = None

    @property
    def n_way(self) -> int:
        return len(self.class_names)

    def to(self, device: torch.device | str) -> "Episode":
        return Episode(self.support_x.to(device), self.support_y.to(device), self.query_x.to(device), self.query_y.to(device), self.class_names, self.index)


def mix_seed(seed: int, index: int) -> int:
    """A well-spread 63-bit generator seed for item `index` of stream `seed` (splitmix64): episode
    `index` of a sampler, or any other seeded stream that must not repeat an episode's draws."""
    z = (seed * 0x9E3779B97F4A7C15 + index + 0x632BE59BD9B4E019) & 0xFFFFFFFFFFFFFFFF
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    return (z ^ (z >> 31)) & 0x7FFFFFFFFFFFFFFF


def task_generator(task: Episode, salt: int, fallback: torch.Generator) -> torch.Generator:
    """The random stream an algorithm draws from while training on `task`: seeded from the
    episode's position in its stream (and `salt`, which keeps different uses apart), or
    `fallback` for an episode made by hand."""
    if task.index is None:
        return fallback
    return torch.Generator().manual_seed(mix_seed(salt, task.index))


class EpisodeSampler:
    """Draws N-way K-shot episodes with Q queries per class from a ClassSource.

    `sampler.episode(i)` is deterministic; iterating continues from `position`. With `augment`,
    every image of an episode is randomly distorted (training only), the draws again a pure
    function of (seed, i). With `within="group"`, the N classes of an episode all come from one
    group of the source (Omniglot: one alphabet, as in Lake et al.'s one-shot runs), the group
    drawn with probability proportional to its classes among those with at least N.
    """

    def __init__(self, source: ClassSource, n_way: int, k_shot: int, q_query: int, seed: int = 0,
                 device: torch.device | str | None = None, augment: Augmentation | None = None, within: str | None = None):
        if n_way < 2 or k_shot < 1 or q_query < 0:
            raise ValueError(f"need n_way ≥ 2, k_shot ≥ 1, q_query ≥ 0; got {n_way}, {k_shot}, {q_query}")
        source.require(n_way, k_shot + q_query)
        self.source = source
        self.n_way, self.k_shot, self.q_query = n_way, k_shot, q_query
        self.seed = int(seed)
        self.device = torch.device(device) if device is not None else source.device
        self.augment = augment
        self.position = 0
        self.within = within
        self._group_classes: list[torch.Tensor] = []  # within="group": the classes of each group with ≥ N of them
        if within not in (None, "group"):
            raise ValueError(f"within must be None or 'group', got {within!r}")
        if within == "group":
            groups = source.group_of_classes()
            members = [(groups == g).nonzero().flatten() for g in range(int(groups.max()) + 1)]
            self._group_classes = [m for m in members if len(m) >= n_way]
            if not self._group_classes:
                raise SourceError(f"{source.description}: no group (alphabet) holds {n_way} classes; the largest holds {max(len(m) for m in members)}")
            self._group_sizes = torch.tensor([len(m) for m in self._group_classes], dtype=torch.float)

    def draw(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        """What episode `index` is made of: the source's class ids [N] (row n is label n) and, per
        class, which of its images [N, K+Q] (0-based within the class; the first K are the support).
        `source.gather(*draw(i))` is the episode's uint8 images, before `InputSpec.to_model`."""
        g = torch.Generator().manual_seed(mix_seed(self.seed, index))
        src = self.source
        if self.within == "group":
            members = self._group_classes[int(torch.multinomial(self._group_sizes, 1, generator=g))]
            classes = members[torch.randperm(len(members), generator=g)[: self.n_way]]
        else:
            classes = torch.randperm(src.num_classes, generator=g)[: self.n_way]
        per_class = self.k_shot + self.q_query
        counts = src.counts[classes // src.rotations]  # [N]
        # A random order of each class's images, vectorised: sort random keys, push rows past
        # the class's own count to the end, keep the first K+Q.
        width = int(counts.max())
        keys = torch.rand(self.n_way, width, generator=g)
        keys[torch.arange(width).unsqueeze(0) >= counts.unsqueeze(1)] = 2.0
        return classes, keys.argsort(dim=1)[:, :per_class]

    def episode(self, index: int) -> Episode:
        src = self.source
        classes, picks = self.draw(index)
        imgs = src.gather(classes, picks)  # uint8 [N, K+Q, C, H, W]
        x = src.spec.to_model(imgs, self.device)
        if self.augment is not None:
            g = torch.Generator().manual_seed(mix_seed(self.seed ^ AUGMENT_SALT, index))
            x = self.augment(x.flatten(0, 1), g).unflatten(0, x.shape[:2])
        labels = torch.arange(self.n_way, device=self.device)
        support_x = x[:, : self.k_shot].flatten(0, 1)
        query_x = x[:, self.k_shot:].flatten(0, 1)
        support_y = labels.repeat_interleave(self.k_shot)
        query_y = labels.repeat_interleave(self.q_query)
        names = tuple(src.class_name(int(c)) for c in classes)
        return Episode(support_x, support_y, query_x, query_y, names, index)

    def __iter__(self) -> Iterator[Episode]:
        while True:
            yield self.next()

    def next(self) -> Episode:
        ep = self.episode(self.position)
        self.position += 1
        return ep

    def take(self, n: int) -> list[Episode]:
        return [self.next() for _ in range(n)]

    def state_dict(self) -> dict:
        return {"seed": self.seed, "position": self.position, "n_way": self.n_way, "k_shot": self.k_shot, "q_query": self.q_query}

    def load_state_dict(self, state: dict) -> None:
        self.seed = int(state["seed"])
        self.position = int(state["position"])
