"""Issue 16: why batching MAML's tasks does not pay on a CPU at 15 queries per class.

One Conv-4 block's convolution (64 -> 64, 3x3, stride 2, at 14x14), 32 tasks x 80 images, forward and
backward: a loop of 32 plain convolutions against the one grouped convolution that vmap over
per-task weights becomes. Same arithmetic; prints the best of two timings of three calls each.

    python docs/experiments/grouped_conv.py
"""
import time, torch, torch.nn.functional as F
T, N = 32, 80
x = torch.randn(T, N, 64, 14, 14)
w = torch.randn(T, 64, 64, 3, 3, requires_grad=True)
def loop():
    out = sum(F.conv2d(x[t], w[t], stride=2, padding=1).square().sum() for t in range(T))
    out.backward()
def grouped():
    xi = x.permute(1, 0, 2, 3, 4).reshape(N, T * 64, 14, 14)
    out = F.conv2d(xi, w.reshape(T * 64, 64, 3, 3), stride=2, padding=1, groups=T).square().sum()
    out.backward()
for threads in (1, 2):
    torch.set_num_threads(threads)
    for f in (loop, grouped): f()
    res = {}
    for f in (loop, grouped, loop, grouped):
        t = time.perf_counter()
        for _ in range(3): f()
        res.setdefault(f.__name__, []).append((time.perf_counter() - t) / 3)
    print(threads, {k: round(min(v), 3) for k, v in res.items()})
