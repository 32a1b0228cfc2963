"""The app's model layer: typed, Qt-free values and the project that views observe.

core  <-  app.model  <-  app's engine, controllers and views. Nothing here imports Qt or another
app package (an import-linter contract in pyproject.toml); the engine is imported lazily where it
is needed. Beside the project's values and whether the engine is loaded (`EngineState`), imported here: the model library (`library`), the
project file (`projectfile`), reading images (`images`), the words of a comparison's measure
(`compare_measure`) and of counts (`words`) — import them by module.
"""
from .algorithm import AlgorithmChoice
from .engine_state import EngineState
from .events import Signal
from .project import ImageClass, Placement, Project, Sample
from .request import TrainRequest, train_config
from .task import LIMITS, Source, TaskSettings

__all__ = ["AlgorithmChoice", "EngineState", "ImageClass", "LIMITS", "Placement", "Project", "Sample", "Signal", "Source", "TaskSettings",
           "TrainRequest", "train_config"]
