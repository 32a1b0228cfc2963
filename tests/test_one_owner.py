"""Facts with one owner in core, checked where the CLI, the app and the tests meet (this file may import
the app, so it lives outside tests/core, which never imports Qt)."""
from __future__ import annotations

import io

import numpy as np
from PIL import Image

import core
from core.tools.cli_support import make_source
from tests.conftest import builtin_train_test
from tests.core.test_catalogue import class_ids
from tests.core.test_predict import images


def test_cli_app_and_test_fixtures_use_the_catalogues_builtin_splits(blank_generator):
    from app.workers import build_sources, compare_sources

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
    from app import jobs

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
