"""The app's model layer: typed, Qt-free values and the project that views observe.

core  <-  app.model  <-  app's views and controllers. Nothing here imports Qt or a view (an
import-linter contract in pyproject.toml); the engine is imported lazily where it is needed.
"""
from .algorithm import AlgorithmChoice
from .events import Signal
from .project import ImageClass, Placement, Project, Sample
from .request import TrainRequest, train_config
from .task import LIMITS, Source, TaskSettings

__all__ = ["AlgorithmChoice", "ImageClass", "LIMITS", "Placement", "Project", "Sample", "Signal", "Source", "TaskSettings",
           "TrainRequest", "train_config"]
