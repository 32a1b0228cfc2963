"""Few-Shot Studio's engine: episodes, class sources, ten meta-learning algorithms, one trainer.

Headless by contract (import-linter): nothing here imports Qt, pyqtgraph or `app`.
This module is the public API the app and scripts use.
"""
from .algorithms import ALGORITHMS, FAMILIES, Classifier, MetaLearner, StepMetrics, create, get_algorithm, hparam_fields, hparams_from_dict, register
from .checkpoint import learner_from_bytes, learner_to_bytes, load_checkpoint, read_checkpoint, save_checkpoint, verify_checkpoint
from .compare import AlgoResult, CompareConfig, Comparison
from .episodes import Episode, EpisodeSampler
from .errors import CheckpointError, CompareError, ConfigError, FewShotError, ImageError, SourceError, TrainingDiverged
from .evaluation import EvalResult, evaluate
from .explain import explain, explain_files, explain_images, pca_2d
from .explanation import PART_KINDS, Bars, Curves, Explanation, Images, Matrix, Part, Points, SupportWeights, Text
from .inference import Predictions, predict, predict_files, probabilities
from .inputspec import InputSpec, prepare_image
from .sources import BUILTIN_SPLITS, SOURCE_KINDS, ClassSource, builtin, builtin_split, hold_out_validation, image_folder, in_memory, omniglot, open_source, prepare_images
from .stats import Pairwise, mean_ci95, pairwise
from .trainer import CancelToken, Progress, TrainConfig, Trainer, auto_device

__all__ = [
    "ALGORITHMS", "FAMILIES", "Classifier", "MetaLearner", "StepMetrics", "create", "get_algorithm", "hparam_fields",
    "hparams_from_dict", "register", "load_checkpoint", "read_checkpoint", "save_checkpoint", "verify_checkpoint", "Episode", "EpisodeSampler",
    "CheckpointError", "ConfigError", "FewShotError", "ImageError", "SourceError", "TrainingDiverged", "EvalResult", "evaluate", "mean_ci95",
    "InputSpec", "prepare_image", "ClassSource", "builtin", "image_folder", "in_memory", "omniglot", "prepare_images",
    "CancelToken", "Progress", "TrainConfig", "Trainer", "auto_device",
    "AlgoResult", "CompareConfig", "CompareError", "Comparison", "Pairwise", "learner_from_bytes", "learner_to_bytes", "pairwise",
    "BUILTIN_SPLITS", "SOURCE_KINDS", "builtin_split", "hold_out_validation", "open_source",
    "Predictions", "predict", "predict_files", "probabilities",
    "explain", "explain_files", "explain_images", "pca_2d", "PART_KINDS", "Bars", "Curves", "Explanation", "Images", "Matrix", "Part", "Points",
    "SupportWeights", "Text",
]
