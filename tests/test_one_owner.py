"""Facts with one owner in core, checked where the CLI, the app and the tests meet (this file may import
the app, so it lives outside tests/core, which never imports Qt)."""
from __future__ import annotations

import io
import re

import numpy as np
import pytest
from PIL import Image

import core
from core.tools.cli_support import make_source
from tests.conftest import builtin_train_test
from tests.core.test_catalogue import class_ids
from tests.core.test_predict import images


def test_cli_app_and_test_fixtures_use_the_catalogues_builtin_splits(blank_generator):
    from app.engine.sources import build_sources, compare_sources

    cli = {split: class_ids(make_source("builtin", None, split)) for split in ("train", "val", "test")}
    studio_train, studio_val = build_sources({"kind": "builtin"}, 5)
    _, compare_val, compare_test = compare_sources({"kind": "builtin"}, 5)
    fixture_train, fixture_test = builtin_train_test(24, 12, n_instances=2)  # what tests/conftest and test_compare use
    used = {
        "train": [cli["train"], class_ids(studio_train), class_ids(fixture_train)],
        "val": [cli["val"], class_ids(studio_val), class_ids(compare_val)],
        "test": [cli["test"], class_ids(compare_test), class_ids(fixture_test)],
    }
    for split, id_lists in used.items():
        ids = core.BUILTIN_SPLITS[split]
        assert cli[split] == list(ids), f"the CLI takes the whole {split} split"
        for got in id_lists:
            # the same split starts at the same class everywhere; a smaller one is a prefix of it
            assert got == list(ids)[:len(got)] and got, (split, got[:3], got[-1:], ids)
    ranges = sorted(core.BUILTIN_SPLITS.values(), key=lambda r: r.start)
    assert all(a.stop <= b.start for a, b in zip(ranges, ranges[1:])), "the splits never share a class"


def test_the_app_and_compare_classify_through_core_predict(transductive_maml, glyphs, tmp_path):
    """The app's worker (from a checkpoint file) and a Comparison's "My queries" give core.predict's numbers."""
    from app.engine import jobs

    support, labels = images(glyphs, [0, 4, 8, 12], 1)
    queries, _ = images(glyphs, [0, 4, 8, 12], 2)
    expected = core.predict(transductive_maml, support, labels, queries).tolist()
    path = core.save_checkpoint(tmp_path / "maml.pt", transductive_maml)
    got = jobs.classify(str(path), "cpu", [(y, png(x)) for x, y in zip(support, labels)], [png(q) for q in queries])
    jobs.forget_model()
    assert np.allclose(got["probs"], expected, atol=1e-6)
    comp = core.Comparison(core.CompareConfig(algorithms=["maml"], n_way=4, k_shot=1, q_query=1, device="cpu"))
    comp.learners["maml"] = transductive_maml
    assert np.allclose(comp.classify_images(support, labels, queries)["maml"], expected, atol=1e-6)


def png(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, format="PNG")
    return buf.getvalue()


DEFAULT_LITERAL = re.compile(r"""(?:\b(?:n_way|k_shot|q_query)\b["']?|["'](?:way|shot|query)["']|\b(?:way|shot|query)(?==))\s*(?::\s*int\s*)?[=:]\s*["']?[1-9]""")
DEFAULT_ARGUMENT = re.compile(r"""--(?:way|shot|query|eval-ways|eval-shots)["'][^)]*default\s*=\s*["']?[1-9]""")


def default_task_literals(text: str) -> list[str]:
    """Lines that give a way, shot or query count as a number of their own (`n_way: int = 5`,
    `"q_query": 15`, `--way … default=5`) instead of reading core.DEFAULT_TASK."""
    return [line.strip() for line in text.splitlines() if DEFAULT_LITERAL.search(line) or DEFAULT_ARGUMENT.search(line)]


def test_the_default_task_has_one_owner_in_core():
    from pathlib import Path

    root = Path(core.__file__).parent
    found = {str(p.relative_to(root)): default_task_literals(p.read_text(encoding="utf-8")) for p in root.rglob("*.py") if p.name != "tasks.py"}
    assert {f: lines for f, lines in found.items() if lines} == {}
    assert default_task_literals((root / "tasks.py").read_text(encoding="utf-8")) == ["DEFAULT_TASK = TaskShape(n_way=5, k_shot=1, q_query=15)"]
    assert core.DEFAULT_TASK == core.TaskShape(5, 1, 15) and core.TrainConfig().n_way == core.DEFAULT_TASK.n_way


@pytest.mark.parametrize("line", ["    n_way: int = 5", 'DEFAULT = {"n_way": 5, "k_shot": 1}', "def evaluate(learner, q_query=15):",
                                  'p.add_argument("--way", type=int, default=5)', 't.add_argument("--eval-ways", default="5")'])
def test_the_default_task_check_sees_a_number_of_its_own(line):
    assert default_task_literals(line) == [line.strip()]
