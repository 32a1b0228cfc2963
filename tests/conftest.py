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


@pytest.fixture
def blank_generator(monkeypatch, tmp_path):
    """The built-in source with blank drawings and a private cache: what it draws does not matter
    here, which class ids it is asked for does (drawing the CLI's 3,000 training classes takes ~30 s)."""
    import torch

    from core.sources import builtin_strokes

    def blank(seed, class_ids, n_instances=20, size=28):
        return torch.zeros(len(class_ids), n_instances, size, size, dtype=torch.uint8)

    monkeypatch.setenv("FEWSHOT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(builtin_strokes, "generate_characters", blank)


@pytest.fixture(scope="module")
def glyphs():
    """Four characters of the built-in test split, four drawings each."""
    import core

    return core.builtin_split("test", 4, n_instances=4)


@pytest.fixture(scope="module")
def transductive_maml():
    """A MAML learner with transductive BatchNorm: a query's batch mates change its prediction."""
    import torch

    import core

    torch.manual_seed(0)
    return core.create("maml", {"hidden": 8, "inner_steps_test": 1}, n_way=4)
