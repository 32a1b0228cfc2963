"""The algorithm registry. Importing this package registers every algorithm file below."""
from .base import ALGORITHMS, FAMILIES, Classifier, MetaLearner, StepMetrics, create, get_algorithm, hp, hparam_fields, hparams_from_dict, parse_hparams, register
from . import protonet, maml, reptile, siamese, matching, relation  # noqa: F401  (registration side effect)
from . import lstm_meta  # noqa: F401  (registration side effect)
from . import mann  # noqa: F401  (registration side effect)
from . import metanet  # noqa: F401  (registration side effect)

__all__ = ["ALGORITHMS", "FAMILIES", "Classifier", "MetaLearner", "StepMetrics", "create", "get_algorithm", "hp", "hparam_fields", "hparams_from_dict", "parse_hparams", "register"]
