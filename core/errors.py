"""Errors the engine raises for bad input: each names the path (or value) and what was expected,
so a CLI or the GUI can show it as it is."""


class FewShotError(Exception):
    """Base class of every error the engine raises on purpose."""


class SourceError(FewShotError, ValueError):
    """A class source cannot be built from what it was given (missing folder, too few images...)."""


class ImageError(FewShotError, ValueError):
    """An image could not be decoded (corrupt, empty, not an image)."""


class CheckpointError(FewShotError, ValueError):
    """A checkpoint file is truncated, foreign or of an unknown algorithm."""


class ConfigError(FewShotError, ValueError):
    """An algorithm cannot be built with these hyperparameters or this input (unknown name, a value
    out of range, an image size its network cannot take...)."""


class CompareError(FewShotError, ValueError):
    """A comparison cannot be set up or read (unknown algorithm, bad hyperparameter, foreign file)."""


class TrainingDiverged(FewShotError, RuntimeError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""
