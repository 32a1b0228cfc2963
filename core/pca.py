"""A 2-D map of high-dimensional points (embeddings, memory rows) for an explanation's picture."""
from __future__ import annotations

import torch


def pca_2d(points: torch.Tensor) -> tuple[torch.Tensor, list[float]]:
    """Project [n, d] points onto their first two principal components: (coordinates [n, 2],
    the share of the variance each component explains). Fewer than two directions of variance
    (e.g. two points) leave the missing coordinate at 0."""
    x = points.detach().double().cpu().flatten(1)
    x = x - x.mean(0, keepdim=True)
    coords = torch.zeros(len(x), 2, dtype=torch.float64)
    if len(x) < 2:
        return coords, [0.0, 0.0]
    _, s, v = torch.linalg.svd(x, full_matrices=False)
    k = min(2, v.shape[0])
    coords[:, :k] = x @ v[:k].T
    # A component's sign is arbitrary; fix it so the same data always gives the same picture.
    for c in range(k):
        if coords[:, c].abs().max() > 0 and coords[coords[:, c].abs().argmax(), c] < 0:
            coords[:, c] = -coords[:, c]
    var = s.pow(2)
    share = (var / var.sum()).tolist() if var.sum() > 0 else [0.0] * len(var)
    return coords, (share + [0.0, 0.0])[:2]
