"""The shape of a few-shot task, and the one default task every part of the Studio starts from.

Torch-free, so the app's model reads it on the GUI thread before the engine has loaded.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TaskShape:
    """An N-way K-shot task with Q queries per class."""

    n_way: int
    k_shot: int
    q_query: int

    def __str__(self) -> str:
        return f"{self.n_way}-way {self.k_shot}-shot, {self.q_query} queries per class"


# Where a task's classes come from: the built-in handwriting generator, an Omniglot folder, or a
# folder of images with one sub-folder per class (core.sources.catalogue opens each kind).
SOURCE_KINDS = ("builtin", "omniglot", "folder")

# The papers' standard test (Vinyals et al. 2016 and the nine papers after it): 5-way 1-shot, and 15
# queries per class as Snell et al. and Finn et al. test with. The CLI's defaults, the Trainer's
# validation, evaluation, comparisons, sweeps, the algorithms' heads and the app's task all start here.
DEFAULT_TASK = TaskShape(n_way=5, k_shot=1, q_query=15)

# How a comparison shapes its training episodes, and the marker of its saved record: facts of
# core.studies.compare, kept here so that the app's Compare model (on the GUI thread, before the
# engine loads) reads them rather than copies of them.
COMPARE_PROTOCOLS = {
    "same": "every algorithm trains on the same N-way K-shot Q-query episodes (identical tensors, same order)",
    "paper": "each algorithm trains on its paper's episode shape, from the same seeded stream",
}
COMPARISON_FORMAT = "fewshot-studio-comparison"

