"""The job thread's one cache of loaded models (app.engine.jobs.cached_learner), without a window:
classification, explanations and the Episodes view all load a model through it."""
import os

import core
from app.engine import jobs


def _save(path, seed):
    import torch

    torch.manual_seed(seed)  # each seed its own weights
    core.save_checkpoint(path, core.create("protonet", {"hidden": 4}, core.InputSpec(size=(16, 16))))


def test_a_model_is_loaded_once_reloaded_when_its_file_changes_and_dropped_when_forgotten(tmp_path):
    path = str(tmp_path / "m.pt")
    _save(path, 0)
    jobs.forget_model()
    first = jobs.cached_learner(path, "cpu")
    assert jobs.cached_learner(path, "cpu") is first  # loaded once
    _save(path, 1)  # a run writes its checkpoint again at the same path
    os.utime(path, ns=(0, os.stat(path).st_mtime_ns + 1))  # a clock too coarse to see the rewrite must not hide it
    again = jobs.cached_learner(path, "cpu")
    assert again is not first
    assert any(not a.equal(b) for a, b in zip(first.state_dict().values(), again.state_dict().values()))
    jobs.forget_model(path)
    assert jobs.cached_learner(path, "cpu") is not again  # forgotten: loaded afresh
    jobs.forget_model()
