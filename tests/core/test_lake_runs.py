"""Lake et al.'s one-shot runs: reading the official layout (zip or folder), scoring each test image
on its own, and clear errors for a missing or malformed runs file. The runs here are made by the
tests (a few classes of random strokes), in the official layout."""
import io
import re
import zipfile

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

import core
from core.tools.cli import main
from core.errors import SourceError
from core.lake_runs import evaluate_lake_runs, read_lake_runs, wilson_interval


def _drawing(seed: int) -> bytes:
    """A 105×105 black-on-white scribble, different for every seed (Omniglot's look)."""
    rng = np.random.default_rng(seed)
    img = Image.new("L", (105, 105), 255)
    ImageDraw.Draw(img).line([tuple(p) for p in rng.integers(10, 95, size=(5, 2)).tolist()], fill=0, width=4)
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def make_runs(n_runs: int = 2, n_classes: int = 3, answers=None) -> dict[str, bytes]:
    """{path in the archive: bytes} of runs in the official layout. Test image j of a run is an exact
    copy of the training image its `class_labels.txt` names (answers[j], default class j), so a model
    that finds the identical image gets every one right."""
    files = {}
    for r in range(1, n_runs + 1):
        run = f"run{r:02d}"
        train = [_drawing(100 * r + c) for c in range(n_classes)]
        for c, blob in enumerate(train):
            files[f"{run}/training/class{c + 1:02d}.png"] = blob
        lines = []
        for j, a in enumerate(answers or range(n_classes)):
            files[f"{run}/test/item{j + 1:02d}.png"] = train[a]
            lines.append(f"{run}/test/item{j + 1:02d}.png {run}/training/class{a + 1:02d}.png")
        files[f"{run}/class_labels.txt"] = ("\n".join(lines) + "\n").encode()
    return files


def write_zip(path, files: dict[str, bytes]):
    with zipfile.ZipFile(path, "w") as z:
        for name, blob in files.items():
            z.writestr(name, blob)
    return path


def write_folder(root, files: dict[str, bytes]):
    for name, blob in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(blob)
    return root


def untrained_protonet():
    torch.manual_seed(0)
    return core.create("protonet", {"hidden": 8}, core.InputSpec(size=(28, 28))).eval()


def test_zip_and_folder_read_the_same_runs_in_name_order(tmp_path):
    files = make_runs(n_runs=2, n_classes=3, answers=[2, 0, 1])
    from_zip = read_lake_runs(write_zip(tmp_path / "all_runs.zip", files))
    from_folder = read_lake_runs(write_folder(tmp_path / "unpacked", files))
    assert [r.name for r in from_zip] == ["run01", "run02"]
    assert from_zip == from_folder
    run = from_zip[0]
    assert run.training_names == tuple(f"run01/training/class{c:02d}.png" for c in (1, 2, 3))
    assert run.answers == (2, 0, 1)
    assert run.test[0] == run.training[2]  # item01 is class03's drawing, as the labels say


def test_the_official_zip_has_twenty_runs_of_twenty(omniglot_root):
    runs = read_lake_runs(omniglot_root / "official" / "all_runs.zip")
    assert len(runs) == 20 and all(len(r.training) == 20 and len(r.test) == 20 for r in runs)
    assert all(sorted(r.answers) == list(range(20)) for r in runs)  # one test image per character


def test_a_model_that_finds_the_identical_image_scores_all_and_wrong_labels_score_none(tmp_path):
    learner = untrained_protonet()
    right = evaluate_lake_runs(learner, read_lake_runs(write_zip(tmp_path / "a.zip", make_runs(2, 4))))
    assert (right.correct, right.total) == (8, 8)
    assert right.headline().startswith("Lake's 2 runs: 100.00% (8 / 8)")
    # the same test images, but the labels now name another class: every one is answered "wrong"
    files = make_runs(2, 4)
    for r in ("run01", "run02"):
        lines = files[f"{r}/class_labels.txt"].decode().split("\n")[:-1]
        shifted = [f"{q} {lines[(j + 1) % 4].split()[1]}" for j, (q, _) in enumerate(line.split() for line in lines)]
        files[f"{r}/class_labels.txt"] = "\n".join(shifted).encode()
    wrong = evaluate_lake_runs(learner, read_lake_runs(write_zip(tmp_path / "b.zip", files)))
    assert wrong.correct == 0 and all(len(s.wrong) == 4 for s in wrong.runs)


