"""External memory with Least Recently Used Access (LRUA), for MANN (Santoro et al. 2016, §3.1–3.2).

A memory matrix M_t (slots × width) per sequence, read and written by H heads. Each head emits a
key k_t and a scalar gate α_t every step; one step of `lrua_step` does, in this order:

1. write weights (paper eq. for w^w):  w^w_t = σ(α_t)·w^r_{t−1} + (1 − σ(α_t))·w^lu_{t−1}
   — the gate interpolates between the locations the head read last step (update a memory it
   just used) and the least-used locations (store something new);
2. "prior to writing to memory, the least used memory location is computed from w^u_{t−1} and
   is set to zero": the slots marked by w^lu_{t−1} are cleared (one slot for one head; see the
   note below for several heads);
3. write: M_t(i) = M_{t−1}(i) + w^w_t(i)·k_t (every head adds its key);
4. read by content: K(k, M(i)) = k·M(i) / (‖k‖‖M(i)‖) (cosine), w^r_t(i) = softmax_i K(k_t, M_t(i))
   (eqs. 2–3: read weights sum to 1 over the rows), r_t = Σ_i w^r_t(i)·M_t(i);
5. usage: w^u_t = γ·w^u_{t−1} + w^r_t + w^w_t (summed over heads);
6. least-used weights: w^lu_t(i) = 0 if w^u_t(i) > m(w^u_t, n), else 1, where m(v, n) is the n-th
   smallest element of v and n the number of reads (heads) — i.e. the n least-used slots.

Several heads: the paper's w^lu marks n = H slots and each head writes σ/1−σ-weighted to all of
them; its text zeroes "the least used memory location", which is the same thing for one head. We
clear every slot w^lu marks, so a least-used write never lands on top of stale content.

Options beyond the paper (off by default): `scale` multiplies the cosines before the softmax
(NTM's key strength; the paper's plain softmax over 128 rows cannot peak: a perfect match gets at
most e²/(e² + 127) of the weight), and `values` writes a separate add vector instead of the key.
Note the order the paper implies (w^w_t uses w^r_{t−1}): write, then read with the same key, so
the row just written always matches its own key best.

Usage and the least-used mask are bookkeeping, not functions the network should be trained
through (the mask is a hard selection): they are computed without gradients. Gradients flow
through keys, gates, read weights (w^r_{t−1} enters the next write) and the memory contents.
"""
from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F


class MemoryState(NamedTuple):
    memory: torch.Tensor  # M_{t−1}      [B, slots, width]
    read_weights: torch.Tensor  # w^r_{t−1} [B, heads, slots]
    usage: torch.Tensor  # w^u_{t−1}       [B, slots]   (no gradient)
    least_used: torch.Tensor  # w^lu_{t−1} [B, slots]   0/1, n ones (no gradient)

    def expand(self, batch: int) -> "MemoryState":
        """The same (single-sequence) state repeated for `batch` independent continuations."""
        return MemoryState(*(t.expand(batch, *t.shape[1:]) for t in self))


def least_used_weights(usage: torch.Tensor, n: int) -> torch.Tensor:
    """w^lu: 1 on the `n` slots of smallest usage (the n-th smallest and below), 0 elsewhere."""
    idx = usage.topk(n, dim=-1, largest=False).indices
    return torch.zeros_like(usage).scatter_(-1, idx, 1.0)


def initial_state(batch: int, slots: int, width: int, heads: int, device=None, dtype=torch.float32) -> MemoryState:
    """Empty memory, no reads yet (w^r_0 = 0), zero usage (so w^lu_0 marks `heads` free slots)."""
    usage = torch.zeros(batch, slots, device=device, dtype=dtype)
    return MemoryState(torch.zeros(batch, slots, width, device=device, dtype=dtype),
                       torch.zeros(batch, heads, slots, device=device, dtype=dtype),
                       usage, least_used_weights(usage, heads))


def cosine_read_weights(keys: torch.Tensor, memory: torch.Tensor, scale: float = 1.0, eps: float = 1e-8) -> torch.Tensor:
    """w^r [B, H, slots]: softmax over the rows of the cosine similarity of each key [B, H, W] with
    each memory row [B, slots, W] (an all-zero row has similarity 0). `scale` multiplies the
    similarities first (1 = the paper; > 1 sharpens, like the NTM's key strength β)."""
    # k̂·M(i) / ‖M(i)‖: dividing the [B, H, slots] similarities by the row norms costs less than
    # normalising the whole memory
    row_norms = memory.norm(dim=-1).clamp_min(eps).unsqueeze(1)
    sim = (F.normalize(keys, dim=-1, eps=eps) @ memory.transpose(1, 2)) / row_norms
    return torch.softmax(sim * scale if scale != 1.0 else sim, dim=-1)


def write_weights(gate_logits: torch.Tensor, prev_read: torch.Tensor, prev_least_used: torch.Tensor) -> torch.Tensor:
    """w^w_t = σ(α)·w^r_{t−1} + (1 − σ(α))·w^lu_{t−1}; gate_logits α [B, H] → [B, H, slots]."""
    s = torch.sigmoid(gate_logits).unsqueeze(-1)
    return s * prev_read + (1.0 - s) * prev_least_used.unsqueeze(1)


def lrua_step(state: MemoryState, keys: torch.Tensor, gate_logits: torch.Tensor, gamma: float, scale: float = 1.0,
              values: torch.Tensor | None = None) -> tuple[torch.Tensor, MemoryState, torch.Tensor]:
    """One LRUA write-then-read step (module docstring, steps 1–6).

    keys [B, H, W], gate_logits [B, H] → (reads r_t [B, H, W], the new state, write weights w^w_t).
    `values` [B, H, W], when given, are written instead of the keys (a separate NTM-style add
    vector; the paper writes the key itself).
    """
    ww = write_weights(gate_logits, state.read_weights, state.least_used)
    cleared = state.memory * (1.0 - state.least_used).unsqueeze(-1)  # clear the least-used slot(s)
    memory = torch.baddbmm(cleared, ww.transpose(1, 2), keys if values is None else values)  # M_t(i) = M_{t−1}(i) + Σ_h w^w_t,h(i) k_t,h
    wr = cosine_read_weights(keys, memory, scale)
    reads = wr @ memory
    with torch.no_grad():
        usage = gamma * state.usage + wr.sum(1) + ww.sum(1)
        least_used = least_used_weights(usage, keys.shape[1])
    return reads, MemoryState(memory, wr, usage, least_used), ww
