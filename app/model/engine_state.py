"""Whether the engine is loaded, and on which device it runs: one owner for what every panel and
controller asks before it starts engine work.

The window imports the engine on the job thread after it is on screen (`workers.import_engine`)
and calls `set_ready` once that is done; whoever needs the engine reads `ready` or waits for
`readyChanged`. Pure Python: no Qt.
"""
from __future__ import annotations

from .events import Signal


class EngineState:
    def __init__(self) -> None:
        self.readyChanged = Signal()  # emitted once, when the engine has loaded
        self.ready = False
        self.device_type = "cpu"  # where training and classification run by default: "cpu" / "cuda"

    def set_ready(self, device_type: str) -> None:
        """The engine is loaded, its default device `device_type`. Said once: later calls change nothing."""
        if self.ready:
            return
        self.ready, self.device_type = True, device_type
        self.readyChanged.emit()

    @property
    def cuda(self) -> bool:
        """Whether a CUDA GPU is there to offer (known once the engine is loaded)."""
        return self.ready and self.device_type == "cuda"
