"""Icons, style sheets and sample images, loadable from a source checkout or an installed wheel."""
from importlib import resources as _resources
from pathlib import Path


def resource_path(name: str) -> Path:
    """Path of a file shipped in this package (works from a wheel: files are installed as data)."""
    return Path(str(_resources.files(__name__).joinpath(name)))
