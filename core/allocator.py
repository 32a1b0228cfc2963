"""Keep freed memory in the process while training: glibc's malloc otherwise hands it back to the
system after every step and takes it again on the next, page by page.

Measured (ProtoNet, 60-way 1-shot 5-query steps at 28×28, one thread, 80 steps, the other core
busy): 25.3 s user + 16.1 s system, 43 s wall and 10.7 million page faults by default; 28.2 s user +
0.5 s system, 29 s wall and 0.26 million with `keep_freed_memory()` — the same numbers computed, a
third less time. The process then holds on to its peak memory instead of returning it between
steps; a training or evaluation loop reaches that peak on every step anyway.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import sys

# mallopt parameters (malloc.h)
M_TRIM_THRESHOLD = -1
M_TOP_PAD = -2
TRIM_THRESHOLD = 2**31 - 1  # the largest the int parameter holds: keep what is freed
TOP_PAD = 1 << 30  # grow the heap in large strides rather than a page at a time

_done: bool | None = None


def keep_freed_memory() -> bool:
    """Ask glibc's malloc to keep freed memory (once per process); True where it took the settings.
    Elsewhere (macOS, Windows, musl) nothing changes and it returns False."""
    global _done
    if _done is not None:
        return _done
    _done = False
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    _done = bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)) and bool(mallopt(M_TOP_PAD, TOP_PAD))
    return _done
