"""Class sources: everything that maps class -> images, as one cached uint8 tensor."""
from .base import ClassSource, cache_dir
from .builtin import builtin
from .catalogue import BUILTIN_SPLITS, SOURCE_KINDS, builtin_split, hold_out_validation, open_source
from .folder import image_folder
from .memory import in_memory, prepare_images
from .omniglot import find_omniglot_root, omniglot

__all__ = ["ClassSource", "cache_dir", "builtin", "image_folder", "in_memory", "prepare_images", "omniglot", "find_omniglot_root",
           "BUILTIN_SPLITS", "SOURCE_KINDS", "builtin_split", "hold_out_validation", "open_source"]
