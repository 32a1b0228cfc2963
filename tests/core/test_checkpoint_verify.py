"""core.verify_checkpoint: the check every model read from disk or a project file passes before use."""
from __future__ import annotations

import io
import os

import pytest
import torch

import core
from core.checkpoint import FORMAT_VERSION, checkpoint_dict


@pytest.fixture(scope="module")
def good_bytes() -> bytes:
    learner = core.create("protonet", {"hidden": 8}, core.InputSpec(), 3)
    buf = io.BytesIO()
    torch.save(checkpoint_dict(learner), buf)
    return buf.getvalue()


def _saved(obj) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def test_a_good_checkpoint_passes_as_bytes_and_as_a_path(good_bytes, tmp_path):
    assert core.verify_checkpoint(good_bytes) == {"algorithm": "protonet", "n_way": 3, "format_version": FORMAT_VERSION}
    path = tmp_path / "m.pt"
    path.write_bytes(good_bytes)
    assert core.verify_checkpoint(path)["algorithm"] == "protonet"
    assert core.verify_checkpoint(str(path))["n_way"] == 3


class _RunsCode:
    def __reduce__(self):
        return (os.makedirs, (os.environ["FSS_PWNED_DIR"],))


def _with(good: bytes, **changes) -> bytes:
    data = torch.load(io.BytesIO(good), weights_only=True)
    data.update(changes)
    return _saved(data)


def _bad_cases(good_bytes: bytes) -> dict[str, tuple[bytes, str]]:
    return {
        "random bytes": (os.urandom(4096), "not a Few-Shot Studio checkpoint"),
        "random bytes after a zip signature": (b"PK\x03\x04" + os.urandom(4096), "truncated or damaged checkpoint"),
        "truncated": (good_bytes[: len(good_bytes) // 2], "truncated or damaged checkpoint"),
        "empty": (b"", "empty"),
        "a torch file of someone else's": (_saved({"state_dict": {"w": torch.zeros(2)}}), "not a Few-Shot Studio checkpoint"),
        "a pickle that runs code": (_saved({"format": "fewshot-studio-checkpoint", "x": _RunsCode()}), "truncated or damaged checkpoint"),
        "newer format": (_with(good_bytes, format_version=FORMAT_VERSION + 1), "newer Few-Shot Studio"),
        "unknown algorithm": (_with(good_bytes, algorithm="nope"), "nope"),
        "no weights": (_with(good_bytes, model={}), "no weights"),
        "weights that are not tensors": (_with(good_bytes, model={"w": [1.0, 2.0]}), "no weights"),
        "no input spec": (_with(good_bytes, input_spec=None), "no hyperparameters or input spec"),
        "bad N": (_with(good_bytes, n_way="many"), "N = "),
    }


def test_damaged_foreign_and_unusable_checkpoints_are_refused_with_a_short_reason(good_bytes, tmp_path, monkeypatch):
    pwned = tmp_path / "pwned"
    monkeypatch.setenv("FSS_PWNED_DIR", str(pwned))
    for what, (data, words) in _bad_cases(good_bytes).items():
        with pytest.raises(core.CheckpointError) as e:
            core.verify_checkpoint(data)
        message = str(e.value)
        assert words in message, what
        # One short line: never the unpickler's raw multi-line text ("Weights only load failed...").
        assert "\n" not in message and len(message) < 120 and "Weights only" not in message, (what, message)
    assert not pwned.exists()  # the code inside the pickle never ran


def test_a_model_read_from_bytes_passes_the_same_checks_and_names_itself(good_bytes, tmp_path, monkeypatch):
    # learner_from_bytes (a project's compared models) uses verify_checkpoint's own checks: one format check.
    monkeypatch.setenv("FSS_PWNED_DIR", str(tmp_path / "pwned"))
    learner = core.learner_from_bytes(good_bytes)
    assert learner.name == "protonet" and learner.n_way == 3
    assert core.verify_checkpoint(core.learner_to_bytes(learner))["n_way"] == 3
    for what, (data, words) in _bad_cases(good_bytes).items():
        with pytest.raises(core.CheckpointError) as e:
            core.learner_from_bytes(data, prefix="compared model matching: ")
        message = str(e.value)
        assert message.startswith("compared model matching: ") and words in message, (what, message)
        assert "\n" not in message and "Weights only" not in message, (what, message)
    assert not (tmp_path / "pwned").exists()


def test_a_path_names_itself_in_the_reason(good_bytes, tmp_path):
    bad = tmp_path / "cut.pt"
    bad.write_bytes(good_bytes[:100])
    for path, words in ((bad, "truncated or damaged checkpoint"), (tmp_path / "missing.pt", "no such checkpoint file")):
        with pytest.raises(core.CheckpointError, match=words) as e:
            core.verify_checkpoint(path)
        assert str(e.value).startswith(f"{path}: ")
    # read_checkpoint (the full read) keeps the loader's own complaint for a tooltip or a log.
    with pytest.raises(core.CheckpointError, match=r"truncated or damaged checkpoint \(") :
        core.read_checkpoint(bad)
