"""The project model now lives in `app.model` (Qt-free); kept so `from .project import Project` still works."""
from .model.project import ImageClass, Placement, Project, Sample

__all__ = ["ImageClass", "Placement", "Project", "Sample"]