def test_each_test_image_is_classified_on_its_own(tmp_path):
    """A transductive learner (BatchNorm on the batch's statistics) answers a query differently with
    other queries beside it; scored on its own, every test image gets the answer it gets alone."""
    torch.manual_seed(0)
    learner = core.create("protonet", {"hidden": 8, "bn_mode": "transductive"}, core.InputSpec(size=(28, 28)))
    files = make_runs(1, 10)
    for j in range(10):  # test images other than the training ones: the answers are not all obvious
        files[f"run01/test/item{j + 1:02d}.png"] = _drawing(1000 + j)
    lines = files["run01/class_labels.txt"].decode().split()
    pairs = list(zip(lines[::2], lines[1::2]))
    # (classified as one batch instead, 4 of these 20 test images get another answer: measured)
    for j in range(10, 20):
        pairs.append((f"run01/test/item{j + 1:02d}.png", pairs[j - 10][1]))
        files[pairs[-1][0]] = _drawing(1000 + j)
    files["run01/class_labels.txt"] = "\n".join(f"{q} {t}" for q, t in pairs).encode()
    together = evaluate_lake_runs(learner, read_lake_runs(write_zip(tmp_path / "all.zip", files)))
    alone = []
    for j, (q, t) in enumerate(pairs):
        single = {k: v for k, v in files.items() if "/test/" not in k or k == q}
        single["run01/class_labels.txt"] = f"{q} {t}".encode()
        alone += evaluate_lake_runs(learner, read_lake_runs(write_zip(tmp_path / f"{j}.zip", single))).runs[0].wrong
    assert together.runs[0].wrong == alone


@pytest.mark.parametrize("damage, message", [
    (lambda p, f: p / "missing.zip", "no such file or folder"),
    (lambda p, f: (p / "x.zip").write_bytes(b"not a zip") and p / "x.zip", "not a zip file or a folder"),
    (lambda p, f: write_zip(p / "x.zip", {"readme.txt": b"hello"}), "no runNN/class_labels.txt"),
    (lambda p, f: write_zip(p / "x.zip", {**f, "run01/class_labels.txt": b"run01/test/item01.png\n"}), "line 1: expected"),
    (lambda p, f: write_zip(p / "x.zip", {k: v for k, v in f.items() if k != "run01/training/class02.png"}),
     "names run01/training/class02.png, which is not in the runs"),
    (lambda p, f: write_zip(p / "x.zip", {**f, "run01/test/item01.png": b"\x89PNG broken"}), "run01/test/item01.png: "),
])
def test_a_missing_or_malformed_runs_file_is_one_clear_error(tmp_path, damage, message):
    path = damage(tmp_path, make_runs(1, 3))
    with pytest.raises(SourceError, match=message.replace(".", r"\.")):
        evaluate_lake_runs(untrained_protonet(), read_lake_runs(path))


def test_wilson_interval_stays_in_bounds_and_contains_the_proportion():
    assert wilson_interval(400, 400)[1] == 1.0 and wilson_interval(400, 400)[0] < 1.0
    lo, hi = wilson_interval(383, 400)
    assert lo < 383 / 400 < hi and 0.92 < lo and hi < 0.98


def test_cli_eval_lake_runs_prints_each_run_and_the_total(tmp_path, capsys):
    ckpt = core.save_checkpoint(tmp_path / "m.pt", untrained_protonet(), {"source": "Omniglot background ×4 rotations"})
    assert main(["eval", str(ckpt), "--lake-runs", str(write_zip(tmp_path / "runs.zip", make_runs(2, 3)))]) == 0
    out = capsys.readouterr().out
    assert re.search(r"run01 +3 / 3 +error +0\.0%", out) and "run02" in out
    assert "Lake's 2 runs: 100.00% (6 / 6)" in out and "note:" not in out
    # a model trained on more than the background alphabets is flagged
    other = core.save_checkpoint(tmp_path / "o.pt", untrained_protonet(), {"source": "Omniglot train ×4 rotations"})
    assert main(["eval", str(other), "--lake-runs", str(tmp_path / "runs.zip")]) == 0
    assert "not on the background alphabets alone" in capsys.readouterr().out
    assert main(["eval", str(ckpt), "--lake-runs", str(tmp_path / "nothing.zip")]) == 2
    assert "nothing.zip: no such file or folder" in capsys.readouterr().err
