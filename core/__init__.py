"""Few-Shot Studio's engine: episodes, class sources, ten meta-learning algorithms, one trainer.

Headless by contract (import-linter): nothing here imports Qt, pyqtgraph or `app`.
This module is the public API the app and scripts use. It is lazy (PEP 562): a name is imported
from its module on first use, so the torch-free corners (`core.tasks`, `core.files`, `core.studies.report`,
`core.explanation`, `core.errors`, `core.tools.starter`'s manifest) can be used without loading torch — the app's GUI thread
does, while the engine itself loads on a worker thread.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# public name -> the module (relative to core) that owns it
_PUBLIC: dict[str, tuple[str, ...]] = {
    "augment": ("Augmentation",),
    "algorithms": ("ALGORITHMS", "FAMILIES", "Classifier", "MetaLearner", "StepMetrics", "create", "get_algorithm", "hparam_fields", "hparams_from_dict", "register"),
    "checkpoint": ("checkpoint_summary", "learner_from_bytes", "learner_to_bytes", "load_checkpoint", "read_checkpoint", "save_checkpoint", "verify_checkpoint"),
    "studies.compare": ("AlgoResult", "CompareConfig", "Comparison"),
    "episodes": ("TEST_SEED", "VAL_SEED", "Episode", "EpisodeSampler"),
    "studies.episode_grid": ("EpisodeImages", "EpisodeStream", "episode_images", "write_episode_grid"),
    "errors": ("CheckpointError", "CompareError", "ConfigError", "FewShotError", "ImageError", "SourceError", "TrainingDiverged"),
    "evaluation": ("EvalResult", "episode_accuracy", "episode_predictions", "evaluate"),
    "files": ("IMAGE_SUFFIXES", "atomic_write"),
    "studies.report": ("fmt_accuracy", "fmt_duration"),
    "explaining": ("explain", "explain_files", "explain_images"),
    "pca": ("pca_2d",),
    "explanation": ("PART_KINDS", "Bars", "Curves", "Explanation", "Images", "Matrix", "Part", "Points", "SupportWeights", "Text"),
    "lake_runs": ("LakeResult", "LakeRun", "evaluate_lake_runs", "read_lake_runs"),
    "inference": ("Predictions", "predict", "predict_files", "probabilities"),
    "inputspec": ("InputSpec", "prepare_image"),
    "sources": ("BUILTIN_SPLITS", "ClassSource", "builtin", "builtin_split", "hold_out_validation", "image_folder", "in_memory", "omniglot", "open_source", "prepare_images"),
    "tools.starter": ("RECIPES", "read_manifest", "starter_dir", "starter_models"),
    "stats": ("Pairwise", "mean_ci95", "pairwise"),
    "tasks": ("DEFAULT_TASK", "SOURCE_KINDS", "TaskShape"),
    "studies.sweeping": ("Sweep", "SweepConfig", "SweepPoint", "SweepProgress", "SweepResult", "sweep", "way_limit"),
    "trainer": ("CancelToken", "Progress", "TrainConfig", "Trainer", "auto_device", "training_episode_shape"),
}
_OWNER = {name: module for module, names in _PUBLIC.items() for name in names}
__all__ = list(_OWNER)


def __getattr__(name: str) -> Any:
    module = _OWNER.get(name)
    if module is None:
        raise AttributeError(f"module 'core' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # the next lookup is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # static analysis and editors see every name
    from .augment import Augmentation
    from .lake_runs import LakeResult, LakeRun, evaluate_lake_runs, read_lake_runs
    from .algorithms import ALGORITHMS, FAMILIES, Classifier, MetaLearner, StepMetrics, create, get_algorithm, hparam_fields, hparams_from_dict, register
    from .checkpoint import checkpoint_summary, learner_from_bytes, learner_to_bytes, load_checkpoint, read_checkpoint, save_checkpoint, verify_checkpoint
    from .studies.compare import AlgoResult, CompareConfig, Comparison
    from .episodes import TEST_SEED, VAL_SEED, Episode, EpisodeSampler
    from .studies.episode_grid import EpisodeImages, EpisodeStream, episode_images, write_episode_grid
    from .errors import CheckpointError, CompareError, ConfigError, FewShotError, ImageError, SourceError, TrainingDiverged
    from .evaluation import EvalResult, episode_accuracy, episode_predictions, evaluate
    from .files import IMAGE_SUFFIXES, atomic_write
    from .studies.report import fmt_accuracy, fmt_duration
    from .explaining import explain, explain_files, explain_images
    from .pca import pca_2d
    from .explanation import PART_KINDS, Bars, Curves, Explanation, Images, Matrix, Part, Points, SupportWeights, Text
    from .inference import Predictions, predict, predict_files, probabilities
    from .inputspec import InputSpec, prepare_image
    from .sources import BUILTIN_SPLITS, ClassSource, builtin, builtin_split, hold_out_validation, image_folder, in_memory, omniglot, open_source, prepare_images
    from .tools.starter import RECIPES, read_manifest, starter_dir, starter_models
    from .stats import Pairwise, mean_ci95, pairwise
    from .tasks import DEFAULT_TASK, SOURCE_KINDS, TaskShape
    from .studies.sweeping import Sweep, SweepConfig, SweepPoint, SweepProgress, SweepResult, sweep, way_limit
    from .trainer import CancelToken, Progress, TrainConfig, Trainer, auto_device, training_episode_shape
