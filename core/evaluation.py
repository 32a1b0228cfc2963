"""evaluate(): accuracy over M fixed, seeded test episodes, with a 95% confidence interval."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

import torch

from .algorithms.base import MetaLearner
from .allocator import keep_freed_memory
from .episodes import TEST_SEED, Episode, EpisodeSampler
from .sources.base import ClassSource
from .stats import mean_ci95
from .tasks import DEFAULT_TASK


EVAL_BATCH = 32  # test episodes sampled and, where the learner batches them, adapted at once


@dataclass
class EvalResult:
    mean: float  # accuracy in [0, 1]
    ci95: float  # half-width of the 95% CI: 1.96 · sd / √M
    per_episode: list[float] = field(default_factory=list)
    n_way: int = DEFAULT_TASK.n_way
    k_shot: int = DEFAULT_TASK.k_shot
    q_query: int = DEFAULT_TASK.q_query

    def __str__(self) -> str:
        return f"{100 * self.mean:.2f} ± {100 * self.ci95:.2f}% ({self.n_way}-way {self.k_shot}-shot, {len(self.per_episode)} episodes)"


def evaluate(learner: MetaLearner, source: ClassSource, n_way: int = DEFAULT_TASK.n_way, k_shot: int = DEFAULT_TASK.k_shot, q_query: int = DEFAULT_TASK.q_query,
             episodes: int = 600, seed: int = TEST_SEED, device: torch.device | str | None = None,
             on_episode: Callable[[int, float], bool | None] | None = None, each_query: bool = False,
             indices: Sequence[int] | None = None) -> EvalResult:
    """Adapt on each episode's support set and score its queries. `on_episode(i, acc)` may return
    True to stop early (the result then covers the episodes done). By default the queries are
    classified as one batch (the papers' protocol, transductive where the algorithm is); with
    `each_query`, every query on its own (`Classifier.classify_each`, what the app does).
    `indices`: only these episodes of the stream (a data-parallel run's share), else 0…episodes−1."""
    keep_freed_memory()
    device = torch.device(device) if device is not None else learner.device
    sampler = EpisodeSampler(source.to(device), n_way, k_shot, q_query, seed=seed, device=device)
    order = list(range(episodes) if indices is None else indices)

    def scored():  # (episode index, accuracy), chunk by chunk
        for start in range(0, len(order), EVAL_BATCH):
            chunk = order[start:start + EVAL_BATCH]
            eps = [sampler.episode(i) for i in chunk]
            # A learner that adapts many episodes as one batched computation does (MAML on a GPU);
            # each_query classifies query by query, which only the per-episode path does.
            batched = None if each_query else learner.batched_accuracies(eps)
            # one episode at a time otherwise (lazily, so on_episode can stop between any two)
            yield from zip(chunk, batched.tolist() if batched is not None else (episode_accuracy(learner, ep, each_query) for ep in eps))

    accs: list[float] = []
    for i, acc in scored():
        accs.append(acc)
        if on_episode is not None and on_episode(i, acc):
            break  # stopped early: the result covers the episodes done
    mean, ci = mean_ci95(accs)
    return EvalResult(mean, ci, accs, n_way, k_shot, q_query)


def episode_predictions(learner: MetaLearner, ep: Episode, each_query: bool = False) -> torch.Tensor:
    """The label the learner predicts for each of `ep`'s queries after adapting on its support
    set (the queries as one batch, or with `each_query` one by one): the one place that turns an
    episode into predictions, for `evaluate`, the sweeps and the app's pictures of episodes."""
    if len(ep.query_x) == 0:  # MANN meta-trains on labelled sequences: its training episodes hold no queries
        return ep.query_y.new_zeros(0)
    classifier = learner.adapt(ep.support_x, ep.support_y)
    with torch.no_grad():
        return (classifier.classify_each(ep.query_x) if each_query else classifier(ep.query_x)).argmax(-1)


def episode_accuracy(learner: MetaLearner, ep: Episode, each_query: bool = False) -> float:
    """The share of `ep`'s queries the learner gets right after adapting on its support set: how
    `evaluate` scores one episode (and the shot/way sweep, so its points equal `evaluate`'s)."""
    return float((episode_predictions(learner, ep, each_query) == ep.query_y).float().mean())
