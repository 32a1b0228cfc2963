"""keep_freed_memory: takes glibc's settings once on Linux, changes nothing elsewhere."""
import sys

import pytest

from core import allocator


def test_keep_freed_memory_takes_on_linux_and_is_asked_once(monkeypatch):
    monkeypatch.setattr(allocator, "_done", None)
    first = allocator.keep_freed_memory()
    if sys.platform.startswith("linux"):
        assert first is True
    calls = []
    monkeypatch.setattr(allocator.ctypes, "CDLL", lambda *a: calls.append(a))
    assert allocator.keep_freed_memory() is first and calls == []  # remembered: libc is not asked again


@pytest.mark.parametrize("platform", ["darwin", "win32"])
def test_elsewhere_nothing_changes(monkeypatch, platform):
    monkeypatch.setattr(allocator, "_done", None)
    monkeypatch.setattr(allocator.sys, "platform", platform)
    assert allocator.keep_freed_memory() is False
