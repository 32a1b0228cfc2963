"""A tiny signal for the app's model: `connect`, `disconnect`, `emit`, in the spirit of napari's
evented models, so the model layer needs no Qt.

GUI thread only. Unlike a Qt signal, `emit` calls every slot at once on the calling thread; there
is no queued delivery to another thread. The project is edited only from the GUI thread (the
widgets and the undo stack); the workers never touch it: they receive plain copies (a
`TrainRequest`, PNG bytes) and report back through their own Qt signals.

A bound method is held weakly, as Qt does for a receiver object: a view that is garbage-collected
stops receiving without having to disconnect. A plain function or lambda is held strongly.
"""
from __future__ import annotations

import weakref
from typing import Any, Callable


class Signal:
    """A list of slots called in connection order by `emit(*args)`."""

    def __init__(self) -> None:
        self._slots: list[Callable[[], Callable | None]] = []  # each a callable returning the slot (or None once it is gone)

    @staticmethod
    def _ref(slot: Callable) -> Callable[[], Callable | None]:
        if getattr(slot, "__self__", None) is not None and hasattr(slot, "__func__"):
            return weakref.WeakMethod(slot)
        return lambda: slot

    def connect(self, slot: Callable) -> Callable:
        if not callable(slot):
            raise TypeError(f"cannot connect {slot!r}: not callable")
        self._slots.append(self._ref(slot))
        return slot

    def disconnect(self, slot: Callable | None = None) -> None:
        """Remove `slot` (every slot when None). Raises ValueError when it is not connected, as Qt does."""
        if slot is None:
            self._slots.clear()
            return
        for i, ref in enumerate(self._slots):
            if ref() == slot:
                del self._slots[i]
                return
        raise ValueError(f"{slot!r} is not connected")

    def emit(self, *args: Any) -> None:
        # A copy: a slot may connect or disconnect while the signal is being delivered.
        for ref in list(self._slots):
            slot = ref()
            if slot is None:
                self._slots = [r for r in self._slots if r is not ref]
            else:
                slot(*args)

    def __len__(self) -> int:
        return sum(ref() is not None for ref in self._slots)
