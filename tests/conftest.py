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
    when ../shared has it, otherwise disjoint class ranges of the built-in generator."""
    import core

    if (OMNIGLOT / "omniglot-py").is_dir():
        return core.omniglot(OMNIGLOT, "train"), core.omniglot(OMNIGLOT, "test")
    return core.builtin(n_classes=400, first_class=0), core.builtin(n_classes=100, first_class=10_000)
