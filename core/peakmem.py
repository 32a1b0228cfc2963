"""Peak memory of a stretch of work: CUDA peak allocation on a GPU; on the CPU the process's peak
resident set size (Linux VmHWM, which writing "5" to /proc/self/clear_refs resets to the current
RSS, so each measurement starts fresh; it includes PyTorch's own few hundred MB)."""
from __future__ import annotations

import torch


def reset_peak(device: torch.device) -> str:
    """Start a fresh peak-memory measurement; returns what the number will mean."""
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        return "CUDA peak allocated"
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return "process peak RSS"
    except OSError:
        return "process peak RSS since start"


def peak_mb(device: torch.device) -> float | None:
    """The peak since `reset_peak`, in MiB (None where the platform cannot tell)."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None
