"""Test-wide setup: offscreen Qt before any QApplication, a private cache folder, data fixtures."""
import os
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Tests never touch the user's cache: decoded sources go to one temporary folder per session.
os.environ["FEWSHOT_CACHE_DIR"] = tempfile.mkdtemp(prefix="fewshot-test-cache-")

import pytest  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
OMNIGLOT = REPO.parent / "shared" / "data" / "omniglot"


@pytest.fixture(scope="session")
def omniglot_root() -> Path:
    if not (OMNIGLOT / "omniglot-py").is_dir():
        pytest.skip("real Omniglot not found at ../shared/data/omniglot")
    return OMNIGLOT


@pytest.fixture(scope="session")
def small_real_sources():
    """(train, test) sources of real data for learning tests: Omniglot's Vinyals train/test splits
    when ../shared has it, otherwise the built-in generator's train and test splits (the catalogue's)."""
    import core

    if (OMNIGLOT / "omniglot-py").is_dir():
        return core.omniglot(OMNIGLOT, "train"), core.omniglot(OMNIGLOT, "test")
    return builtin_train_test(400, 100)


def builtin_train_test(n_train: int, n_test: int, n_instances: int = 20):
    """The first classes of the built-in generator's train and test splits, from the source catalogue
    (as the CLI and the app take them), so no test measures on characters of another split."""
    import core

    return (core.builtin_split("train", n_train, n_instances=n_instances),
            core.builtin_split("test", n_test, n_instances=n_instances))
